// Zero failed requests while the lifecycle changes under load, on the real process (`node --import tsx
// src/main.ts`): 32 keep-alive clients call the unversioned route for 20 s while the traffic table flips between
// versions 1 and 2 every second and new versions are uploaded, named with weight 0 and deleted. Every answer must
// be 2xx and come from a version the table gave 100% at some moment while the request was out.
// Second case: requests queued on a version finish on it when the version is deleted, and later ones are refused.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { kill, request, spawnReady, type ServerProcess } from '../helpers/process.js';
import { removeRepo, tempRepo } from '../helpers/repo.js';
import { BUNDLED_MODELS, serverEnv, token } from '../helpers/server.js';

const LOAD_MS = 20_000;
const CLIENTS = 32;
const FLIP_EVERY_MS = 1000;
const MODEL_V2_BYTES = fs.readFileSync(path.join(BUNDLED_MODELS, 'breast_cancer/2/model.onnx'));
const ADMIN = `Bearer ${token('admin', 'zero-downtime-admin', 600)}`;
const PREDICT = `Bearer ${token('predict', 'zero-downtime-client', 600)}`;
const ROW = JSON.stringify({ inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: Array.from({ length: 30 }, (_, i) => (i % 7) / 7) }] });

interface Server extends ServerProcess {
  repo: string;
}

/** The server on `repo`, a copy of models/ that stopServer deletes. */
async function spawnServer(repo: string, env: Record<string, string> = {}): Promise<Server> {
  return { ...(await spawnReady(serverEnv(repo, { WORKER_THREADS: '2', ...env }))), repo };
}

async function stopServer(s: Server): Promise<void> {
  await kill(s, 'SIGKILL');
  removeRepo(s.repo);
}

function call(s: Server, method: string, url: string, body?: unknown): Promise<{ status: number; body: any }> {
  return request(s.port, method, url, body, { authorization: ADMIN });
}

interface Answer {
  sentAt: number;
  receivedAt: number;
  status: number;
  version?: string;
  error?: string;
}

/** One inference over the keep-alive agent; never rejects (transport errors come back as `error`). */
function infer(agent: http.Agent, port: number, urlPath: string): Promise<Answer> {
  const sentAt = performance.now();
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: urlPath, method: 'POST', agent, headers: { authorization: PREDICT, 'content-type': 'application/json', 'content-length': Buffer.byteLength(ROW) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => {
          const a: Answer = { sentAt, receivedAt: performance.now(), status: res.statusCode ?? 0 };
          try {
            const body = JSON.parse(text) as { model_version?: string; error?: string };
            a.version = body.model_version;
            if (body.error) a.error = body.error;
          } catch {
            a.error = text.slice(0, 200);
          }
          resolve(a);
        });
        res.on('error', (err) => resolve({ sentAt, receivedAt: performance.now(), status: 0, error: err.message }));
      },
    );
    req.on('error', (err) => resolve({ sentAt, receivedAt: performance.now(), status: 0, error: (err as NodeJS.ErrnoException).code ?? err.message }));
    req.end(ROW);
  });
}

/** One write of the table: which version had 100%, when the PUT was sent and when its 200 came back. */
interface Flip {
  version: string;
  sentAt: number;
  returnedAt: number;
}

/**
 * A version is a valid answer to a request out during [sentAt, receivedAt] when some table that gave it 100% may
 * have been in force then: table k is certainly not in force before flips[k].sentAt, and certainly replaced once
 * flips[k+1].returnedAt has passed.
 */
function validVersion(flips: Flip[], a: Answer): boolean {
  return flips.some((f, k) => f.version === a.version && f.sentAt <= a.receivedAt && (k === flips.length - 1 || flips[k + 1]!.returnedAt >= a.sentAt));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('zero downtime during traffic flips, uploads and unloads (real process)', () => {
  const servers: Server[] = [];
  after(async () => {
    await Promise.all(servers.map(stopServer));
  });

  it('answers every unversioned request 2xx from a version the table named while 32 clients call it for 20 s', { timeout: 80_000 }, async () => {
    const s = await spawnServer(tempRepo('ortserve-zero-downtime-'));
    servers.push(s);
    const flips: Flip[] = [];
    const adminFailures: string[] = [];
    /** Uploaded versions the flips name with weight 0 (they must never answer). */
    const zeroWeight = new Set<string>();
    let flipsDone = 0;

    const flip = async (version: string) => {
      const weights: Record<string, number> = { [version]: 100 };
      for (const z of zeroWeight) weights[z] = 0;
      const sentAt = performance.now();
      const res = await call(s, 'PUT', '/admin/models/breast_cancer/traffic', { weights });
      const returnedAt = performance.now();
      if (res.status !== 200) adminFailures.push(`PUT traffic ${JSON.stringify(weights)} -> ${res.status} ${JSON.stringify(res.body)}`);
      else flips.push({ version, sentAt, returnedAt });
      flipsDone++;
    };
    const afterFlips = async (n: number) => {
      const target = flipsDone + n;
      while (flipsDone < target && !loadOver) await sleep(20);
    };

    // The table is set before any load: without one, the highest ready version (an upload) would serve.
    await flip('2');
    let loadOver = false;
    const loadEnds = performance.now() + LOAD_MS;

    const flipLoop = async () => {
      for (let i = 0; performance.now() < loadEnds; i++) {
        const next = performance.now() + FLIP_EVERY_MS;
        await flip(i % 2 === 0 ? '1' : '2');
        await sleep(Math.max(0, next - performance.now()));
      }
    };
    const uploads: string[] = [];
    const uploadLoop = async () => {
      for (let v = 3; performance.now() < loadEnds - 3000; v++) {
        const label = String(v);
        const up = await call(s, 'PUT', `/admin/models/breast_cancer/versions/${label}`, new Uint8Array(MODEL_V2_BYTES));
        if (up.status !== 201 || up.body?.state !== 'ready') {
          adminFailures.push(`upload ${label} -> ${up.status} ${JSON.stringify(up.body)}`);
          return;
        }
        uploads.push(label);
        zeroWeight.add(label);
        await afterFlips(2);
        zeroWeight.delete(label);
        await afterFlips(1);
        const del = await call(s, 'DELETE', `/admin/models/breast_cancer/versions/${label}`);
        if (del.status !== 200) adminFailures.push(`DELETE ${label} -> ${del.status} ${JSON.stringify(del.body)}`);
        await sleep(300);
      }
    };

    const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
    const answers: Answer[] = [];
    const client = async () => {
      while (performance.now() < loadEnds) answers.push(await infer(agent, s.port, '/v2/models/breast_cancer/infer'));
    };
    await Promise.all([flipLoop(), uploadLoop(), ...Array.from({ length: CLIENTS }, client)]);
    loadOver = true;
    agent.destroy();

    const perVersion: Record<string, number> = {};
    const failed = answers.filter((a) => a.status < 200 || a.status >= 300);
    const wrongVersion = answers.filter((a) => a.status >= 200 && a.status < 300 && !validVersion(flips, a));
    for (const a of answers) perVersion[a.version ?? `status ${a.status}`] = (perVersion[a.version ?? `status ${a.status}`] ?? 0) + 1;
    const index = await call(s, 'POST', '/v2/repository/index');
    console.log(
      `zero-downtime: ${answers.length} requests in ${LOAD_MS / 1000} s from ${CLIENTS} clients; per version ${JSON.stringify(perVersion)}; ` +
        `${flips.length} flips; uploads ${uploads.join(',') || 'none'}; non-2xx ${failed.length}; wrong version ${wrongVersion.length}`,
    );

    assert.deepEqual(adminFailures, [], 'every admin action succeeded');
    assert.ok(uploads.length >= 2, `several versions were uploaded and deleted during the load (got ${uploads.length})`);
    assert.ok(flips.length >= 10, `the table flipped many times (got ${flips.length})`);
    assert.deepEqual(failed.slice(0, 5), [], `every response is 2xx (${failed.length} were not)`);
    assert.deepEqual(wrongVersion.slice(0, 5), [], `every response comes from a version the table named at 100% while it was out (${wrongVersion.length} did not)`);
    assert.ok((perVersion['1'] ?? 0) > 0 && (perVersion['2'] ?? 0) > 0, 'both flipped versions served');
    for (const v of uploads) {
      assert.equal(perVersion[v], undefined, `version ${v} (weight 0) served nothing`);
      const entry = (index.body as { version: string; state: string }[]).find((e) => e.version === v);
      assert.equal(entry?.state, 'unloaded', `version ${v} ends unloaded`);
    }
  });

  it('finishes requests queued on a version that is deleted on that version, then refuses new ones', { timeout: 60_000 }, async () => {
    // Requests wait in the queue up to 5 s for a batch of 64 rows to fill, so the burst is still queued when the
    // DELETE arrives.
    // Polling off: one server, and a poll racing the upload could unload version 3 (see replicas.test.ts).
    const s = await spawnServer(tempRepo('ortserve-zero-downtime-'), { MAX_QUEUE_DELAY_MS: '5000', MAX_BATCH_SIZE: '64', REPOSITORY_POLL_INTERVAL_MS: '0' });
    servers.push(s);
    assert.equal((await call(s, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '2': 100 } })).status, 200);
    const up = await call(s, 'PUT', '/admin/models/breast_cancer/versions/3', new Uint8Array(MODEL_V2_BYTES));
    assert.equal(up.status, 201, JSON.stringify(up.body));

    const sessionsLoaded = async () => {
      const res = await fetch(`http://127.0.0.1:${s.port}/metrics`, { headers: { authorization: ADMIN } });
      const m = /^model_sessions_loaded (\d+)/m.exec(await res.text());
      return m ? Number(m[1]) : NaN;
    };
    const sessionsBefore = await sessionsLoaded();

    const BURST = 16;
    const agent = new http.Agent({ keepAlive: true, maxSockets: BURST });
    const burst = Array.from({ length: BURST }, () => infer(agent, s.port, '/v2/models/breast_cancer/versions/3/infer'));
    // Wait (bounded) until the whole burst is queued on version 3.
    let queued = 0;
    for (let i = 0; i < 100 && queued < BURST; i++) {
      const models = await call(s, 'GET', '/admin/models');
      const v3 = (models.body.models as { name: string; versions: { version: string; queue_depth: number }[] }[]).find((m) => m.name === 'breast_cancer')!.versions.find((v) => v.version === '3');
      queued = v3?.queue_depth ?? 0;
      if (queued < BURST) await sleep(20);
    }
    assert.equal(queued, BURST, 'the burst is queued on version 3 before the DELETE');

    const del = await call(s, 'DELETE', '/admin/models/breast_cancer/versions/3');
    assert.equal(del.status, 200, JSON.stringify(del.body));
    const answers = await Promise.all(burst);
    assert.deepEqual(
      answers.map((a) => `${a.status} ${a.version ?? a.error}`),
      answers.map(() => '200 3'),
      'every queued request answers 200 from version 3',
    );
    // Its sessions are gone once the DELETE has returned (one per worker thread).
    assert.equal(await sessionsLoaded(), sessionsBefore - 2);

    const late = await Promise.all(Array.from({ length: 4 }, () => infer(agent, s.port, '/v2/models/breast_cancer/versions/3/infer')));
    for (const a of late) assert.ok(a.status === 503 || a.status === 404, `a request sent after the DELETE is refused (got ${a.status} ${a.error ?? a.version})`);
    const unversioned = await infer(agent, s.port, '/v2/models/breast_cancer/infer');
    assert.equal(unversioned.status, 200);
    assert.equal(unversioned.version, '2');
    agent.destroy();
  });
});
