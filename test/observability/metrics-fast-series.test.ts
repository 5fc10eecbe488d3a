// The request path updates its counters and histograms through direct handles on prom-client's series records
// (metrics.ts, counterSeries/histogramSeries) instead of label children that hash their labels on every call.
// These tests hold the handles to the public API: same values in, the same exposition out; and they fail when a
// prom-client upgrade changes its records, so the fall-back to label children is noticed, not silent.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import client from 'prom-client';
import { counterSeries, histogramSeries, Metrics } from '../../src/observability/metrics.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];

/** Values on, between, below and above the bucket bounds, plus zero and a large value. */
const VALUES = [0, 0.0005, 0.001, 0.0010001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 1.5, 1e6];

describe('direct series handles (metrics.ts)', () => {
  it('are direct with the prom-client of the lockfile (not the label-child fall-back)', () => {
    const h = new client.Histogram({ name: 'direct_seconds', help: 'h', labelNames: ['a'], buckets: BUCKETS, registers: [] });
    const c = new client.Counter({ name: 'direct_total', help: 'c', labelNames: ['a'], registers: [] });
    assert.equal(histogramSeries(h, { a: 'x' }, BUCKETS).direct, true);
    assert.equal(counterSeries(c, { a: 'x' }).direct, true);
    // A handle whose buckets are not exactly the metric's falls back to the label child.
    assert.equal(histogramSeries(h, { a: 'y' }, [...BUCKETS, 10]).direct, false);
  });

  it('a histogram fed through a handle exposes exactly what observe() through a label child exposes', async () => {
    const registry = new client.Registry();
    const viaApi = new client.Histogram({ name: 'via_api_seconds', help: 'h', labelNames: ['model', 'version'], buckets: BUCKETS, registers: [registry] });
    const viaHandle = new client.Histogram({ name: 'via_handle_seconds', help: 'h', labelNames: ['model', 'version'], buckets: BUCKETS, registers: [registry] });
    const labels = { model: 'm', version: '1' };
    const handle = histogramSeries(viaHandle, labels, BUCKETS);
    viaApi.zero(labels);
    // A second series on the same metric must stay untouched by the first one's handle.
    const other = histogramSeries(viaHandle, { model: 'm', version: '2' }, BUCKETS);
    for (const v of VALUES) {
      viaApi.labels(labels).observe(v);
      handle.observe(v);
    }
    other.observe(0.5);
    const api = (await viaApi.get()).values;
    const fast = (await viaHandle.get()).values.filter((s) => s.labels.version === '1');
    assert.deepEqual(
      fast.map((s) => [s.metricName?.replace('via_handle', 'via_api'), s.labels, s.value]),
      api.map((s) => [s.metricName, s.labels, s.value]),
    );
    const count2 = (await viaHandle.get()).values.find((s) => s.labels.version === '2' && s.metricName === 'via_handle_seconds_count');
    assert.equal(count2?.value, 1);
  });

  it('a counter fed through a handle counts as inc() does, per series', async () => {
    const c = new client.Counter({ name: 'c_total', help: 'c', labelNames: ['outcome'], registers: [] });
    const ok = counterSeries(c, { outcome: 'ok' });
    const bad = counterSeries(c, { outcome: 'bad' });
    ok.inc();
    ok.inc(4);
    bad.inc(2);
    c.inc({ outcome: 'ok' }, 10);
    const values = Object.fromEntries((await c.get()).values.map((s) => [s.labels.outcome, s.value]));
    assert.deepEqual(values, { ok: 15, bad: 2 });
  });

  it('reads a version queue depth at scrape time and drops the series when the version goes', async () => {
    const m = new Metrics({ defaultMetrics: false });
    const v = m.version('digits', '3');
    let depth = 7;
    v.queueDepthSource = () => depth;
    assert.match(await m.text(), /^inference_queue_depth\{model="digits",version="3"\} 7$/m);
    depth = 2;
    assert.match(await m.text(), /^inference_queue_depth\{model="digits",version="3"\} 2$/m);
    v.requestDone(200, 0.003);
    v.batchDone(5, 0.002, true);
    const text = await m.text();
    assert.match(text, /^inference_requests_total\{model="digits",version="3",outcome="success"\} 1$/m);
    assert.match(text, /^inference_rows_total\{model="digits",version="3"\} 5$/m);
    assert.match(text, /^inference_batch_size_bucket\{le="4",model="digits",version="3"\} 0$/m);
    assert.match(text, /^inference_batch_size_bucket\{le="8",model="digits",version="3"\} 1$/m);
    assert.match(text, /^inference_request_duration_seconds_count\{model="digits",version="3"\} 1$/m);
    v.remove();
    assert.doesNotMatch(await m.text(), /version="3"/);
  });

  it('a version loaded again after a failed load owns the queue-depth series; its unload leaves none behind', async () => {
    const m = new Metrics({ defaultMetrics: false });
    // The failed load's metrics are never removed (the record stays listed as failed) ...
    const failed = m.version('digits', '4');
    failed.queueDepthSource = undefined;
    // ... and the load that replaces it creates its own.
    const loaded = m.version('digits', '4');
    loaded.queueDepthSource = () => 3;
    assert.match(await m.text(), /^inference_queue_depth\{model="digits",version="4"\} 3$/m);
    loaded.remove();
    assert.doesNotMatch(await m.text(), /version="4"/, 'no stale entry writes the series back at scrape time');
  });
});
