// A session worker thread that dies while serving. The fault is WorkerPool.killWorker, the pool's hook for fault
// tests: the worker's runs in flight fail at once, as on a crash, a replacement starts and reloads every session,
// and the old thread leaves between two runs. The hook is not reachable from outside the process, so the server
// runs in this process (buildServer on a real loopback port); requests go over HTTP.
// What must hold: only the batch the dead worker was running fails (500), the others are answered 200, the death is
// counted in runtime_worker_restarts_total, and the replacement serves every loaded version.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BUNDLED_MODELS, auth, startServer, type Started } from '../helpers/server.js';
import { RUNS_PER_WORKER } from '../../src/lifecycle/model-version.js';

const PREDICT = auth('predict', 'worker-death');

interface Answer {
  id: string;
  status: number;
  error?: string;
}

/** A digits request of `rows` images in the binary tensor extension (no JSON parsing of the pixels). */
function digitsBody(rows: number): { body: Buffer; headerLength: number } {
  const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', shape: [rows, 1, 8, 8], datatype: 'FP32', parameters: { binary_data_size: rows * 64 * 4 } }] }));
  const pixels = new Float32Array(rows * 64);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i % 17) / 17;
  return { body: Buffer.concat([header, Buffer.from(pixels.buffer)]), headerLength: header.length };
}

/** POSTs a body to `url`; never rejects (a transport error comes back as status 0). */
function post(agent: http.Agent, base: string, url: string, id: string, body: Buffer, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.request(`${base}${url}`, { method: 'POST', agent, headers: { ...PREDICT, ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const a: Answer = { id, status: res.statusCode ?? 0 };
        if (a.status !== 200) a.error = text.slice(0, 300);
        resolve(a);
      });
    });
    req.on('error', (err) => resolve({ id, status: 0, error: (err as NodeJS.ErrnoException).code ?? err.message }));
    req.end(body);
  });
}

function postDigits(agent: http.Agent, base: string, id: string, rows: number): Promise<Answer> {
  const { body, headerLength } = digitsBody(rows);
  return post(agent, base, '/v2/models/digits/infer', id, body, { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerLength) });
}

const ROW = Buffer.from(JSON.stringify({ inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: Array.from({ length: 30 }, (_, i) => (i % 4) / 4) }] }));
function postBreastCancer(agent: http.Agent, base: string, id: string, version: string): Promise<Answer> {
  return post(agent, base, `/v2/models/breast_cancer/versions/${version}/infer`, id, ROW, { 'content-type': 'application/json' });
}

async function restarts(s: Started): Promise<number> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const m = /^runtime_worker_restarts_total (\d+)/m.exec(text);
  assert.ok(m, 'runtime_worker_restarts_total is exported');
  return Number(m[1]);
}

/**
 * Resolves on the first turn of the event loop where the digits version has at least `depth` requests waiting,
 * so that the caller acts in that same turn (nothing can be dispatched in between).
 */
async function whenQueued(s: Started, depth: number, pending: Promise<unknown>): Promise<void> {
  const v = s.app.ortserve.manager.getVersion('digits', '1');
  let settled = false;
  void pending.finally(() => (settled = true));
  while (v.queueDepth < depth) {
    if (settled) throw new Error(`every request was answered before ${depth} were queued`);
    await sleep(1);
  }
}

describe('a worker thread that dies under load (two workers)', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ MODEL_REPOSITORY: BUNDLED_MODELS, WORKER_THREADS: '2', REPOSITORY_POLL_INTERVAL_MS: '0' });
  });
  after(() => s.close());

  it('fails only the batch the killed worker was running with 500; every other request gets 200', { timeout: 50_000 }, async () => {
    assert.equal(await restarts(s), 0);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    // 4,000 rows each: above max_batch_size (64), so every request runs alone and a batch is exactly one request.
    const load = Array.from({ length: 16 }, (_, i) => postDigits(agent, s.url, `big-${i}`, 4000));
    // With a request waiting, both run slots are taken: the least-busy pool gives each worker one run.
    await whenQueued(s, 1, Promise.all(load));
    void s.app.ortserve.pool.killWorker(0);
    const answers = await Promise.all(load);
    const failed = answers.filter((a) => a.status !== 200);
    assert.equal(failed.length, 1, `exactly one request (the one running on the killed worker) fails: ${JSON.stringify(failed)}`);
    assert.equal(failed[0]!.status, 500);
    assert.match(failed[0]!.error!, /inference failed for version '1' of model 'digits': worker thread exited/);
    assert.deepEqual(Object.keys(JSON.parse(failed[0]!.error!) as object), ['error']);
    assert.equal(await restarts(s), 1, 'the death is counted once');

    // Next requests succeed, on every loaded version.
    const next = await Promise.all([
      ...Array.from({ length: 8 }, (_, i) => postDigits(agent, s.url, `after-${i}`, 100)),
      ...Array.from({ length: 8 }, (_, i) => postBreastCancer(agent, s.url, `bc-${i}`, i % 2 === 0 ? '1' : '2')),
    ]);
    assert.deepEqual(next.filter((a) => a.status !== 200), []);
    agent.destroy();
  });
});

describe('the only worker thread dies (one worker)', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ MODEL_REPOSITORY: BUNDLED_MODELS, WORKER_THREADS: '1', REPOSITORY_POLL_INTERVAL_MS: '0' });
  });
  after(() => s.close());

  it('is replaced: runtime_worker_restarts_total counts it and the replacement serves every loaded version', { timeout: 30_000 }, async () => {
    const before = await restarts(s);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    await s.app.ortserve.pool.killWorker(0);
    assert.equal(await restarts(s), before + 1);
    // The old thread is gone (killWorker waited for it), so any 200 from now on comes from the replacement; poll
    // until it has reloaded its sessions (a hang guard bounds the wait, no duration is asserted).
    let first: Answer | undefined;
    for (let i = 0; i < 400 && first?.status !== 200; i++) {
      first = await postDigits(agent, s.url, `probe-${i}`, 1);
      if (first.status !== 200) await sleep(25);
    }
    assert.equal(first?.status, 200, `the replacement never served: ${JSON.stringify(first)}`);
    const all = await Promise.all([
      ...Array.from({ length: 6 }, (_, i) => postDigits(agent, s.url, `d-${i}`, 10)),
      ...Array.from({ length: 6 }, (_, i) => postBreastCancer(agent, s.url, `bc-${i}`, i % 2 === 0 ? '1' : '2')),
    ]);
    assert.deepEqual(all.filter((a) => a.status !== 200), [], 'every version answers from the replacement');
    agent.destroy();
  });

  it(
    'answers 200 to the requests queued behind the killed batch once the replacement is ready, instead of failing them',
    { timeout: 30_000 },
    async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
      // Seven requests above max_batch_size, so each runs alone: RUNS_PER_WORKER are sent to the only worker (one
      // runs, the next waits in the worker's queue and dies with it unstarted), the rest wait in the batcher.
      const load = Array.from({ length: 7 }, (_, i) => postDigits(agent, s.url, `r-${i}`, 4000));
      await whenQueued(s, 7 - RUNS_PER_WORKER, Promise.all(load));
      void s.app.ortserve.pool.killWorker(0);
      const answers = await Promise.all(load);
      agent.destroy();
      const failed = answers.filter((a) => a.status !== 200);
      assert.ok(failed.length >= 1 && failed[0]!.status === 500, `the batch the worker was running fails with 500: ${JSON.stringify(failed[0])}`);
      assert.deepEqual(
        failed.slice(1).map((a) => `${a.id} ${a.status} ${a.error ?? ''}`),
        [],
        'requests that were only queued when the worker died are not lost with it',
      );
    },
  );
});
