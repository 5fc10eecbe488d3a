// Lifecycle state survives a restart: a server built again on the same repository folder serves the same traffic
// table (same revision, same history) and keeps unloaded versions and models unloaded. A corrupt state file
// does not stop the start: the model serves the default policy and a warning is logged. (Restarts of real
// processes, kill -9 and replicas are in test/e2e.)
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildServer } from '../../src/http/server.js';
import { removeRepo, tempRepo } from '../helpers/repo.js';
import { auth, BUNDLED_MODELS, testConfig } from '../helpers/server.js';

const ADMIN = auth('admin', 'alice');
const PREDICT = auth('predict', 'client');
const ROW = new Array<number>(30).fill(1);
const V2_BYTES = fs.readFileSync(path.join(BUNDLED_MODELS, 'breast_cancer/2/model.onnx'));

interface Running {
  app: FastifyInstance;
  /** Every log line the server wrote, parsed. */
  log: Record<string, unknown>[];
}

let dir: string;
const open: FastifyInstance[] = [];

beforeEach(() => {
  dir = tempRepo('ortserve-persist-');
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((app) => app.close()));
  removeRepo(dir);
});

/** A server on `dir`, its pino output captured, after its initial load. */
async function start(): Promise<Running> {
  const log: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) log.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const app = await buildServer(testConfig({ MODEL_REPOSITORY: dir, REPOSITORY_POLL_INTERVAL_MS: '0', WORKER_THREADS: '1' }), { logger: pino({ level: 'info' }, stream) });
  open.push(app);
  await app.ortserve.loaded;
  return { app, log };
}

async function stop(r: Running): Promise<void> {
  open.splice(open.indexOf(r.app), 1);
  await r.app.close();
}

async function call(app: FastifyInstance, method: 'GET' | 'PUT' | 'POST' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = ADMIN) {
  const res = await app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as string }) });
  return { status: res.statusCode, body: JSON.parse(res.body) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const infer = (app: FastifyInstance, version?: string) =>
  call(app, 'POST', version ? `/v2/models/breast_cancer/versions/${version}/infer` : '/v2/models/breast_cancer/infer', { inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: ROW }] }, PREDICT);

async function states(app: FastifyInstance, model = 'breast_cancer'): Promise<string[]> {
  const index = (await call(app, 'POST', '/v2/repository/index')).body as { name: string; version: string; state: string }[];
  return index.filter((e) => e.name === model).map((e) => `${e.version}:${e.state}`);
}

describe('lifecycle state across a restart', () => {
  it('comes back with the same table, revision and history, and the unloaded version still unloaded', async () => {
    const first = await start();
    assert.equal((await call(first.app, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '1': 50, '2': 50 } })).status, 200);
    assert.equal((await call(first.app, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '2': 100 }, shadow: null })).status, 200);
    assert.equal((await call(first.app, 'DELETE', '/admin/models/breast_cancer/versions/1')).status, 200);
    const table = (await call(first.app, 'GET', '/admin/models/breast_cancer/traffic')).body;
    assert.deepEqual(table, { weights: { '2': 100 }, shadow: null, revision: 2 });
    await stop(first);

    const second = await start();
    assert.deepEqual((await call(second.app, 'GET', '/admin/models/breast_cancer/traffic')).body, table);
    for (let i = 0; i < 10; i++) assert.equal((await infer(second.app)).body.model_version, '2');
    assert.notEqual((await infer(second.app, '1')).status, 200, 'the unloaded version serves again after the restart');
    assert.deepEqual(await states(second.app, 'digits'), ['1:ready']);
    // The history came back too: rolling back needs version 1, which stays unloaded until an operator loads it.
    assert.equal((await call(second.app, 'POST', '/admin/models/breast_cancer/traffic/rollback')).status, 409);
    assert.equal((await call(second.app, 'POST', '/v2/repository/models/breast_cancer/load')).status, 200);
    const rolled = await call(second.app, 'POST', '/admin/models/breast_cancer/traffic/rollback');
    assert.equal(rolled.status, 200);
    assert.deepEqual(rolled.body, { weights: { '1': 50, '2': 50 }, shadow: null, revision: 3 });
  });

  it('lists an operator-unloaded version as unloaded after a restart, as before it', async () => {
    const first = await start();
    assert.equal((await call(first.app, 'DELETE', '/admin/models/breast_cancer/versions/1')).status, 200);
    assert.deepEqual(await states(first.app), ['1:unloaded', '2:ready']);
    const before = await infer(first.app, '1');
    await stop(first);
    const second = await start();
    assert.deepEqual(await states(second.app), ['1:unloaded', '2:ready']);
    assert.deepEqual(await infer(second.app, '1'), before);
  });

  it('keeps a model unloaded through POST unload unloaded after a restart, until POST load', async () => {
    const first = await start();
    assert.equal((await call(first.app, 'POST', '/v2/repository/models/breast_cancer/unload')).status, 200);
    await stop(first);

    const second = await start();
    assert.deepEqual(await states(second.app), ['1:unloaded', '2:unloaded'], 'listed as before the restart');
    assert.equal((await infer(second.app)).status, 503);
    assert.deepEqual(await states(second.app, 'digits'), ['1:ready']);
    assert.equal((await call(second.app, 'POST', '/v2/repository/models/breast_cancer/load')).status, 200);
    assert.deepEqual(await states(second.app), ['1:ready', '2:ready']);
    assert.equal((await infer(second.app)).body.model_version, '2');
  });

  it('continues the revision after a restart, so a write naming the old revision is refused', async () => {
    const first = await start();
    await call(first.app, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '1': 100 } });
    await call(first.app, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '1': 90, '2': 10 } });
    await stop(first);

    const second = await start();
    const stale = await call(second.app, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '2': 100 }, revision: 1 });
    assert.equal(stale.status, 409);
    assert.deepEqual(stale.body, { error: 'stale revision: the table is at revision 2, not 1; GET it and try again' });
    const ok = await call(second.app, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '2': 100 }, revision: 2 });
    assert.deepEqual(ok.body, { weights: { '2': 100 }, shadow: null, revision: 3 });
  });

  it('serves an uploaded version, and the table naming it, after a restart', async () => {
    const first = await start();
    const up = await first.app.inject({ method: 'PUT', url: '/admin/models/breast_cancer/versions/3', headers: { ...ADMIN, 'content-type': 'application/octet-stream' }, payload: V2_BYTES });
    assert.equal(up.statusCode, 201);
    await call(first.app, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '1': 50, '3': 50 } });
    await stop(first);

    const second = await start();
    assert.deepEqual(await states(second.app), ['1:ready', '2:ready', '3:ready']);
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) seen.add((await infer(second.app)).body.model_version as string);
    assert.deepEqual([...seen].sort(), ['1', '3']);
  });

  it('keeps the other versions of an unloaded model unloaded when a new version is uploaded to it, after a restart too', async () => {
    const first = await start();
    assert.equal((await call(first.app, 'POST', '/v2/repository/models/breast_cancer/unload')).status, 200);
    const up = await first.app.inject({ method: 'PUT', url: '/admin/models/breast_cancer/versions/3', headers: { ...ADMIN, 'content-type': 'application/octet-stream' }, payload: V2_BYTES });
    assert.equal(up.statusCode, 201);
    assert.deepEqual(await states(first.app), ['1:unloaded', '2:unloaded', '3:ready']);
    await stop(first);

    const second = await start();
    const ready = (await states(second.app)).filter((s) => s.endsWith(':ready'));
    assert.deepEqual(ready, ['3:ready']);
  });

  it('falls back to the highest ready version when the persisted table names a version that no longer loads', async () => {
    const first = await start();
    await call(first.app, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '2': 100 } });
    await stop(first);
    fs.writeFileSync(path.join(dir, 'breast_cancer/2/model.onnx'), 'no longer a model');

    const second = await start();
    assert.deepEqual(await states(second.app), ['1:ready', '2:failed']);
    assert.deepEqual((await call(second.app, 'GET', '/admin/models/breast_cancer/traffic')).body, { weights: { '2': 100 }, shadow: null, revision: 1 });
    for (let i = 0; i < 5; i++) assert.equal((await infer(second.app)).body.model_version, '1');
  });
});

describe('a corrupt state file', () => {
  for (const [what, content] of [
    ['not JSON', '{"revision": 3, "traff'],
    ['JSON that is not a state', JSON.stringify({ revision: 'three', traffic: { weights: { '1': 100 } } })],
  ] as const) {
    it(`(${what}) does not stop the start: the model serves the default policy and a warning names the file`, async () => {
      const file = path.join(dir, '.ortserve', 'breast_cancer.json');
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, content);
      const s = await start();
      assert.deepEqual((await call(s.app, 'GET', '/admin/models/breast_cancer/traffic')).body, { weights: null, shadow: null, revision: 0, default_version: '2' });
      assert.deepEqual(await states(s.app), ['1:ready', '2:ready']);
      assert.equal((await infer(s.app)).body.model_version, '2');
      const warnings = s.log.filter((l) => l.msg === 'lifecycle state ignored');
      assert.equal(warnings.length, 1);
      assert.equal(warnings[0]!.level, 40);
      assert.equal(warnings[0]!.model, 'breast_cancer');
      assert.ok(String(warnings[0]!.reason).startsWith(file), String(warnings[0]!.reason));
      // The other model's state is its own.
      assert.deepEqual(await states(s.app, 'digits'), ['1:ready']);
    });
  }

  it('is replaced by the next admin action, its bytes kept beside it', async () => {
    const file = path.join(dir, '.ortserve', 'breast_cancer.json');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, 'garbage');
    const first = await start();
    const put = await call(first.app, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '1': 100 } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(put.body, { weights: { '1': 100 }, shadow: null, revision: 1 });
    assert.equal(fs.readFileSync(`${file}.corrupt`, 'utf8'), 'garbage');
    await stop(first);

    const second = await start();
    assert.deepEqual((await call(second.app, 'GET', '/admin/models/breast_cancer/traffic')).body, { weights: { '1': 100 }, shadow: null, revision: 1 });
    assert.equal(second.log.filter((l) => l.msg === 'lifecycle state ignored').length, 0);
  });
});

describe('leftovers of an interrupted write', () => {
  it('are removed at start once older than 15 minutes, and a staging folder is never loaded', async () => {
    const old = new Date(Date.now() - 3_600_000);
    const staleUpload = path.join(dir, 'breast_cancer', '.tmp-upload-3-1234-abcd');
    const youngUpload = path.join(dir, 'breast_cancer', '.tmp-upload-4-1234-ef01');
    const staleState = path.join(dir, '.ortserve', '.tmp-breast_cancer.json-1234-abcd');
    for (const d of [staleUpload, youngUpload]) {
      fs.mkdirSync(d, { recursive: true });
      fs.writeFileSync(path.join(d, 'model.onnx'), V2_BYTES);
    }
    fs.mkdirSync(path.dirname(staleState), { recursive: true });
    fs.writeFileSync(staleState, '{"revision": 1');
    for (const p of [staleUpload, staleState]) fs.utimesSync(p, old, old);

    const s = await start();
    assert.equal(fs.existsSync(staleUpload), false);
    assert.equal(fs.existsSync(staleState), false);
    assert.equal(fs.existsSync(youngUpload), true, 'a young staging folder may belong to an upload in progress on another replica');
    assert.deepEqual(await states(s.app), ['1:ready', '2:ready']);
    const warning = s.log.find((l) => l.msg === 'removed partial files left by an interrupted write');
    assert.ok(warning);
    assert.deepEqual((warning.removed as string[]).sort(), ['.tmp-breast_cancer.json-1234-abcd', '.tmp-upload-3-1234-abcd']);
  });
});
