import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/process.js';
import { BUNDLED_MODELS, FIXTURE_MODELS, auth, startServer, type Started } from '../helpers/server.js';

const PROMTOOL = '/usr/bin/promtool';
/** Without promtool the checks that need it are skipped, except in CI (CI=true), where they fail. */
const promtoolSkip = existsSync(PROMTOOL) || process.env.CI === 'true' ? false : `${PROMTOOL} not found (Debian package prometheus); set CI=true to make this a failure`;

/** The contract of issue 4: name, type and label names. */
const CONTRACT: [name: string, type: string, labels: string[]][] = [
  ['inference_requests_total', 'counter', ['model', 'version', 'outcome']],
  ['inference_rows_total', 'counter', ['model', 'version']],
  ['inference_executions_total', 'counter', ['model', 'version']],
  ['inference_request_duration_seconds', 'histogram', ['model', 'version']],
  ['inference_queue_duration_seconds', 'histogram', ['model', 'version']],
  ['inference_compute_duration_seconds', 'histogram', ['model', 'version']],
  ['inference_batch_size', 'histogram', ['model', 'version']],
  ['inference_queue_depth', 'gauge', ['model', 'version']],
  ['http_request_duration_seconds', 'histogram', ['method', 'route', 'status_code']],
  ['model_ready', 'gauge', ['model', 'version']],
  ['model_input_drift_psi', 'gauge', ['model', 'version', 'input', 'feature']],
  ['model_prediction_drift_psi', 'gauge', ['model', 'version']],
  ['model_feedback_total', 'counter', ['model', 'version', 'outcome']],
  ['model_accuracy', 'gauge', ['model', 'version']],
  ['model_feedback_absolute_error', 'histogram', ['model', 'version']],
];

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the text format 0.0.4: TYPE lines and samples (label values here never contain '",' sequences). */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `unparseable sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { types, samples };
}

/** Samples of one metric (a histogram's _bucket/_sum/_count series included). */
function samplesOf(samples: Sample[], name: string, type: string): Sample[] {
  const names = type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
  return samples.filter((s) => names.includes(s.name));
}

function value(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

function promtoolCheckMetrics(body: string): { status: number | null; output: string } {
  assert.ok(existsSync(PROMTOOL), `${PROMTOOL} is required when CI=true (apt-get install prometheus)`);
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: body, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

async function post(url: string, body: unknown): Promise<{ status: number; json: { id?: string; outputs?: { data: number[] }[] } }> {
  const res = await fetch(url, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as { id?: string } };
}

const bcRows = (rows: number) => ({ inputs: [{ name: 'input', shape: [rows, 30], datatype: 'FP32', data: Array.from({ length: rows * 30 }, (_, i) => 5 + (i % 30)) }] });
const gatherRows = (idx: number[]) => ({
  inputs: [
    { name: 'data', shape: [idx.length, 4], datatype: 'FP32', data: idx.flatMap(() => [1, 2, 3, 4]) },
    { name: 'idx', shape: [idx.length, 1], datatype: 'INT64', data: idx },
  ],
});

/** PSI gauges read NaN from load until rows arrive; these lines show computed values for breast_cancer v2. */
const DRIFT_SET = [
  /^model_input_drift_psi\{model="breast_cancer",version="2",input="input",feature="mean radius"\} [0-9.e+-]+$/m,
  /^model_prediction_drift_psi\{model="breast_cancer",version="2"\} [0-9.e+-]+$/m,
];

describe('GET /metrics on the API port', () => {
  let s: Started;
  let repo: string;
  let text: string;
  let contentType: string | null;
  let status: number;
  let parsed: ReturnType<typeof parseExposition>;
  const bcRowCounts = [1, 3, 20];
  const inferStatuses: number[] = [];
  const feedbackStatuses: number[] = [];

  before(async () => {
    // breast_cancer (a classifier with baseline.json) and gather_fail (a regression by shape [batch, 1] whose
    // run fails for idx >= 4), so every contract metric gets children.
    repo = await mkdtemp(path.join(os.tmpdir(), 'ortserve-metrics-'));
    await cp(path.join(BUNDLED_MODELS, 'breast_cancer'), path.join(repo, 'breast_cancer'), { recursive: true });
    await cp(path.join(FIXTURE_MODELS, 'gather_fail'), path.join(repo, 'gather_fail'), { recursive: true });
    s = await startServer({ MODEL_REPOSITORY: repo, DRIFT_INTERVAL_MS: '50' });

    const ids: string[] = [];
    for (const rows of bcRowCounts) {
      const r = await post(`${s.url}/v2/models/breast_cancer/infer`, bcRows(rows));
      inferStatuses.push(r.status);
      ids.push(r.json.id!);
    }
    const ok1 = await post(`${s.url}/v2/models/gather_fail/infer`, gatherRows([0]));
    const ok2 = await post(`${s.url}/v2/models/gather_fail/infer`, gatherRows([1, 2]));
    const failed = await post(`${s.url}/v2/models/gather_fail/infer`, gatherRows([7]));
    inferStatuses.push(ok1.status, ok2.status, failed.status);
    await fetch(`${s.url}/no/such/path/12345`);

    feedbackStatuses.push((await post(`${s.url}/v2/models/breast_cancer/feedback`, { id: ids[0], labels: [1] })).status);
    feedbackStatuses.push((await post(`${s.url}/v2/models/gather_fail/feedback`, { id: ok1.json.id, labels: [0.5] })).status);

    // PSI is computed off the request path every DRIFT_INTERVAL_MS: wait (bounded) for the gauges to be set.
    for (let i = 0; i < 100; i++) {
      const res = await fetch(`${s.url}/metrics`);
      status = res.status;
      contentType = res.headers.get('content-type');
      text = await res.text();
      if (DRIFT_SET.every((re) => re.test(text))) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    parsed = parseExposition(text);
  });
  after(async () => {
    await s?.close();
    if (repo) await rm(repo, { recursive: true, force: true });
  });

  it('sent the traffic the counts below expect (3 + 2 answered, 1 failed run, 2 feedbacks accepted)', () => {
    assert.deepEqual(inferStatuses, [200, 200, 200, 200, 200, 500]);
    assert.deepEqual(feedbackStatuses, [202, 202]);
  });

  it('answers without a token in the Prometheus text format 0.0.4', () => {
    assert.equal(status, 200);
    assert.match(contentType ?? '', /^text\/plain; version=0\.0\.4/);
  });

  it('passes promtool check metrics without a single problem', { skip: promtoolSkip }, () => {
    const r = promtoolCheckMetrics(text);
    assert.equal(r.output, '', `promtool reported:\n${r.output}`);
    assert.equal(r.status, 0);
  });

  for (const [name, type, labels] of CONTRACT) {
    it(`exports ${name} as a ${type} with labels ${labels.join(', ')}`, () => {
      assert.equal(parsed.types.get(name), type, `TYPE of ${name}`);
      const series = samplesOf(parsed.samples, name, type);
      assert.ok(series.length > 0, `${name} has no samples`);
      for (const sample of series) {
        const names = Object.keys(sample.labels).filter((l) => l !== 'le').sort();
        assert.deepEqual(names, [...labels].sort(), `labels of ${sample.name}${JSON.stringify(sample.labels)}`);
      }
    });
  }

  it('counts each successful, failed and unanswered inference request once, by outcome', () => {
    const req = (model: string, version: string, outcome: string) => value(parsed.samples, 'inference_requests_total', { model, version, outcome });
    assert.equal(req('breast_cancer', '2', 'success'), bcRowCounts.length);
    assert.equal(req('gather_fail', '1', 'success'), 2);
    assert.equal(req('gather_fail', '1', 'error'), 1);
    assert.equal(req('breast_cancer', '2', 'error'), 0);
    const success = parsed.samples.filter((x) => x.name === 'inference_requests_total' && x.labels.outcome === 'success');
    assert.equal(success.reduce((a, x) => a + x.value, 0), bcRowCounts.length + 2);
  });

  it('counts rows, runs and request durations per version', () => {
    const rows = bcRowCounts.reduce((a, b) => a + b, 0);
    const bc = { model: 'breast_cancer', version: '2' };
    assert.equal(value(parsed.samples, 'inference_rows_total', bc), rows);
    assert.equal(value(parsed.samples, 'inference_batch_size_sum', bc), rows);
    const runs = value(parsed.samples, 'inference_executions_total', bc)!;
    assert.ok(runs >= 1 && runs <= bcRowCounts.length, `runs ${runs}`);
    assert.equal(value(parsed.samples, 'inference_batch_size_count', bc), runs);
    assert.equal(value(parsed.samples, 'inference_request_duration_seconds_count', bc), bcRowCounts.length);
    assert.equal(value(parsed.samples, 'inference_request_duration_seconds_bucket', { ...bc, le: '+Inf' }), bcRowCounts.length);
  });

  it('labels HTTP durations with route templates, never raw URLs', () => {
    const http = parsed.samples.filter((x) => x.name === 'http_request_duration_seconds_count');
    const routes = new Set(http.map((x) => x.labels.route));
    assert.ok(routes.has('/v2/models/:model/infer'), `routes: ${[...routes].join(', ')}`);
    assert.equal(value(parsed.samples, 'http_request_duration_seconds_count', { method: 'POST', route: '/v2/models/:model/infer', status_code: '200' }), bcRowCounts.length + 2);
    assert.equal(value(parsed.samples, 'http_request_duration_seconds_count', { method: 'POST', route: '/v2/models/:model/infer', status_code: '500' }), 1);
    for (const route of routes) {
      assert.ok(!/breast_cancer|gather_fail|12345/.test(route!), `raw URL in route label: ${route}`);
    }
  });

  it('creates label children for every loaded version at load time, ready = 1', () => {
    for (const version of ['1', '2']) assert.equal(value(parsed.samples, 'model_ready', { model: 'breast_cancer', version }), 1);
    assert.equal(value(parsed.samples, 'model_ready', { model: 'gather_fail', version: '1' }), 1);
    // breast_cancer v1 served nothing: its children exist anyway, at zero.
    for (const outcome of ['success', 'error', 'rejected']) assert.equal(value(parsed.samples, 'inference_requests_total', { model: 'breast_cancer', version: '1', outcome }), 0);
    assert.equal(value(parsed.samples, 'inference_queue_depth', { model: 'breast_cancer', version: '1' }), 0);
  });

  it('sets input drift PSI per feature, labelled by the feature names of config.json, once rows arrive', () => {
    const features = parsed.samples.filter((x) => x.name === 'model_input_drift_psi' && x.labels.model === 'breast_cancer' && x.labels.version === '2');
    assert.equal(features.length, 30);
    assert.ok(features.some((x) => x.labels.input === 'input' && x.labels.feature === 'worst fractal dimension'));
    for (const re of DRIFT_SET) assert.match(text, re);
  });

  it('drops prom-client default gauges whose names end in _total', () => {
    for (const [name, type] of parsed.types) {
      if (name.endsWith('_total')) assert.equal(type, 'counter', `${name} is a ${type}`);
    }
  });
});

describe('METRICS_PORT', () => {
  let s: Started;
  let metricsUrl: string;
  before(async () => {
    const port = await freePort();
    s = await startServer({ MODEL_REPOSITORY: BUNDLED_MODELS, METRICS_PORT: String(port) });
    assert.ok(s.app.ortserve.metricsServer, 'METRICS_PORT builds a metrics server');
    // As main.ts does: the API server listens, then the metrics server on METRICS_PORT.
    await s.app.ortserve.metricsServer.listen({ host: '127.0.0.1', port });
    metricsUrl = `http://127.0.0.1:${port}`;
  });
  after(() => s?.close());

  it('serves /metrics on its own port', async () => {
    const res = await fetch(`${metricsUrl}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(await res.text(), /^model_ready\{model="breast_cancer",version="2"\} 1$/m);
  });

  it('no longer serves /metrics on the API port', async () => {
    const res = await fetch(`${s.url}/metrics`);
    assert.equal(res.status, 404);
  });

  it('serves nothing but /metrics on the metrics port', async () => {
    const res = await fetch(`${metricsUrl}/v2/health/ready`);
    assert.equal(res.status, 404);
  });
});
