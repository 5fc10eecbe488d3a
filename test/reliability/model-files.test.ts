// Model files that change under a serving version: overwritten with garbage, truncated, or deleted. A loaded
// version serves from the bytes it read at load time (every worker's session, and the copy the pool keeps to
// restore a replacement worker), so what happens on disk afterwards must not stop it: not a repository poll, not a
// worker restart. The server runs in this process on a private copy of models/ with the poll timer off; each test
// runs the poller's pass (RepositoryPoller.tick, what the timer runs every REPOSITORY_POLL_INTERVAL_MS) itself, so
// "after a poll" needs no waiting.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { removeRepo, tempRepo } from '../helpers/repo.js';
import { auth, startServer, type Started } from '../helpers/server.js';

const PREDICT = auth('predict', 'model-files');
const ADMIN = auth('admin', 'model-files-admin');

const IMAGE = { inputs: [{ name: 'image', shape: [1, 1, 8, 8], datatype: 'FP32', data: Array.from({ length: 64 }, (_, i) => (i % 9) / 9) }] };
const ROW = { inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: Array.from({ length: 30 }, (_, i) => (i % 6) / 6) }] };

async function infer(s: Started, url: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(`${s.url}${url}`, { method: 'POST', headers: { ...PREDICT, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, text: await res.text() };
}

/** `n` requests to `url`; returns the answers that were not 200. */
async function notOk(s: Started, url: string, body: unknown, n = 10): Promise<string[]> {
  const answers = await Promise.all(Array.from({ length: n }, () => infer(s, url, body)));
  return answers.filter((a) => a.status !== 200).map((a) => `${a.status} ${a.text.slice(0, 200)}`);
}

interface VersionView {
  version: string;
  state: string;
  sha256: string | null;
}

async function versions(s: Started, model: string): Promise<VersionView[]> {
  const res = await fetch(`${s.url}/admin/models`, { headers: ADMIN });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { models: { name: string; versions: VersionView[] }[] };
  return body.models.find((m) => m.name === model)!.versions.map(({ version, state, sha256 }) => ({ version, state, sha256 }));
}

describe('model files changed on disk under a serving version', () => {
  let repo: string;
  let s: Started;
  before(async () => {
    repo = tempRepo('ortserve-model-files-');
    s = await startServer({ MODEL_REPOSITORY: repo, WORKER_THREADS: '2', REPOSITORY_POLL_INTERVAL_MS: '0' });
  });
  after(async () => {
    await s.close();
    removeRepo(repo);
  });

  it('keeps serving versions whose model.onnx is overwritten with garbage or truncated, through repository polls', async () => {
    const digitsBefore = await versions(s, 'digits');
    const bcBefore = await versions(s, 'breast_cancer');
    const digitsFile = path.join(repo, 'digits/1/model.onnx');
    fs.writeFileSync(digitsFile, 'this is not an onnx model any more');
    const bcFile = path.join(repo, 'breast_cancer/2/model.onnx');
    const bytes = fs.readFileSync(bcFile);
    fs.writeFileSync(bcFile, bytes.subarray(0, bytes.length >> 1));

    await s.app.ortserve.poller.tick();
    await s.app.ortserve.poller.tick();

    assert.deepEqual(await notOk(s, '/v2/models/digits/infer', IMAGE), []);
    assert.deepEqual(await notOk(s, '/v2/models/breast_cancer/versions/2/infer', ROW), []);
    assert.deepEqual(await notOk(s, '/v2/models/breast_cancer/infer', ROW), []);
    // Same versions, same state and the checksum of what was loaded (not of what is on disk now).
    assert.deepEqual(await versions(s, 'digits'), digitsBefore);
    assert.deepEqual(await versions(s, 'breast_cancer'), bcBefore);
  });

  it('restores a replacement worker from the bytes it loaded, not from the corrupted file', { timeout: 30_000 }, async () => {
    // Both workers die: any 200 afterwards comes from replacements, which reloaded every session while digits'
    // and breast_cancer v2's files on disk were garbage (previous test).
    await Promise.all([s.app.ortserve.pool.killWorker(0), s.app.ortserve.pool.killWorker(1)]);
    let last = { status: 0, text: '' };
    for (let i = 0; i < 400 && last.status !== 200; i++) {
      last = await infer(s, '/v2/models/digits/infer', IMAGE);
      if (last.status !== 200) await sleep(25);
    }
    assert.equal(last.status, 200, `no replacement served: ${last.text}`);
    assert.deepEqual(await notOk(s, '/v2/models/digits/infer', IMAGE), []);
    assert.deepEqual(await notOk(s, '/v2/models/breast_cancer/versions/2/infer', ROW), []);
  });

  it(
    'keeps serving a version whose model.onnx is deleted while it serves, through repository polls',
    async () => {
      fs.rmSync(path.join(repo, 'digits/1/model.onnx'));
      await s.app.ortserve.poller.tick();
      assert.deepEqual(await notOk(s, '/v2/models/digits/infer', IMAGE), []);
      assert.equal((await versions(s, 'digits'))[0]?.state, 'ready');
    },
  );
});
