import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as errors from '../src/errors.js';
import { OrtserveError } from '../src/errors.js';

type Coded = (new (...args: unknown[]) => OrtserveError) & { code: string; statusCode: number };

const coded = Object.entries(errors).filter(([name]) => name.startsWith('ERR_')) as [string, Coded][];

// The statuses the HTTP layer promises; an error added later is still checked by the generic tests below.
const expectedStatus: Record<string, number> = {
  ERR_BAD_REQUEST: 400,
  ERR_INVALID_TENSOR: 400,
  ERR_MODEL_NOT_FOUND: 404,
  ERR_VERSION_NOT_FOUND: 404,
  ERR_MODEL_NOT_READY: 503,
  ERR_UNAUTHORIZED: 401,
  ERR_FORBIDDEN: 403,
  ERR_QUEUE_FULL: 503,
  ERR_DEADLINE_EXCEEDED: 504,
  ERR_INFERENCE_FAILED: 500,
  ERR_SHUTTING_DOWN: 503,
  ERR_NOT_READY: 503,
  ERR_RATE_LIMITED: 429,
  ERR_BODY_TOO_LARGE: 413,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_ROUTE_NOT_FOUND: 404,
};

describe('coded errors', () => {
  it('exports at least the errors the HTTP layer relies on', () => {
    const names = new Set(coded.map(([name]) => name));
    for (const name of Object.keys(expectedStatus)) assert.ok(names.has(name), `${name} is missing`);
  });

  for (const [exportName, cls] of coded) {
    describe(exportName, () => {
      it('is a class whose code and name equal its export name', () => {
        assert.equal(typeof cls, 'function');
        assert.equal(cls.code, exportName);
        assert.equal(cls.name, exportName);
      });

      it('makes instances that carry its code, name and HTTP status', () => {
        const err = new cls('m', '1', 'ready');
        assert.ok(err instanceof cls);
        assert.ok(err instanceof OrtserveError);
        assert.ok(err instanceof Error);
        assert.equal(err.code, exportName);
        assert.equal(err.name, exportName);
        assert.equal(err.statusCode, cls.statusCode);
        assert.ok(Number.isInteger(err.statusCode) && err.statusCode >= 400 && err.statusCode <= 599, `status ${err.statusCode}`);
        if (exportName in expectedStatus) assert.equal(err.statusCode, expectedStatus[exportName]);
        assert.equal(typeof err.message, 'string');
        assert.ok(err.message.length > 0);
        assert.ok(err.stack?.includes(exportName));
      });
    });
  }

  it('formats messages from their arguments', () => {
    assert.equal(new errors.ERR_MODEL_NOT_FOUND('digits').message, "model 'digits' not found");
    assert.equal(new errors.ERR_INVALID_TENSOR('x', 'wrong shape').message, "input 'x': wrong shape");
    assert.match(new errors.ERR_QUEUE_FULL('digits', '1', 7).message, /queue full \(7 requests waiting\)/);
    assert.match(new errors.ERR_MODEL_NOT_READY('digits', undefined, 'loading').message, /has no ready version \(loading\)/);
    assert.match(new errors.ERR_MODEL_NOT_READY('digits', '2', 'draining').message, /version '2' .* not ready \(draining\)/);
  });
});
