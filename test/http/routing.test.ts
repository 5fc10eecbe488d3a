// Where unversioned requests go, over a real port: traffic weights, sticky X-Routing-Key, versioned URLs that bypass
// the table, shadow copies and their metrics, and the model_traffic_weight gauge.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keyPoint } from '../../src/lifecycle/traffic-table.js';
import { removeRepo, tempRepo } from '../helpers/repo.js';
import { auth, FIXTURE_MODELS, ROOT, startServer, type Started } from '../helpers/server.js';

const ADMIN = auth('admin', 'ops');
const PREDICT = auth('predict', 'client');
const DATA = JSON.parse(fs.readFileSync(path.join(ROOT, 'test/fixtures/data/breast_cancer.json'), 'utf8')) as { test: { X: number[][] } };
const TEST_ROWS = DATA.test.X;

interface InferReply {
  status: number;
  version: string;
  outputs: { name: string; data: number[] }[];
}

async function serve(dir: string): Promise<Started> {
  return startServer({ MODEL_REPOSITORY: dir, REPOSITORY_POLL_INTERVAL_MS: '0' });
}

async function admin(s: Started, method: string, url: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${s.url}${url}`, {
    method,
    headers: { ...ADMIN, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

async function setTraffic(s: Started, table: unknown): Promise<void> {
  const res = await admin(s, 'PUT', '/admin/models/breast_cancer/traffic', table);
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

async function inferRows(s: Started, rows: number[][], opts: { model?: string; version?: string; input?: string; headers?: Record<string, string> } = {}): Promise<InferReply> {
  const model = opts.model ?? 'breast_cancer';
  const url = opts.version ? `${s.url}/v2/models/${model}/versions/${opts.version}/infer` : `${s.url}/v2/models/${model}/infer`;
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...PREDICT, 'content-type': 'application/json', ...opts.headers },
    body: JSON.stringify({ inputs: [{ name: opts.input ?? 'input', shape: [rows.length, rows[0]!.length], datatype: 'FP32', data: rows.flat() }] }),
  });
  const body = (await res.json()) as { model_version: string; outputs: { name: string; data: number[] }[]; error?: string };
  return { status: res.status, version: body.model_version, outputs: body.outputs };
}

/** Runs `n` tasks, `concurrency` at a time, and returns their results in order. */
async function pooled<T>(n: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

/** The value of one series in /metrics, or undefined when it is not exported. */
async function metric(s: Started, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (wanted.length === 0 && line.startsWith(`${name} `)) return Number(line.slice(name.length + 1));
    if (!line.startsWith(`${name}{`)) continue;
    const inside = line.slice(name.length + 1, line.indexOf('}'));
    const parts = inside.split(',');
    if (parts.length === wanted.length && wanted.every((w) => parts.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/** Polls until `read` returns `want` (the shadow runs after the primary answered); gives up after 20 s. */
async function eventually(read: () => Promise<number | undefined>, want: number): Promise<number | undefined> {
  const deadline = Date.now() + 20_000;
  let got = await read();
  while (got !== want && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    got = await read();
  }
  return got;
}

const argmax = (d: number[], start: number, width: number) => {
  let best = 0;
  for (let k = 1; k < width; k++) if (d[start + k]! > d[start + best]!) best = k;
  return best;
};

describe('routing of unversioned requests', () => {
  let dir: string;
  let s: Started;
  before(async () => {
    dir = tempRepo('ortserve-routing-');
    s = await serve(dir);
  });
  after(async () => {
    await s.close();
    removeRepo(dir);
  });
  const weight = (version: string) => metric(s, 'model_traffic_weight', { model: 'breast_cancer', version });

  it('sends everything to the highest ready version with no table, and the gauge says 100 and 0', async () => {
    const replies = await pooled(20, 4, () => inferRows(s, [TEST_ROWS[0]!]));
    assert.deepEqual(new Set(replies.map((r) => r.version)), new Set(['2']));
    assert.equal(await weight('2'), 100);
    assert.equal(await weight('1'), 0);
  });

  it('splits 1,000 requests about 90/10 under weights 90/10, and the gauge says 90 and 10', async () => {
    await setTraffic(s, { weights: { '1': 90, '2': 10 } });
    assert.equal(await weight('1'), 90);
    assert.equal(await weight('2'), 10);
    const n = 1000;
    const replies = await pooled(n, 16, (i) => inferRows(s, [TEST_ROWS[i % TEST_ROWS.length]!]));
    assert.ok(replies.every((r) => r.status === 200));
    const canary = replies.filter((r) => r.version === '2').length;
    assert.equal(replies.filter((r) => r.version === '1').length + canary, n);
    // Binomial(1,000, 0.1): mean 100, standard deviation 9.5; 10% +/- 4% is more than four of them.
    assert.ok(canary >= 60 && canary <= 140, `version 2 got ${canary} of ${n}`);
  });

  it('sends the same X-Routing-Key to the same version every time, and spreads different keys over both', async () => {
    await setTraffic(s, { weights: { '1': 50, '2': 50 } });
    const keys = Array.from({ length: 60 }, (_, i) => `user-${i}`);
    const seen = new Map<string, Set<string>>();
    await pooled(keys.length * 4, 12, async (i) => {
      const key = keys[i % keys.length]!;
      const r = await inferRows(s, [TEST_ROWS[i % TEST_ROWS.length]!], { headers: { 'x-routing-key': key } });
      assert.equal(r.status, 200);
      if (!seen.has(key)) seen.set(key, new Set());
      seen.get(key)!.add(r.version);
    });
    for (const key of keys) {
      assert.deepEqual([...seen.get(key)!], [keyPoint(key) < 50 ? '1' : '2'], `key ${key} landed on ${[...seen.get(key)!]}`);
    }
    const onTwo = keys.filter((k) => seen.get(k)!.has('2')).length;
    assert.ok(onTwo > 10 && onTwo < 50, `${onTwo} of ${keys.length} keys on version 2`);
  });

  it('keeps a key on its version when another table with the same weights is written', async () => {
    const before = await inferRows(s, [TEST_ROWS[1]!], { headers: { 'x-routing-key': 'session-42' } });
    await setTraffic(s, { weights: { '1': 50, '2': 50 }, shadow: null });
    for (let i = 0; i < 5; i++) assert.equal((await inferRows(s, [TEST_ROWS[1]!], { headers: { 'x-routing-key': 'session-42' } })).version, before.version);
  });

  it('lets versioned URLs bypass the table', async () => {
    await setTraffic(s, { weights: { '2': 100 } });
    assert.equal(await weight('1'), 0);
    assert.equal(await weight('2'), 100);
    const one = await pooled(30, 6, () => inferRows(s, [TEST_ROWS[2]!], { version: '1', headers: { 'x-routing-key': 'user-1' } }));
    assert.ok(one.every((r) => r.status === 200 && r.version === '1'));
    const unversioned = await pooled(30, 6, () => inferRows(s, [TEST_ROWS[2]!]));
    assert.ok(unversioned.every((r) => r.version === '2'));
  });

  it('gives a shadow-only version weight 0 in the gauge', async () => {
    await setTraffic(s, { weights: { '1': 100 }, shadow: { version: '2', fraction: 0.5 } });
    assert.equal(await weight('1'), 100);
    assert.equal(await weight('2'), 0);
  });
});

describe('shadow traffic', () => {
  let dir: string;
  let s: Started;
  before(async () => {
    dir = tempRepo('ortserve-shadow-');
    s = await serve(dir);
  });
  after(async () => {
    await s.close();
    removeRepo(dir);
  });
  const shadowMetric = (name: string) => metric(s, name, { model: 'breast_cancer', version: '2' });

  it('with fraction 1 mirrors every request to the shadow, answers from the primary, and counts the rows where they disagree', async () => {
    // Which of the held-out rows do versions 1 and 2 classify differently? Ask both.
    const [v1, v2] = await Promise.all([inferRows(s, TEST_ROWS, { version: '1' }), inferRows(s, TEST_ROWS, { version: '2' })]);
    const disagree: number[] = [];
    for (let i = 0; i < TEST_ROWS.length; i++) if (argmax(v1.outputs[0]!.data, 2 * i, 2) !== argmax(v2.outputs[0]!.data, 2 * i, 2)) disagree.push(i);
    assert.ok(disagree.length > 0, 'the fixture rows should hold rows where the versions disagree');

    await setTraffic(s, { weights: { '1': 100 }, shadow: { version: '2', fraction: 1 } });
    assert.equal(await shadowMetric('model_shadow_requests_total'), undefined, 'no shadow series before the first copy');
    const replies = await pooled(TEST_ROWS.length, 4, (i) => inferRows(s, [TEST_ROWS[i]!]));
    for (const [i, r] of replies.entries()) {
      assert.equal(r.status, 200);
      assert.equal(r.version, '1');
      for (let k = 0; k < 2; k++) assert.ok(Math.abs(r.outputs[0]!.data[k]! - v1.outputs[0]!.data[2 * i + k]!) < 1e-5, `row ${i} was not answered by version 1`);
    }
    assert.equal(await shadowMetric('model_shadow_requests_total'), TEST_ROWS.length);
    assert.equal(await eventually(() => shadowMetric('model_shadow_absolute_difference_count'), TEST_ROWS.length), TEST_ROWS.length);
    assert.equal(await shadowMetric('model_shadow_disagreements_total'), disagree.length, `rows ${disagree.join(', ')} disagree`);
    assert.equal(await metric(s, 'model_shadow_requests_total', { model: 'breast_cancer', version: '1' }), undefined, 'the primary is not labelled as a shadow');
  });

  it('counts no disagreement for a request on which both versions agree', async () => {
    const before = await shadowMetric('model_shadow_disagreements_total');
    const sent = (await shadowMetric('model_shadow_requests_total'))!;
    const [v1, v2] = await Promise.all([inferRows(s, [TEST_ROWS[0]!], { version: '1' }), inferRows(s, [TEST_ROWS[0]!], { version: '2' })]);
    assert.equal(argmax(v1.outputs[0]!.data, 0, 2), argmax(v2.outputs[0]!.data, 0, 2));
    for (let i = 0; i < 10; i++) await inferRows(s, [TEST_ROWS[0]!]);
    assert.equal(await eventually(() => shadowMetric('model_shadow_absolute_difference_count'), sent + 10), sent + 10);
    assert.equal(await shadowMetric('model_shadow_disagreements_total'), before);
  });

  it('mirrors about half the requests with fraction 0.5', async () => {
    await setTraffic(s, { weights: { '1': 100 }, shadow: { version: '2', fraction: 0.5 } });
    const before = (await shadowMetric('model_shadow_requests_total'))!;
    await pooled(400, 4, (i) => inferRows(s, [TEST_ROWS[i % TEST_ROWS.length]!]));
    const mirrored = (await shadowMetric('model_shadow_requests_total'))! - before;
    // Binomial(400, 0.5): standard deviation 10; 140..260 is six of them.
    assert.ok(mirrored > 140 && mirrored < 260, `${mirrored} of 400 mirrored`);
  });

  it('removes the shadow series when the shadow version is unloaded', async () => {
    await setTraffic(s, { weights: { '1': 100 } });
    assert.equal((await admin(s, 'DELETE', '/admin/models/breast_cancer/versions/2')).status, 200);
    assert.equal(await shadowMetric('model_shadow_requests_total'), undefined);
    assert.equal(await shadowMetric('model_shadow_disagreements_total'), undefined);
    assert.equal(await metric(s, 'model_traffic_weight', { model: 'breast_cancer', version: '2' }), undefined);
    assert.equal(await metric(s, 'model_traffic_weight', { model: 'breast_cancer', version: '1' }), 100);
  });
});

describe('a shadow that fails', () => {
  let dir: string;
  let s: Started;
  before(async () => {
    // Version 2 of `twice` expects FP64: every FP32 copy mirrored to it fails inside onnxruntime.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ortserve-shadow-fail-'));
    fs.cpSync(path.join(FIXTURE_MODELS, 'dtype_fp32/1'), path.join(dir, 'twice/1'), { recursive: true });
    fs.cpSync(path.join(FIXTURE_MODELS, 'dtype_fp64/1'), path.join(dir, 'twice/2'), { recursive: true });
    s = await serve(dir);
  });
  after(async () => {
    await s.close();
    removeRepo(dir);
  });

  it('never fails or changes the primary answer, and counts each failed copy as a disagreement', async () => {
    const put = await admin(s, 'PUT', '/admin/models/twice/traffic', { weights: { '1': 100 }, shadow: { version: '2', fraction: 1 } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const n = 40;
    const replies = await pooled(n, 4, (i) => inferRows(s, [[i, i + 1, i + 2]], { model: 'twice', input: 'x' }));
    for (const [i, r] of replies.entries()) {
      assert.equal(r.status, 200);
      assert.equal(r.version, '1');
      assert.deepEqual(r.outputs[0]!.data, [2 * i, 2 * i + 2, 2 * i + 4]);
    }
    const labels = { model: 'twice', version: '2' };
    assert.equal(await metric(s, 'model_shadow_requests_total', labels), n);
    assert.equal(await eventually(() => metric(s, 'model_shadow_disagreements_total', labels), n), n);
    assert.equal(await metric(s, 'model_shadow_absolute_difference_count', labels), undefined, 'a failed copy has no difference to observe');
    assert.equal(await metric(s, 'runtime_worker_restarts_total', {}), 0);
    // Both versions still serve.
    const fp64 = await fetch(`${s.url}/v2/models/twice/versions/2/infer`, {
      method: 'POST',
      headers: { ...PREDICT, 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP64', data: [1, 2, 3] }] }),
    });
    assert.equal(fp64.status, 200);
  });
});

describe('shadow metrics of a version unloaded while a copy is under way', () => {
  let dir: string;
  let s: Started;
  before(async () => {
    // Requests wait up to 1.5 s in their queue for a batch of 64 that never fills: a window in which to change
    // the table and unload the shadow.
    dir = tempRepo('ortserve-shadow-race-');
    const configFile = path.join(dir, 'breast_cancer/config.json');
    const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(configFile, JSON.stringify({ ...config, max_queue_delay_ms: 1500, preferred_batch_sizes: [64] }));
    s = await serve(dir);
  });
  after(async () => {
    await s.close();
    removeRepo(dir);
  });

  /** /metrics lines (no comments) labelled with breast_cancer version 2. */
  const versionTwoSeries = async () =>
    (await (await fetch(`${s.url}/metrics`)).text()).split('\n').filter((l) => !l.startsWith('#') && l.includes('model="breast_cancer"') && l.includes('version="2"'));
  const queueDepth = async (version: string) => {
    const body = (await admin(s, 'GET', '/admin/models')).body as { models: { name: string; versions: { version: string; queue_depth: number }[] }[] };
    return body.models.find((m) => m.name === 'breast_cancer')!.versions.find((v) => v.version === version)!.queue_depth;
  };

  it('creates no series for a shadow unloaded before its primary answered', async () => {
    await setTraffic(s, { weights: { '1': 100 }, shadow: { version: '2', fraction: 1 } });
    const primary = inferRows(s, [TEST_ROWS[0]!]);
    assert.equal(await eventually(() => queueDepth('1'), 1), 1);
    await setTraffic(s, { weights: { '1': 100 } });
    assert.equal((await admin(s, 'DELETE', '/admin/models/breast_cancer/versions/2')).status, 200);
    const reply = await primary;
    assert.equal(reply.status, 200);
    assert.equal(reply.version, '1');
    assert.deepEqual(await versionTwoSeries(), []);
  });

  it('creates no series for a shadow unloaded while its copy was queued', async () => {
    assert.equal((await admin(s, 'POST', '/v2/repository/models/breast_cancer/load')).status, 200);
    await setTraffic(s, { weights: { '1': 100 }, shadow: { version: '2', fraction: 1 } });
    const reply = await inferRows(s, [TEST_ROWS[0]!]);
    assert.equal(reply.version, '1');
    // The copy now waits in version 2's queue; unloading drains it first.
    await setTraffic(s, { weights: { '1': 100 } });
    assert.equal((await admin(s, 'DELETE', '/admin/models/breast_cancer/versions/2')).status, 200);
    assert.deepEqual(await versionTwoSeries(), []);
  });
});
