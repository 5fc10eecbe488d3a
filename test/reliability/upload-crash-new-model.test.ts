// kill -9 of the real process during the FIRST upload of a model that did not exist (test/e2e/upload-crash.test.ts
// covers uploads of a new version of an existing model): the server creates `<repo>/<model>/` for the staging
// directory, and dies. The restart must serve the last good state: no version of the new model, the model not
// listed or routable, the other models as before, and the same upload must then succeed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { kill, request, spawnReady, type ServerProcess as Server } from '../helpers/process.js';
import { removeRepo, tempRepo } from '../helpers/repo.js';
import { BUNDLED_MODELS, serverEnv, token } from '../helpers/server.js';

const MODEL_BYTES = fs.readFileSync(path.join(BUNDLED_MODELS, 'breast_cancer/2/model.onnx'));
const ADMIN = `Bearer ${token('admin', 'new-model-crash-admin', 600)}`;
const PREDICT = `Bearer ${token('predict', 'new-model-crash-client', 600)}`;
const ROW = { inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: Array.from({ length: 30 }, (_, i) => (i % 3) / 3) }] };
const NEW_MODEL = 'fresh';

function spawnServer(repo: string): Promise<Server> {
  return spawnReady(serverEnv(repo, { WORKER_THREADS: '1', REPOSITORY_POLL_INTERVAL_MS: '0' }));
}

function call(s: Server, method: string, url: string, body?: unknown, authz = ADMIN): Promise<{ status: number; body: any }> {
  return request(s.port, method, url, body, { authorization: authz });
}

/** The repository index as "model version state" lines, sorted. */
async function index(s: Server): Promise<string[]> {
  const res = await call(s, 'POST', '/v2/repository/index');
  assert.equal(res.status, 200);
  return (res.body as { name: string; version: string; state: string }[]).map((e) => `${e.name} ${e.version} ${e.state}`).sort();
}

describe('kill -9 during the first upload of a new model (real process)', () => {
  let repo: string;
  const started: Server[] = [];
  before(() => {
    repo = tempRepo('ortserve-new-model-crash-');
  });
  after(async () => {
    await Promise.all(started.map((s) => kill(s)));
    removeRepo(repo);
  });

  let s: Server;
  let good: string[];

  it('leaves no version of the model on disk, and the restart serves the versions it served before', { timeout: 40_000 }, async () => {
    s = await spawnServer(repo);
    started.push(s);
    good = await index(s);
    let seen = false;
    const watcher = fs.watch(repo, (_event, name) => {
      if (!seen && name === NEW_MODEL) {
        seen = true;
        s.child.kill('SIGKILL');
      }
    });
    try {
      const upload = call(s, 'PUT', `/admin/models/${NEW_MODEL}/versions/1`, new Uint8Array(MODEL_BYTES)).then(
        (r) => `answered ${r.status}`,
        (err: Error) => `connection error ${err.message}`,
      );
      await s.exited;
      assert.ok(seen, 'the server created the model folder before it died');
      assert.match(await upload, /connection error/, 'the upload never got an answer');
    } finally {
      watcher.close();
    }
    const modelDir = path.join(repo, NEW_MODEL);
    const left = fs.existsSync(modelDir) ? fs.readdirSync(modelDir) : [];
    console.log(`upload-crash-new-model: ${modelDir} holds [${left.join(', ')}] after the kill`);
    assert.ok(!left.includes('1'), 'no version directory was created');

    s = await spawnServer(repo);
    started.push(s);
    const now = await index(s);
    assert.deepEqual(now.filter((e) => !e.startsWith(`${NEW_MODEL} `)), good, 'the other models are as before');
    assert.deepEqual(now.filter((e) => /^\S+ \d+ /.test(e) && e.startsWith(`${NEW_MODEL} `)), [], 'no version of the new model is listed');
    const served = await call(s, 'POST', '/v2/models/breast_cancer/infer', ROW, PREDICT);
    assert.equal(served.status, 200);
  });

  it(
    'does not list the model after the restart: the repository index is the one from before and the model is 404',
    async () => {
      const meta = await call(s, 'GET', `/v2/models/${NEW_MODEL}`, undefined, PREDICT);
      assert.equal(meta.status, 404, `the model does not exist: ${meta.status} ${JSON.stringify(meta.body)}`);
      assert.deepEqual(await index(s), good);
    },
  );

  it('takes the same upload again after the restart and serves it', { timeout: 30_000 }, async () => {
    const again = await call(s, 'PUT', `/admin/models/${NEW_MODEL}/versions/1`, new Uint8Array(MODEL_BYTES));
    assert.equal(again.status, 201, JSON.stringify(again.body));
    const first = await call(s, 'POST', `/v2/models/${NEW_MODEL}/infer`, ROW, PREDICT);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.model_version, '1');
  });
});
