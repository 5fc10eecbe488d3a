// Rate limiting (@fastify/rate-limit): RATE_LIMIT_MAX requests per RATE_LIMIT_WINDOW ms per verified token `sub`,
// per client IP when the caller is not authenticated; 429 with Retry-After; health routes exempt; 0 disables.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { mintToken } from '../../src/http/token.js';
import { TEST_SECRET, auth, startServer, token, type Started } from '../helpers/server.js';

const MAX = 3;
const body = { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] };

function infer(app: FastifyInstance, headers: Record<string, string>, remoteAddress = '127.0.0.1') {
  return app.inject({ method: 'POST', url: '/v2/models/dtype_fp32/infer', headers, payload: body, remoteAddress });
}

describe(`rate limit of ${MAX} requests per minute`, () => {
  let s: Started;
  before(async () => {
    s = await startServer({ RATE_LIMIT_MAX: String(MAX), RATE_LIMIT_WINDOW: '60000', WARMUP: 'false' }, false);
  });
  after(() => s.close());

  it('answers 429 with Retry-After and an {"error"} body once a subject has used its requests', async () => {
    const h = auth('predict', 'alice');
    for (let i = 0; i < MAX; i++) assert.equal((await infer(s.app, h)).statusCode, 200, `request ${i + 1}`);
    const res = await infer(s.app, h);
    assert.equal(res.statusCode, 429, res.body);
    const retryAfter = Number(res.headers['retry-after']);
    assert.ok(Number.isFinite(retryAfter) && retryAfter > 0 && retryAfter <= 60, `Retry-After: ${res.headers['retry-after']}`);
    const json = res.json() as Record<string, unknown>;
    assert.deepEqual(Object.keys(json), ['error']);
    assert.equal(typeof json.error, 'string');
    assert.ok(!res.body.includes(h.authorization!.slice(7)), 'the body echoes the token');
  });

  it('keys the limit on the token subject: another subject still gets through, from the same address', async () => {
    const limited = auth('predict', 'bob');
    for (let i = 0; i < MAX; i++) await infer(s.app, limited);
    assert.equal((await infer(s.app, limited)).statusCode, 429);
    assert.equal((await infer(s.app, auth('predict', 'carol'))).statusCode, 200);
  });

  it('counts every token of one subject together (a fresh token does not reset the limit)', async () => {
    for (let i = 0; i < MAX; i++) assert.equal((await infer(s.app, auth('predict', 'dave'))).statusCode, 200);
    const fresh = mintToken({ secret: TEST_SECRET }, { sub: 'dave', scope: 'predict', expiresInSeconds: 900 });
    assert.equal((await infer(s.app, { authorization: `Bearer ${fresh}` })).statusCode, 429);
  });

  it('limits unauthenticated callers by client address, apart from authenticated subjects', async () => {
    const ip = '10.1.2.3';
    for (let i = 0; i < MAX; i++) assert.equal((await infer(s.app, {}, ip)).statusCode, 401, `request ${i + 1}`);
    const res = await infer(s.app, {}, ip);
    assert.equal(res.statusCode, 429);
    assert.ok(res.headers['retry-after'] !== undefined);
    assert.equal((await infer(s.app, {}, '10.1.2.4')).statusCode, 401, 'another address has its own budget');
    assert.equal((await infer(s.app, auth('predict', 'erin'), ip)).statusCode, 200, 'a valid token from the limited address');
  });

  it('does not charge a subject for requests made with a forged token naming it', async () => {
    const victim = auth('predict', 'frank');
    const forged = mintToken({ secret: 'not-the-server-secret-xxxxxxxx' }, { sub: 'frank', scope: 'predict', expiresInSeconds: 600 });
    for (let i = 0; i < MAX * 3; i++) await infer(s.app, { authorization: `Bearer ${forged}` }, '10.9.9.9');
    assert.equal((await infer(s.app, victim)).statusCode, 200);
  });

  it('does not limit the health routes', async () => {
    for (let i = 0; i < MAX * 4; i++) {
      for (const url of ['/v2/health/live', '/v2/health/ready']) {
        const res = await s.app.inject({ method: 'GET', url, remoteAddress: '10.7.7.7' });
        assert.equal(res.statusCode, 200, `${url} #${i + 1}`);
      }
    }
  });

  it('limits every protected route family, not only inference', async () => {
    const h = auth('predict', 'grace');
    for (let i = 0; i < MAX; i++) assert.equal((await s.app.inject({ method: 'GET', url: '/v2/models/dtype_fp32', headers: h })).statusCode, 200);
    assert.equal((await s.app.inject({ method: 'GET', url: '/v2/models/dtype_fp32/ready', headers: h })).statusCode, 429);
    assert.equal((await infer(s.app, h)).statusCode, 429);
  });
});

describe('rate limit window', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW: '400', WARMUP: 'false' }, false);
  });
  after(() => s.close());

  it('lets a subject through again once the window has passed', async () => {
    const h = auth('predict', 'heidi');
    await infer(s.app, h);
    await infer(s.app, h);
    assert.equal((await infer(s.app, h)).statusCode, 429);
    // Wait out the window (plus margin), then the budget is back; this waits, it asserts no duration.
    await new Promise((r) => setTimeout(r, 900));
    assert.equal((await infer(s.app, h)).statusCode, 200);
  });
});

describe('RATE_LIMIT_MAX=0', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ RATE_LIMIT_MAX: '0', WARMUP: 'false' }, false);
  });
  after(() => s.close());

  it('disables the limit: many more requests than any small max all pass', async () => {
    const t = token('predict', 'ivan');
    const results = await Promise.all(Array.from({ length: 50 }, () => infer(s.app, { authorization: `Bearer ${t}` })));
    assert.deepEqual([...new Set(results.map((r) => r.statusCode))], [200]);
    assert.equal(results[0]!.headers['x-ratelimit-limit'], undefined);
  });
});
