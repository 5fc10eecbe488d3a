// The admin API in process (app.inject): the V2 repository extension, GET /admin/models, uploads, DELETE of a
// version, the traffic table (validation, revisions, rollback), scopes, and the audit line of every action.
// Every server runs on its own temporary copy of models/ with polling off.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildServer } from '../../src/http/server.js';
import { removeRepo, tempRepo } from '../helpers/repo.js';
import { auth, BUNDLED_MODELS, FIXTURE_MODELS, startServer, testConfig, token, type Started } from '../helpers/server.js';

const ADMIN = auth('admin', 'alice');
const PREDICT = auth('predict', 'alice');
const OCTET = { 'content-type': 'application/octet-stream' };
const V1_BYTES = fs.readFileSync(path.join(BUNDLED_MODELS, 'breast_cancer/1/model.onnx'));
const V2_BYTES = fs.readFileSync(path.join(BUNDLED_MODELS, 'breast_cancer/2/model.onnx'));
const DIGITS_BYTES = fs.readFileSync(path.join(BUNDLED_MODELS, 'digits/1/model.onnx'));
const FP32_BYTES = fs.readFileSync(path.join(FIXTURE_MODELS, 'dtype_fp32/1/model.onnx'));
const ROW = new Array<number>(30).fill(1);

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function serve(dir: string, env: Record<string, string> = {}): Promise<Started> {
  return startServer({ MODEL_REPOSITORY: dir, REPOSITORY_POLL_INTERVAL_MS: '0', ...env }, false);
}

/** A server (for inject) on its own fresh copy of models/, with polling off. */
async function serveCopy(env: Record<string, string> = {}): Promise<{ dir: string; s: Started }> {
  const dir = tempRepo('ortserve-admin-');
  return { dir, s: await serve(dir, env) };
}

/** Closes a serveCopy server, then deletes its copy. */
async function stopCopy(s: Started, dir: string): Promise<void> {
  await s.close();
  removeRepo(dir);
}

interface Reply {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  headers: Record<string, unknown>;
}

async function call(app: FastifyInstance, method: 'GET' | 'PUT' | 'POST' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = ADMIN): Promise<Reply> {
  const res = await app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as string }) });
  let body: unknown = res.body;
  try {
    body = JSON.parse(res.body);
  } catch {
    // not JSON (metrics text)
  }
  return { status: res.statusCode, body, headers: res.headers };
}

const upload = (app: FastifyInstance, model: string, version: string, bytes: Uint8Array, headers: Record<string, string> = {}, query = '') =>
  call(app, 'PUT', `/admin/models/${model}/versions/${version}${query}`, Buffer.from(bytes), { ...ADMIN, ...OCTET, ...headers });

async function infer(app: FastifyInstance, model: string, version?: string): Promise<Reply> {
  const url = version ? `/v2/models/${model}/versions/${version}/infer` : `/v2/models/${model}/infer`;
  return call(app, 'POST', url, { inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: ROW }] }, PREDICT);
}

/** Entries under <repo>/<model>, temporary staging names left out (they are never loaded). */
function entries(dir: string, model: string): string[] {
  return fs
    .readdirSync(path.join(dir, model))
    .filter((n) => !n.startsWith('.tmp-'))
    .sort();
}

function assertError(res: Reply, status: number, message: string | RegExp): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.deepEqual(Object.keys(res.body as object), ['error']);
  if (typeof message === 'string') assert.equal(res.body.error, message);
  else assert.match(res.body.error as string, message);
}

describe('admin API: scopes', () => {
  let dir: string;
  let s: Started;
  before(async () => ({ dir, s } = await serveCopy()));
  after(() => stopCopy(s, dir));

  const routes: [method: 'GET' | 'PUT' | 'POST' | 'DELETE', url: string, payload: unknown, headers: Record<string, string>][] = [
    ['POST', '/v2/repository/index', undefined, {}],
    ['POST', '/v2/repository/models/breast_cancer/load', undefined, {}],
    ['POST', '/v2/repository/models/breast_cancer/unload', undefined, {}],
    ['GET', '/admin/models', undefined, {}],
    ['PUT', '/admin/models/breast_cancer/versions/3', V2_BYTES, OCTET],
    ['DELETE', '/admin/models/breast_cancer/versions/1', undefined, {}],
    ['GET', '/admin/models/breast_cancer/traffic', undefined, {}],
    ['PUT', '/admin/models/breast_cancer/traffic', { weights: { '1': 100 } }, {}],
    ['POST', '/admin/models/breast_cancer/traffic/rollback', undefined, {}],
  ];

  for (const [method, url, payload, headers] of routes) {
    it(`${method} ${url} answers 401 without a token and 403 with predict scopes only`, async () => {
      const none = await call(s.app, method, url, payload, headers);
      assertError(none, 401, 'missing bearer token: send Authorization: Bearer <JWT>');
      assert.equal(none.headers['www-authenticate'], 'Bearer');
      const predict = await call(s.app, method, url, payload, { ...headers, authorization: `Bearer ${token('predict predict:breast_cancer', 'mallory')}` });
      assertError(predict, 403, "token for 'mallory' lacks scope 'admin'");
    });
  }

  it('changed nothing for the refused callers', async () => {
    assert.deepEqual(entries(dir, 'breast_cancer'), ['1', '2', 'config.json']);
    const index = await call(s.app, 'POST', '/v2/repository/index');
    assert.deepEqual(
      index.body.map((e: { version: string; state: string }) => `${e.version}:${e.state}`),
      ['1:ready', '2:ready', '1:ready'],
    );
    assert.deepEqual((await call(s.app, 'GET', '/admin/models/breast_cancer/traffic')).body, { weights: null, shadow: null, revision: 0, default_version: '2' });
  });

  it('refuses inference to an admin-only token: admin does not imply predict', async () => {
    const res = await call(s.app, 'POST', '/v2/models/breast_cancer/infer', { inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: ROW }] }, auth('admin', 'ops'));
    assertError(res, 403, "token for 'ops' lacks scope 'predict' or 'predict:breast_cancer'");
    assert.equal((await infer(s.app, 'breast_cancer')).status, 200);
  });

  it('lets a token holding both scopes do both', async () => {
    const both = auth('admin predict', 'ops');
    assert.equal((await call(s.app, 'GET', '/admin/models', undefined, both)).status, 200);
    assert.equal((await call(s.app, 'POST', '/v2/models/breast_cancer/infer', { inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: ROW }] }, both)).status, 200);
  });
});

describe('admin API: traffic table', () => {
  let dir: string;
  let s: Started;
  before(async () => ({ dir, s } = await serveCopy()));
  after(() => stopCopy(s, dir));
  const get = () => call(s.app, 'GET', '/admin/models/breast_cancer/traffic');
  const put = (body: unknown, headers?: Record<string, string>) => call(s.app, 'PUT', '/admin/models/breast_cancer/traffic', body, headers);

  it('answers the default policy with no table: no weights, revision 0, the highest ready version', async () => {
    const res = await get();
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { weights: null, shadow: null, revision: 0, default_version: '2' });
  });

  it('puts a table in force and answers it with revision 1', async () => {
    const res = await put({ weights: { '1': 90, '2': 10 } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { weights: { '1': 90, '2': 10 }, shadow: null, revision: 1 });
    assert.deepEqual((await get()).body, res.body);
  });

  const refused: [what: string, body: unknown, status: number, message: string][] = [
    ['weights summing to 110', { weights: { '1': 90, '2': 20 } }, 409, 'traffic table refused, nothing changed: weights must sum to 100 (got 110)'],
    ['weights summing to 90', { weights: { '1': 90 } }, 409, 'traffic table refused, nothing changed: weights must sum to 100 (got 90)'],
    ['a fractional weight', { weights: { '1': 50.5, '2': 49.5 } }, 409, "traffic table refused, nothing changed: weights: '1' must be an integer from 0 to 100"],
    ['a negative weight', { weights: { '1': -10, '2': 110 } }, 409, "traffic table refused, nothing changed: weights: '1' must be an integer from 0 to 100"],
    ['no weights at all', { weights: {} }, 409, 'traffic table refused, nothing changed: weights must name at least one version'],
    ['a version that is not on disk', { weights: { '3': 100 } }, 409, "version '3' of model 'breast_cancer' is not ready (not loaded); the table is unchanged"],
    ['a version that is not a number', { weights: { latest: 100 } }, 409, "traffic table refused, nothing changed: weights: 'latest' is not a version (a positive integer as a string)"],
    ['a shadow that is not loaded', { weights: { '1': 100 }, shadow: { version: '7', fraction: 0.5 } }, 409, "version '7' of model 'breast_cancer' is not ready (not loaded); the table is unchanged"],
    ['a shadow fraction of 0', { weights: { '1': 100 }, shadow: { version: '2', fraction: 0 } }, 409, 'traffic table refused, nothing changed: shadow.fraction must be in (0, 1]'],
    ['a shadow fraction above 1', { weights: { '1': 100 }, shadow: { version: '2', fraction: 2 } }, 409, 'traffic table refused, nothing changed: shadow.fraction must be in (0, 1]'],
    ['a body that is an array', [{ '1': 100 }], 400, 'invalid traffic table: (root): Invalid input: expected object, received array'],
    ['a body that is a string', '"all to 2"', 400, 'invalid traffic table: (root): Invalid input: expected object, received string'],
    ['an unknown key', { weights: { '1': 100 }, weight: { '2': 100 } }, 400, 'invalid traffic table: (root): Unrecognized key: "weight"'],
    ['an unknown key in the shadow', { weights: { '1': 100 }, shadow: { version: '2', fraction: 1, tolerance: 0 } }, 400, 'invalid traffic table: shadow: Unrecognized key: "tolerance"'],
    ['a weight that is a string', { weights: { '1': '100' } }, 400, 'invalid traffic table: weights.1: Invalid input: expected number, received string'],
    ['no weights key', { shadow: null }, 400, 'invalid traffic table: weights: Invalid input: expected record, received undefined'],
    ['a revision that is not an integer', { weights: { '1': 100 }, revision: 'latest' }, 400, 'invalid traffic table: revision: Invalid input: expected number, received string'],
  ];
  for (const [what, body, status, message] of refused) {
    it(`refuses ${what} with ${status} and leaves the table and its revision unchanged`, async () => {
      const before = (await get()).body;
      const res = await put(body, { ...ADMIN, 'content-type': 'application/json' });
      assertError(res, status, message);
      assert.deepEqual((await get()).body, before);
    });
  }

  it('applies a table that names the revision it replaces, and refuses a stale revision with 409', async () => {
    const current = (await get()).body as { revision: number };
    const ok = await put({ weights: { '2': 100 }, revision: current.revision });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body, { weights: { '2': 100 }, shadow: null, revision: current.revision + 1 });
    const stale = await put({ weights: { '1': 100 }, revision: current.revision });
    assertError(stale, 409, `stale revision: the table is at revision ${current.revision + 1}, not ${current.revision}; GET it and try again`);
    const future = await put({ weights: { '1': 100 }, revision: current.revision + 5 });
    assertError(future, 409, `stale revision: the table is at revision ${current.revision + 1}, not ${current.revision + 5}; GET it and try again`);
    assert.deepEqual((await get()).body, ok.body);
  });

  it('applies a table without a revision unconditionally, and every change raises the revision by one', async () => {
    const start = ((await get()).body as { revision: number }).revision;
    for (let i = 1; i <= 3; i++) {
      const res = await put({ weights: { '1': 100 - i, '2': i } });
      assert.equal(res.status, 200);
      assert.equal(res.body.revision, start + i);
    }
  });

  it('keeps a shadow and answers it, with an explicit null shadow meaning none', async () => {
    const withShadow = await put({ weights: { '1': 100 }, shadow: { version: '2', fraction: 0.25 } });
    assert.equal(withShadow.status, 200);
    assert.deepEqual(withShadow.body.shadow, { version: '2', fraction: 0.25 });
    assert.deepEqual((await get()).body.shadow, { version: '2', fraction: 0.25 });
    const without = await put({ weights: { '1': 100 }, shadow: null });
    assert.deepEqual(without.body.shadow, null);
  });

  it('answers 404 for the traffic of a model that does not exist', async () => {
    assertError(await call(s.app, 'GET', '/admin/models/nope/traffic'), 404, "model 'nope' not found");
    assertError(await call(s.app, 'PUT', '/admin/models/nope/traffic', { weights: { '1': 100 } }), 404, "model 'nope' not found");
    assertError(await call(s.app, 'POST', '/admin/models/nope/traffic/rollback'), 404, "model 'nope' not found");
  });

  it('shows the table of each model in GET /admin/models', async () => {
    const res = await call(s.app, 'GET', '/admin/models');
    assert.equal(res.status, 200);
    const byName = new Map<string, { traffic: unknown }>(res.body.models.map((m: { name: string }) => [m.name, m]));
    assert.deepEqual(byName.get('breast_cancer')!.traffic, (await get()).body);
    assert.deepEqual(byName.get('digits')!.traffic, { weights: null, shadow: null, revision: 0, default_version: '1' });
  });
});

describe('admin API: rollback', () => {
  let dir: string;
  let s: Started;
  before(async () => ({ dir, s } = await serveCopy()));
  after(() => stopCopy(s, dir));
  const put = (weights: Record<string, number>) => call(s.app, 'PUT', '/admin/models/breast_cancer/traffic', { weights });
  const rollback = () => call(s.app, 'POST', '/admin/models/breast_cancer/traffic/rollback');

  it('answers 409 when there is no earlier table', async () => {
    assertError(await rollback(), 409, "model 'breast_cancer' has no earlier traffic table to roll back to");
  });

  it('walks back through the earlier tables to the default policy, the revision rising each time', async () => {
    assert.equal((await put({ '1': 100 })).body.revision, 1);
    assert.equal((await put({ '1': 50, '2': 50 })).body.revision, 2);
    assert.equal((await put({ '2': 100 })).body.revision, 3);
    const first = await rollback();
    assert.equal(first.status, 200);
    assert.deepEqual(first.body, { weights: { '1': 50, '2': 50 }, shadow: null, revision: 4 });
    assert.deepEqual((await rollback()).body, { weights: { '1': 100 }, shadow: null, revision: 5 });
    assert.deepEqual((await rollback()).body, { weights: null, shadow: null, revision: 6, default_version: '2' });
    assertError(await rollback(), 409, "model 'breast_cancer' has no earlier traffic table to roll back to");
    assert.deepEqual((await call(s.app, 'GET', '/admin/models/breast_cancer/traffic')).body, { weights: null, shadow: null, revision: 6, default_version: '2' });
  });

  it('routes unversioned requests by the table it rolled back to', async () => {
    await put({ '1': 100 });
    await put({ '2': 100 });
    assert.equal((await infer(s.app, 'breast_cancer')).body.model_version, '2');
    await rollback();
    for (let i = 0; i < 10; i++) assert.equal((await infer(s.app, 'breast_cancer')).body.model_version, '1');
  });

  it('keeps the 10 most recent tables: ten rollbacks succeed, the eleventh answers 409', async () => {
    // Drain what earlier tests left.
    while ((await rollback()).status === 200);
    for (let i = 1; i <= 12; i++) assert.equal((await put({ '1': 100 - i, '2': i })).status, 200);
    const state = JSON.parse(fs.readFileSync(path.join(dir, '.ortserve/breast_cancer.json'), 'utf8')) as { history: unknown[] };
    assert.equal(state.history.length, 10);
    for (let i = 11; i >= 2; i--) {
      const res = await rollback();
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.weights, { '1': 100 - i, '2': i });
    }
    assertError(await rollback(), 409, "model 'breast_cancer' has no earlier traffic table to roll back to");
    assert.deepEqual((await call(s.app, 'GET', '/admin/models/breast_cancer/traffic')).body.weights, { '1': 98, '2': 2 });
  });

  it('refuses to roll back to a table that names a version no longer ready, and changes nothing', async () => {
    await put({ '1': 100 });
    await put({ '2': 100 });
    assert.equal((await call(s.app, 'DELETE', '/admin/models/breast_cancer/versions/1')).status, 200);
    const before = (await call(s.app, 'GET', '/admin/models/breast_cancer/traffic')).body;
    assertError(await rollback(), 409, "version '1' of model 'breast_cancer' is not ready (unloaded); the table is unchanged");
    assert.deepEqual((await call(s.app, 'GET', '/admin/models/breast_cancer/traffic')).body, before);
  });
});

describe('admin API: uploads', () => {
  let dir: string;
  let s: Started;
  before(async () => ({ dir, s } = await serveCopy({ MAX_UPLOAD_BYTES: '200000' })));
  after(() => stopCopy(s, dir));

  it('writes, loads and warms up an upload, answers 201, and serves it on its versioned URL', async () => {
    const res = await upload(s.app, 'breast_cancer', '3', V1_BYTES, { 'x-content-sha256': sha256(V1_BYTES).toUpperCase() });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(res.body, { model: 'breast_cancer', version: '3', sha256: sha256(V1_BYTES), state: 'ready' });
    const file = path.join(dir, 'breast_cancer/3/model.onnx');
    assert.deepEqual(fs.readFileSync(file), V1_BYTES);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'breast_cancer')).sort(), ['1', '2', '3', 'config.json'], 'the staging folder was left behind');

    const three = await infer(s.app, 'breast_cancer', '3');
    assert.equal(three.status, 200);
    assert.equal(three.body.model_version, '3');
    assert.deepEqual(three.body.outputs, (await infer(s.app, 'breast_cancer', '1')).body.outputs);
    const meta = await call(s.app, 'GET', '/v2/models/breast_cancer/versions/3', undefined, PREDICT);
    assert.equal(meta.body.sha256, sha256(fs.readFileSync(file)));
    const listed = (await call(s.app, 'GET', '/admin/models')).body.models.find((m: { name: string }) => m.name === 'breast_cancer');
    const v3 = listed.versions.find((v: { version: string }) => v.version === '3');
    assert.equal(v3.state, 'ready');
    assert.equal(v3.sha256, sha256(V1_BYTES));
    assert.ok(!Number.isNaN(Date.parse(v3.load_time)));
  });

  it('routes unversioned requests to the upload under the default policy with no table', async () => {
    assert.equal((await infer(s.app, 'breast_cancer')).body.model_version, '3');
  });

  it('gives an upload no traffic while a table is set', async () => {
    assert.equal((await call(s.app, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '1': 50, '2': 50 } })).status, 200);
    assert.equal((await upload(s.app, 'breast_cancer', '4', V2_BYTES)).status, 201);
    for (let i = 0; i < 40; i++) assert.notEqual((await infer(s.app, 'breast_cancer')).body.model_version, '4');
    assert.equal((await infer(s.app, 'breast_cancer', '4')).body.model_version, '4');
  });

  const half = V2_BYTES.subarray(0, Math.floor(V2_BYTES.length / 2));
  const corrupt: [what: string, version: string, bytes: Uint8Array, headers: Record<string, string>, status: number, message: string | RegExp][] = [
    ['truncated bytes', '5', half, {}, 422, /^not a servable ONNX model: \S/],
    ['truncated bytes whose X-Content-Sha256 is the whole file', '5', half, { 'x-content-sha256': sha256(V2_BYTES) }, 400,
      `X-Content-Sha256 is ${sha256(V2_BYTES)} but the body's sha256 is ${sha256(half)}; the upload was corrupted or truncated`],
    ['random bytes', '5', randomBytes(4096), {}, 422, /^not a servable ONNX model: \S/],
    ['a wrong X-Content-Sha256', '5', V2_BYTES, { 'x-content-sha256': sha256(V1_BYTES) }, 400,
      `X-Content-Sha256 is ${sha256(V1_BYTES)} but the body's sha256 is ${sha256(V2_BYTES)}; the upload was corrupted or truncated`],
    ['inputs that differ from the live version', '5', DIGITS_BYTES, {}, 422,
      "the upload's inputs or outputs differ from live version '4': inputs: live input FP32 [-1,30] vs upload image FP32 [-1,1,8,8]; add ?force=true to accept it"],
    ['a version that exists', '2', V2_BYTES, {}, 409, "version '2' of model 'breast_cancer' already exists in the repository; versions are immutable, upload a new one"],
    ['a version that exists, even with other bytes', '1', V2_BYTES, {}, 409, "version '1' of model 'breast_cancer' already exists in the repository; versions are immutable, upload a new one"],
  ];
  for (const [what, version, bytes, headers, status, message] of corrupt) {
    it(`refuses ${what} with ${status}, leaving no new version and the traffic untouched`, async () => {
      const listing = entries(dir, 'breast_cancer');
      const traffic = (await call(s.app, 'GET', '/admin/models/breast_cancer/traffic')).body;
      const state = fs.readFileSync(path.join(dir, '.ortserve/breast_cancer.json'), 'utf8');
      const index = (await call(s.app, 'POST', '/v2/repository/index')).body;
      assertError(await upload(s.app, 'breast_cancer', version, bytes, headers), status, message);
      assert.deepEqual(entries(dir, 'breast_cancer'), listing);
      assert.deepEqual((await call(s.app, 'GET', '/admin/models/breast_cancer/traffic')).body, traffic);
      assert.equal(fs.readFileSync(path.join(dir, '.ortserve/breast_cancer.json'), 'utf8'), state);
      assert.deepEqual((await call(s.app, 'POST', '/v2/repository/index')).body, index);
      assert.deepEqual(fs.readFileSync(path.join(dir, 'breast_cancer/2/model.onnx')), V2_BYTES);
    });
  }

  it('accepts inputs that differ from the live version with ?force=true', async () => {
    assertError(await upload(s.app, 'breast_cancer', '5', DIGITS_BYTES, {}, '?force=false'), 422, /^the upload's inputs or outputs differ/);
    const res = await upload(s.app, 'breast_cancer', '5', DIGITS_BYTES, {}, '?force=true');
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(res.body, { model: 'breast_cancer', version: '5', sha256: sha256(DIGITS_BYTES), state: 'ready' });
    const meta = await call(s.app, 'GET', '/v2/models/breast_cancer/versions/5', undefined, PREDICT);
    assert.deepEqual(meta.body.inputs, [{ name: 'image', datatype: 'FP32', shape: [-1, 1, 8, 8] }]);
  });

  it('creates a model that did not exist from its first upload', async () => {
    const res = await upload(s.app, 'brand_new', '1', FP32_BYTES);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(res.body, { model: 'brand_new', version: '1', sha256: sha256(FP32_BYTES), state: 'ready' });
    assert.deepEqual(fs.readdirSync(path.join(dir, 'brand_new')), ['1']);
    const out = await call(s.app, 'POST', '/v2/models/brand_new/infer', { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] }, PREDICT);
    assert.equal(out.status, 200);
    assert.deepEqual(out.body.outputs[0].data, [2, 4, 6]);
    const index = (await call(s.app, 'POST', '/v2/repository/index')).body as { name: string }[];
    assert.deepEqual(index.filter((e) => e.name === 'brand_new'), [{ name: 'brand_new', version: '1', state: 'ready', reason: '' }]);
    assert.deepEqual((await call(s.app, 'GET', '/admin/models/brand_new/traffic')).body, { weights: null, shadow: null, revision: 0, default_version: '1' });
  });

  it('leaves no folder behind when the first upload of a new model is refused', async () => {
    assertError(await upload(s.app, 'never_made', '1', randomBytes(512)), 422, /^not a servable ONNX model: /);
    assert.equal(fs.existsSync(path.join(dir, 'never_made')), false);
    assertError(await call(s.app, 'GET', '/admin/models/never_made/traffic'), 404, "model 'never_made' not found");
  });

  const badRequests: [what: string, model: string, version: string, body: Uint8Array, headers: Record<string, string>, message: string][] = [
    ['an invalid model name', 'bad%20name', '1', V2_BYTES, OCTET, "'bad name' is not a valid model name (letters, digits, '_', '.', '-')"],
    ['version 0', 'breast_cancer', '0', V2_BYTES, OCTET, "'0' is not a version (a positive integer)"],
    ['a version that is a name', 'breast_cancer', 'latest', V2_BYTES, OCTET, "'latest' is not a version (a positive integer)"],
    ['an empty body', 'breast_cancer', '9', new Uint8Array(0), OCTET, 'the body is empty; send the ONNX file as application/octet-stream'],
    ['a JSON body', 'breast_cancer', '9', Buffer.from('{"model":"x"}'), { 'content-type': 'application/json' }, 'send the ONNX file as the body with Content-Type: application/octet-stream'],
  ];
  for (const [what, model, version, body, headers, message] of badRequests) {
    it(`answers 400 for ${what}`, async () => {
      const res = await call(s.app, 'PUT', `/admin/models/${model}/versions/${version}`, Buffer.from(body), { ...ADMIN, ...headers });
      assertError(res, 400, message);
      assert.equal(fs.existsSync(path.join(dir, 'breast_cancer/9')), false);
    });
  }

  it('answers 413 for an upload larger than MAX_UPLOAD_BYTES', async () => {
    const res = await upload(s.app, 'breast_cancer', '9', new Uint8Array(200_001));
    assert.equal(res.status, 413);
    assert.equal(fs.existsSync(path.join(dir, 'breast_cancer/9')), false);
  });

  it('names MAX_UPLOAD_BYTES, not MAX_BODY_BYTES, in the 413 of an upload', async () => {
    assertError(await upload(s.app, 'breast_cancer', '9', new Uint8Array(200_001)), 413, 'request body is larger than 200000 bytes');
  });
});

describe('admin API: DELETE a version', () => {
  let dir: string;
  let s: Started;
  before(async () => ({ dir, s } = await serveCopy()));
  after(() => stopCopy(s, dir));
  const del = (v: string, model = 'breast_cancer') => call(s.app, 'DELETE', `/admin/models/${model}/versions/${v}`);
  const setTable = async (body: unknown) => assert.equal((await call(s.app, 'PUT', '/admin/models/breast_cancer/traffic', body)).status, 200);
  /** /metrics lines (no comments) that carry both labels. */
  const series = async (model: string, version: string) =>
    ((await call(s.app, 'GET', '/metrics', undefined, {})).body as string)
      .split('\n')
      .filter((l) => !l.startsWith('#') && l.includes(`model="${model}"`) && l.includes(`version="${version}"`));

  it('answers 409 while the table gives the version weight, or makes it the shadow', async () => {
    await setTable({ weights: { '1': 90, '2': 10 } });
    const refused = "version '2' of model 'breast_cancer' still receives traffic (weight or shadow); change the traffic table first";
    assertError(await del('2'), 409, refused);
    assertError(await del('1'), 409, "version '1' of model 'breast_cancer' still receives traffic (weight or shadow); change the traffic table first");
    await setTable({ weights: { '1': 100, '2': 0 }, shadow: { version: '2', fraction: 0.1 } });
    assertError(await del('2'), 409, refused);
    assert.equal((await infer(s.app, 'breast_cancer', '2')).status, 200);
    assert.deepEqual(entries(dir, 'breast_cancer'), ['1', '2', 'config.json']);
  });

  it('unloads a version the table no longer routes to: 200, then 503 on its versioned URL', async () => {
    await setTable({ weights: { '1': 100 } });
    assert.equal((await infer(s.app, 'breast_cancer', '2')).status, 200);
    assert.ok((await series('breast_cancer', '2')).some((l) => l.startsWith('inference_requests_total')), 'no per-version series before the unload');
    const res = await del('2');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { model: 'breast_cancer', version: '2', state: 'unloaded' });
    // The version is known but unloaded: 503 (not 404) on its versioned URLs.
    const gone = await infer(s.app, 'breast_cancer', '2');
    assertError(gone, 503, "version '2' of model 'breast_cancer' is not ready (unloaded)");
    assert.equal(gone.headers['retry-after'], '1');
    assertError(await call(s.app, 'GET', '/v2/models/breast_cancer/versions/2', undefined, PREDICT), 503, "version '2' of model 'breast_cancer' is not ready (unloaded)");
    assert.deepEqual(await series('breast_cancer', '2'), []);
    assert.ok((await series('breast_cancer', '1')).length > 0);
    const index = (await call(s.app, 'POST', '/v2/repository/index')).body as { name: string; version: string; state: string }[];
    assert.deepEqual(index.filter((e) => e.name === 'breast_cancer').map((e) => `${e.version}:${e.state}`), ['1:ready', '2:unloaded']);
    // The files stay: versions are immutable, POST load brings it back.
    assert.deepEqual(entries(dir, 'breast_cancer'), ['1', '2', 'config.json']);
    for (let i = 0; i < 10; i++) assert.equal((await infer(s.app, 'breast_cancer')).body.model_version, '1');
  });

  it('refuses a table that names the unloaded version', async () => {
    assertError(
      await call(s.app, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '2': 100 } }),
      409,
      "version '2' of model 'breast_cancer' is not ready (unloaded); the table is unchanged",
    );
  });

  it('answers 200 again for a version already unloaded', async () => {
    assert.equal((await del('2')).status, 200);
  });

  it('unloads the default version when no table is set: unversioned requests fall back to the next highest', async () => {
    assert.equal((await call(s.app, 'DELETE', '/admin/models/digits/versions/1')).status, 200);
    assertError(await call(s.app, 'POST', '/v2/models/digits/infer', { inputs: [{ name: 'image', shape: [1, 1, 8, 8], datatype: 'FP32', data: new Array(64).fill(0) }] }, PREDICT), 503, "model 'digits' has no ready version (1: unloaded)");
  });

  it('answers 404 for a version or model that does not exist', async () => {
    assertError(await del('9'), 404, "version '9' of model 'breast_cancer' not found");
    assertError(await del('x'), 404, "version 'x' of model 'breast_cancer' not found");
    assertError(await del('1', 'nope'), 404, "model 'nope' not found");
  });
});

describe('admin API: V2 repository extension', () => {
  let dir: string;
  let s: Started;
  before(async () => ({ dir, s } = await serveCopy()));
  after(() => stopCopy(s, dir));
  const index = async () => (await call(s.app, 'POST', '/v2/repository/index')).body as { name: string; version: string; state: string; reason: string }[];
  const loadTimes = async () => {
    const models = (await call(s.app, 'GET', '/admin/models')).body.models as { name: string; versions: { version: string; load_time: string }[] }[];
    return Object.fromEntries(models.flatMap((m) => m.versions.map((v) => [`${m.name}/${v.version}`, v.load_time])));
  };

  it('lists every model and version with state and reason', async () => {
    const res = await call(s.app, 'POST', '/v2/repository/index');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, [
      { name: 'breast_cancer', version: '1', state: 'ready', reason: '' },
      { name: 'breast_cancer', version: '2', state: 'ready', reason: '' },
      { name: 'digits', version: '1', state: 'ready', reason: '' },
    ]);
  });

  it('lists versions in GET /admin/models with state, sha256, load time and queue depth', async () => {
    const res = await call(s.app, 'GET', '/admin/models');
    assert.equal(res.status, 200);
    const bc = res.body.models.find((m: { name: string }) => m.name === 'breast_cancer');
    assert.deepEqual(Object.keys(bc).sort(), ['name', 'traffic', 'versions']);
    assert.deepEqual(
      bc.versions.map((v: { version: string; state: string; sha256: string; queue_depth: number }) => [v.version, v.state, v.sha256, v.queue_depth]),
      [
        ['1', 'ready', sha256(V1_BYTES), 0],
        ['2', 'ready', sha256(V2_BYTES), 0],
      ],
    );
  });

  it('loads a version directory added by hand on POST load, and the versions already serving keep serving', async () => {
    const before = await loadTimes();
    fs.mkdirSync(path.join(dir, 'breast_cancer/3'));
    fs.copyFileSync(path.join(dir, 'breast_cancer/2/model.onnx'), path.join(dir, 'breast_cancer/3/model.onnx'));
    assertError(await infer(s.app, 'breast_cancer', '3'), 404, "version '3' of model 'breast_cancer' not found");
    const res = await call(s.app, 'POST', '/v2/repository/models/breast_cancer/load');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {});
    assert.equal((await infer(s.app, 'breast_cancer', '3')).body.model_version, '3');
    const after = await loadTimes();
    assert.equal(after['breast_cancer/1'], before['breast_cancer/1'], 'version 1 was reloaded');
    assert.equal(after['breast_cancer/2'], before['breast_cancer/2'], 'version 2 was reloaded');
    assert.deepEqual((await index()).filter((e) => e.name === 'breast_cancer').map((e) => `${e.version}:${e.state}`), ['1:ready', '2:ready', '3:ready']);
  });

  it('loads a model directory added by hand on POST load', async () => {
    fs.cpSync(path.join(FIXTURE_MODELS, 'dtype_fp32'), path.join(dir, 'handmade'), { recursive: true });
    assert.equal((await call(s.app, 'POST', '/v2/repository/models/handmade/load')).status, 200);
    const out = await call(s.app, 'POST', '/v2/models/handmade/infer', { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] }, PREDICT);
    assert.deepEqual(out.body.outputs[0].data, [2, 4, 6]);
  });

  it('unloads every version of a model on POST unload: 503 on every route, the files stay', async () => {
    const res = await call(s.app, 'POST', '/v2/repository/models/breast_cancer/unload');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {});
    assert.deepEqual((await index()).filter((e) => e.name === 'breast_cancer').map((e) => `${e.version}:${e.state}`), ['1:unloaded', '2:unloaded', '3:unloaded']);
    assertError(await infer(s.app, 'breast_cancer'), 503, "model 'breast_cancer' has no ready version (1: unloaded, 2: unloaded, 3: unloaded)");
    assertError(await infer(s.app, 'breast_cancer', '1'), 503, "version '1' of model 'breast_cancer' is not ready (unloaded)");
    assert.deepEqual(entries(dir, 'breast_cancer'), ['1', '2', '3', 'config.json']);
    // Other models are untouched.
    assert.equal((await infer(s.app, 'breast_cancer', '1')).status, 503);
    assert.deepEqual((await index()).filter((e) => e.name === 'digits').map((e) => e.state), ['ready']);
  });

  it('loads every version again on POST load after an unload, clearing earlier unloads', async () => {
    assert.equal((await call(s.app, 'DELETE', '/admin/models/digits/versions/1')).status, 200);
    assert.equal((await call(s.app, 'POST', '/v2/repository/models/breast_cancer/load')).status, 200);
    assert.equal((await call(s.app, 'POST', '/v2/repository/models/digits/load')).status, 200);
    assert.deepEqual((await index()).filter((e) => e.name !== 'handmade').map((e) => `${e.name}/${e.version}:${e.state}`), [
      'breast_cancer/1:ready',
      'breast_cancer/2:ready',
      'breast_cancer/3:ready',
      'digits/1:ready',
    ]);
    assert.equal((await infer(s.app, 'breast_cancer')).body.model_version, '3');
  });

  it('answers 404 for load or unload of a model that does not exist', async () => {
    assertError(await call(s.app, 'POST', '/v2/repository/models/nope/load'), 404, "model 'nope' not found");
    assertError(await call(s.app, 'POST', '/v2/repository/models/nope/unload'), 404, "model 'nope' not found");
    assertError(await call(s.app, 'POST', '/v2/repository/models/..%2Fetc/load'), 404, "model '../etc' not found");
  });
});

describe('admin API: audit log', () => {
  let dir: string;
  let app: FastifyInstance;
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const audit = () => lines.filter((l) => l.audit === true);

  before(async () => {
    dir = tempRepo('ortserve-admin-');
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
          raw.push(line);
          lines.push(JSON.parse(line) as Record<string, unknown>);
        }
        done();
      },
    });
    app = await buildServer(testConfig({ MODEL_REPOSITORY: dir, REPOSITORY_POLL_INTERVAL_MS: '0' }), { logger: pino({ level: 'info' }, stream) });
    await app.ortserve.loaded;
  });
  after(async () => {
    await app.close();
    removeRepo(dir);
  });

  const bob = auth('admin', 'bob');

  it('logs one line per action with who (the token sub), what, target, before and after', async () => {
    assert.equal(audit().length, 0);
    assert.equal((await call(app, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '1': 90, '2': 10 } })).status, 200);
    assert.equal((await call(app, 'POST', '/admin/models/breast_cancer/traffic/rollback', undefined, bob)).status, 200);
    assert.equal((await upload(app, 'breast_cancer', '3', V2_BYTES)).status, 201);
    assert.equal((await call(app, 'DELETE', '/admin/models/breast_cancer/versions/1', undefined, bob)).status, 200);
    assert.equal((await call(app, 'POST', '/v2/repository/models/digits/unload')).status, 200);
    assert.equal((await call(app, 'POST', '/v2/repository/models/digits/load', undefined, bob)).status, 200);

    const got = audit().map(({ audit: a, who, what, target, before, after, msg, level }) => ({ audit: a, who, what, target, before, after, msg, level }));
    assert.deepEqual(got, [
      {
        audit: true, who: 'alice', what: 'set traffic', target: 'breast_cancer', level: 30, msg: 'admin: set traffic breast_cancer',
        before: { weights: null, shadow: null, revision: 0, default_version: '2' },
        after: { weights: { '1': 90, '2': 10 }, shadow: null, revision: 1 },
      },
      {
        audit: true, who: 'bob', what: 'rollback traffic', target: 'breast_cancer', level: 30, msg: 'admin: rollback traffic breast_cancer',
        before: { weights: { '1': 90, '2': 10 }, shadow: null, revision: 1 },
        after: { weights: null, shadow: null, revision: 2, default_version: '2' },
      },
      {
        audit: true, who: 'alice', what: 'upload version', target: 'breast_cancer/3', level: 30, msg: 'admin: upload version breast_cancer/3',
        before: { '1': 'ready', '2': 'ready' },
        after: { '1': 'ready', '2': 'ready', '3': 'ready' },
      },
      {
        audit: true, who: 'bob', what: 'unload version', target: 'breast_cancer/1', level: 30, msg: 'admin: unload version breast_cancer/1',
        before: { '1': 'ready', '2': 'ready', '3': 'ready' },
        after: { '1': 'unloaded', '2': 'ready', '3': 'ready' },
      },
      {
        audit: true, who: 'alice', what: 'unload model', target: 'digits', level: 30, msg: 'admin: unload model digits',
        before: { '1': 'ready' },
        after: { '1': 'unloaded' },
      },
      {
        audit: true, who: 'bob', what: 'load model', target: 'digits', level: 30, msg: 'admin: load model digits',
        before: { '1': 'unloaded' },
        after: { '1': 'ready' },
      },
    ]);
  });

  it('logs nothing for a refused action, nor for a read', async () => {
    const count = audit().length;
    assert.equal((await call(app, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '1': 90, '2': 20 } })).status, 409);
    assert.equal((await upload(app, 'breast_cancer', '4', randomBytes(100))).status, 422);
    assert.equal((await call(app, 'DELETE', '/admin/models/breast_cancer/versions/9')).status, 404);
    assert.equal((await call(app, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '1': 100 } }, PREDICT)).status, 403);
    assert.equal((await call(app, 'GET', '/admin/models')).status, 200);
    assert.equal((await call(app, 'POST', '/v2/repository/index')).status, 200);
    assert.equal(audit().length, count);
  });

  it('never writes a bearer token to the log', () => {
    const tokens = [ADMIN, bob, PREDICT].map((h) => h.authorization!.slice('Bearer '.length));
    for (const line of raw) for (const t of tokens) assert.ok(!line.includes(t.split('.')[2]!), `a log line holds a token: ${line.slice(0, 200)}`);
  });
});
