// kill -9 of the real process in the middle of an upload: the repository keeps no partial version, and the
// restarted server serves the last good state (same versions, same traffic table, unversioned inference works).
// Two moments: while the body is still arriving (sent slowly), and once the server has begun writing the
// version's staging directory (`<repo>/<model>/.tmp-*`, seen through fs.watch).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { kill, request, spawnReady, type ServerProcess as Server } from '../helpers/process.js';
import { removeRepo, tempRepo } from '../helpers/repo.js';
import { BUNDLED_MODELS, serverEnv, token } from '../helpers/server.js';

const MODEL_V2_BYTES = fs.readFileSync(path.join(BUNDLED_MODELS, 'breast_cancer/2/model.onnx'));
const ADMIN = `Bearer ${token('admin', 'crash-admin', 600)}`;
const PREDICT = `Bearer ${token('predict', 'crash-client', 600)}`;
const ROW = JSON.stringify({ inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: Array.from({ length: 30 }, (_, i) => (i % 3) / 3) }] });
const TABLE = { weights: { '1': 30, '2': 70 } };

function spawnServer(repo: string): Promise<Server> {
  return spawnReady(serverEnv(repo, { WORKER_THREADS: '1', REPOSITORY_POLL_INTERVAL_MS: '0' }));
}

async function kill9(s: Server): Promise<void> {
  await kill(s, 'SIGKILL');
}

function call(s: Server, method: string, url: string, body?: unknown, authz = ADMIN): Promise<{ status: number; body: any }> {
  return request(s.port, method, url, body, { authorization: authz });
}

/** What a restart must reproduce: each version's state and checksum, and the traffic table. */
async function snapshot(s: Server): Promise<{ versions: string[]; traffic: unknown }> {
  const res = await call(s, 'GET', '/admin/models');
  assert.equal(res.status, 200);
  const m = (res.body.models as { name: string; versions: { version: string; state: string; sha256: string | null }[]; traffic: unknown }[]).find((x) => x.name === 'breast_cancer')!;
  return { versions: m.versions.map((v) => `${v.version} ${v.state} ${v.sha256}`).sort(), traffic: m.traffic };
}

/** PUTs the model bytes with a correct Content-Length, `chunkBytes` every `pauseMs`; never rejects. */
function slowUpload(port: number, version: string, chunkBytes: number, pauseMs: number, onChunk: (sent: number) => void): Promise<string> {
  return new Promise((resolve) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: 'PUT',
      path: `/admin/models/breast_cancer/versions/${version}`,
      headers: { authorization: ADMIN, 'content-type': 'application/octet-stream', 'content-length': MODEL_V2_BYTES.length },
    });
    let failed = false;
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(`answered ${res.statusCode}`));
    });
    req.on('error', (err) => {
      failed = true;
      resolve(`connection error ${(err as NodeJS.ErrnoException).code ?? err.message}`);
    });
    let sent = 0;
    const next = () => {
      if (failed) return;
      if (sent >= MODEL_V2_BYTES.length) {
        req.end();
        return;
      }
      const chunk = MODEL_V2_BYTES.subarray(sent, sent + chunkBytes);
      sent += chunk.length;
      req.write(chunk);
      onChunk(sent);
      setTimeout(next, pauseMs);
    };
    next();
  });
}

function entries(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

describe('kill -9 during an upload (real process)', () => {
  let repo: string;
  let s: Server;
  let good: { versions: string[]; traffic: unknown };
  const started: Server[] = [];
  const modelDir = () => path.join(repo, 'breast_cancer');

  before(async () => {
    repo = tempRepo('ortserve-upload-crash-');
    s = await spawnServer(repo);
    started.push(s);
    assert.equal((await call(s, 'PUT', '/admin/models/breast_cancer/traffic', TABLE)).status, 200);
    good = await snapshot(s);
  });
  after(async () => {
    await Promise.all(started.map(kill9));
    removeRepo(repo);
  });

  /** Restarts on the same repository and checks that it serves exactly the last good state. */
  async function restartAndCheck(killedVersion: string): Promise<void> {
    assert.equal(fs.existsSync(path.join(modelDir(), killedVersion)), false, `no directory ${killedVersion} for the killed upload`);
    s = await spawnServer(repo);
    started.push(s);
    assert.deepEqual(await snapshot(s), good, 'the same versions (state, sha256) and the same traffic table');
    assert.equal(fs.existsSync(path.join(modelDir(), killedVersion)), false, `no directory ${killedVersion} after the restart`);
    const index = await call(s, 'POST', '/v2/repository/index');
    assert.deepEqual(
      (index.body as { name: string; version: string }[]).filter((e) => e.name === 'breast_cancer').map((e) => e.version).sort(),
      ['1', '2'],
      'the repository index lists only the versions from before',
    );
    for (let i = 0; i < 5; i++) {
      const res = await call(s, 'POST', '/v2/models/breast_cancer/infer', ROW, PREDICT);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.ok(['1', '2'].includes(res.body.model_version), `served by version ${res.body.model_version}`);
    }
  }

  it('keeps no trace of an upload killed while its body is still arriving, and the restart serves the last good state', { timeout: 40_000 }, async () => {
    let killed: Promise<void> | undefined;
    // 1 KB every 20 ms: about half a second for the 26 KB model; kill once half of it has been sent.
    const outcome = await slowUpload(s.port, '3', 1024, 20, (sent) => {
      if (!killed && sent >= MODEL_V2_BYTES.length / 2) killed = kill9(s);
    });
    await killed;
    assert.match(outcome, /connection error/, 'the upload never got an answer');
    assert.deepEqual(entries(modelDir()).filter((n) => n !== 'config.json'), ['1', '2'], 'nothing was written for the killed upload');
    await restartAndCheck('3');
  });

  it('keeps no partial version when killed once the server has begun writing it, and the version can be uploaded again', { timeout: 40_000 }, async () => {
    const version = '4';
    let staged: string | undefined;
    const watcher = fs.watch(modelDir(), (_event, name) => {
      if (staged === undefined && typeof name === 'string' && name.startsWith('.tmp-')) {
        staged = name;
        s.child.kill('SIGKILL');
      }
    });
    try {
      const upload = call(s, 'PUT', `/admin/models/breast_cancer/versions/${version}`, new Uint8Array(MODEL_V2_BYTES)).then(
        (r) => `answered ${r.status}`,
        (err: Error) => `connection error ${err.message}`,
      );
      await s.exited;
      assert.ok(staged, 'the server began writing a staging entry before it died');
      assert.match(await upload, /connection error/, 'the upload never got an answer');
    } finally {
      watcher.close();
    }
    const left = entries(modelDir());
    console.log(`upload-crash: killed on seeing ${staged}; ${modelDir()} holds ${left.join(', ')}`);
    await restartAndCheck(version);
    // The leftover staging entry is never loaded, and does not stand in the way of the same upload again.
    const again = await call(s, 'PUT', `/admin/models/breast_cancer/versions/${version}`, new Uint8Array(MODEL_V2_BYTES));
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.deepEqual((await snapshot(s)).traffic, good.traffic, 'the upload did not change the table');
    good = await snapshot(s);
  });

  it(
    'serves the old or the new table after a kill -9 during a traffic write, and takes admin writes right after the restart',
    { timeout: 40_000 },
    async () => {
      const stateDir = path.join(repo, '.ortserve');
      let locked = false;
      const watcher = fs.watch(stateDir, (_event, name) => {
        if (!locked && name === 'breast_cancer.json.lock') {
          locked = true;
          s.child.kill('SIGKILL');
        }
      });
      try {
        const write = call(s, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '2': 100 } }).then(
          (r) => `answered ${r.status}`,
          (err: Error) => `connection error ${err.message}`,
        );
        await s.exited;
        assert.ok(locked, 'the server held the state lock when it died');
        assert.match(await write, /connection error/);
      } finally {
        watcher.close();
      }
      console.log(`upload-crash: killed holding the lock; ${stateDir} holds ${entries(stateDir).join(', ')}`);
      s = await spawnServer(repo);
      started.push(s);
      const table = (await snapshot(s)).traffic as { weights: Record<string, number> };
      assert.ok(
        JSON.stringify(table.weights) === JSON.stringify(TABLE.weights) || JSON.stringify(table.weights) === JSON.stringify({ '2': 100 }),
        `the old or the new table, nothing else: ${JSON.stringify(table)}`,
      );
      const next = await call(s, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '1': 100 } });
      assert.equal(next.status, 200, `the first admin write after the restart: ${next.status} ${JSON.stringify(next.body)}`);
    },
  );
});
