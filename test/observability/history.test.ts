// The console's history sampler over real VersionStats and real Prometheus children, sampled at explicit times
// (sample(now)) so every number is exact; one case runs the real timer.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VersionStats } from '../../src/lifecycle/version-stats.js';
import { History, quantileMs, type SampledVersion } from '../../src/observability/history.js';
import { Metrics, type VersionMetrics } from '../../src/observability/metrics.js';

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);

/** A version as the sampler sees it, with the counters the request path would update. */
class FakeLoad implements SampledVersion {
  readonly stats = new VersionStats();
  readonly metrics: VersionMetrics;
  state = 'ready';
  queueDepth = 0;
  constructor(
    m: Metrics,
    readonly model: string,
    readonly label: string,
    readonly sessionKey: string,
    readonly loadedAt: Date | undefined = new Date(T0),
  ) {
    this.metrics = m.version(model, label);
  }
  /** `n` requests of `rows` rows each (one batch per request), each taking `seconds`. */
  serve(n: number, rows: number, seconds: number): void {
    for (let i = 0; i < n; i++) {
      this.stats.batchExecuted(rows, 1e5, true);
      this.stats.requestSucceeded(seconds * 1e9, 1e4, 1e5);
      this.metrics.requestDone(200, seconds);
    }
  }
  fail(n: number): void {
    for (let i = 0; i < n; i++) {
      this.stats.requestFailed(1e6);
      this.metrics.requestDone(500, 0.001);
    }
  }
}

function setup(intervalMs = 5000, retainMs = 60_000) {
  const metrics = new Metrics({ defaultMetrics: false });
  const versions: FakeLoad[] = [];
  const history = new History({ versions: () => versions, metrics, intervalMs, retainMs });
  return { metrics, versions, history };
}

describe('history sampler', () => {
  it('turns counter deltas between samples into rows/s, requests/s and error rate per interval', async () => {
    const { metrics, versions, history } = setup();
    const v = new FakeLoad(metrics, 'm', '1', 'm/1#1');
    versions.push(v);
    await history.sample(T0 + 5000);
    v.serve(10, 4, 0.002);
    v.fail(10);
    v.queueDepth = 3;
    await history.sample(T0 + 10_000);
    const p = history.points('m', '1');
    // A zero sample at load time leads, so the first interval (load -> first sample) is a point too.
    assert.deepEqual(p.t, [T0 + 5000, T0 + 10_000]);
    assert.deepEqual(p.rows_per_second, [0, 40 / 5]);
    assert.deepEqual(p.requests_per_second, [0, 20 / 5]);
    assert.deepEqual(p.error_rate, [null, 0.5]);
    assert.deepEqual(p.queue_depth, [0, 3]);
    assert.equal(p.mean_ms[1], 2, 'mean of the successful requests');
  });

  it('reads p50 and p99 from the latency histogram of the interval only', async () => {
    const { metrics, versions, history } = setup();
    const v = new FakeLoad(metrics, 'm', '1', 'm/1#1');
    versions.push(v);
    v.serve(100, 1, 0.2); // before the first sample: not in the second interval
    await history.sample(T0 + 5000);
    v.serve(98, 1, 0.0007); // bucket (0.5 ms, 1 ms]
    v.serve(2, 1, 0.04); // bucket (25 ms, 50 ms]
    await history.sample(T0 + 10_000);
    const p = history.points('m', '1');
    const p50 = p.p50_ms[1]!;
    const p99 = p.p99_ms[1]!;
    assert.ok(p50 > 0.5 && p50 <= 1, `p50 ${p50} ms lies in the (0.5, 1] ms bucket`);
    assert.ok(p99 > 25 && p99 <= 50, `p99 ${p99} ms lies in the (25, 50] ms bucket`);
    assert.ok(p.p50_ms[0]! > 100, 'the first interval holds the slow requests');
  });

  it('computes histogram quantiles as Prometheus does, and null for an empty histogram', () => {
    const bounds = [0.001, 0.01, Infinity];
    assert.equal(quantileMs(bounds, [0, 0, 0], 0.5), null);
    assert.equal(quantileMs(bounds, [10, 10, 10], 0.5), 0.5, 'halfway through the first bucket');
    assert.ok(Math.abs(quantileMs(bounds, [0, 10, 10], 0.5)! - 5.5) < 1e-9, 'halfway through (1 ms, 10 ms]');
    assert.equal(quantileMs(bounds, [0, 0, 10], 0.99), 10, 'the +Inf bucket reads as the largest finite bound');
  });

  it('keeps only the samples of the last retainMs (the ring drops the oldest)', async () => {
    const { metrics, versions, history } = setup(1000, 5000);
    const v = new FakeLoad(metrics, 'm', '1', 'm/1#1');
    versions.push(v);
    for (let i = 1; i <= 12; i++) await history.sample(T0 + i * 1000);
    const samples = history.samples('m', '1');
    assert.equal(history.capacity, 5);
    assert.deepEqual(samples.map((s) => s.t), [8, 9, 10, 11, 12].map((i) => T0 + i * 1000), 'no zero sample leads once samples were dropped');
  });

  it('samples only ready and draining versions and forgets a version that left them', async () => {
    const { metrics, versions, history } = setup();
    const a = new FakeLoad(metrics, 'm', '1', 'm/1#1');
    const b = new FakeLoad(metrics, 'm', '2', 'm/2#2');
    b.state = 'loading';
    versions.push(a, b);
    await history.sample(T0 + 5000);
    assert.equal(history.samples('m', '1').length, 2);
    assert.equal(history.samples('m', '2').length, 0, 'a loading version is not sampled');
    a.state = 'unloaded';
    b.state = 'ready';
    await history.sample(T0 + 10_000);
    assert.equal(history.samples('m', '1').length, 0, 'an unloaded version is forgotten');
    assert.equal(history.samples('m', '2').length, 2);
  });

  it('starts a new series when a version is loaded again (its counters start from zero)', async () => {
    const { metrics, versions, history } = setup();
    const first = new FakeLoad(metrics, 'm', '1', 'm/1#1');
    versions.push(first);
    first.serve(50, 1, 0.001);
    await history.sample(T0 + 5000);
    first.metrics.remove();
    const again = new FakeLoad(metrics, 'm', '1', 'm/1#7', new Date(T0 + 6000));
    versions.splice(0, 1, again);
    again.serve(5, 1, 0.001);
    await history.sample(T0 + 10_000);
    const p = history.points('m', '1');
    assert.deepEqual(p.t, [T0 + 10_000], 'only the new load: load time -> first sample');
    assert.equal(p.requests_per_second[0], 5 / 4, 'no negative rate from the counters that started again');
  });

  it('summarises a window read live: requests inside it, since load for a version younger than it', async () => {
    const { metrics, versions, history } = setup(5000, 60_000);
    const old = new FakeLoad(metrics, 'm', '1', 'm/1#1', new Date(T0 - 3_600_000));
    versions.push(old);
    old.serve(100, 2, 0.001);
    await history.sample(T0);
    old.serve(30, 2, 0.001);
    old.fail(10);
    await history.sample(T0 + 5000);
    old.serve(20, 2, 0.001); // after the last sample: the live read sees it
    old.queueDepth = 7;
    const young = new FakeLoad(metrics, 'm', '2', 'm/2#2', new Date(T0 + 8000));
    young.serve(6, 8, 0.001);
    versions.push(young);
    const s = await history.summaries(versions, 10_000, T0 + 10_000);
    const o = s.get(old)!;
    assert.equal(o.window_seconds, 10, 'from the first sample in the window');
    assert.equal(o.requests, 60);
    assert.equal(o.errors, 10);
    assert.equal(o.error_rate, 10 / 60);
    assert.equal(o.rows_per_second, 100 / 10);
    assert.equal(o.queue_depth, 7);
    assert.equal(o.requests_total, 160, 'since load');
    assert.deepEqual(o.batch_sizes, [{ batch_size: 2, executions: 50 }]);
    const y = s.get(young)!;
    assert.equal(y.window_seconds, 2, 'from its load time');
    assert.equal(y.requests, 6);
    assert.equal(y.rows_per_second, 48 / 2);
    assert.deepEqual(y.batch_sizes, [{ batch_size: 8, executions: 6 }]);
    assert.equal(y.error_rate, 0);
  });

  it('reports shadow agreement from the shadow comparison counters', async () => {
    const { metrics, versions, history } = setup();
    const v = new FakeLoad(metrics, 'm', '2', 'm/2#2');
    versions.push(v);
    metrics.shadowRequests.labels({ model: 'm', version: '2' }).inc(40);
    metrics.shadowDisagreements.labels({ model: 'm', version: '2' }).inc(4);
    const s = (await history.summaries(versions, 60_000, T0 + 1000)).get(v)!;
    assert.deepEqual(s.shadow, { requests: 40, disagreements: 4, agreement_rate: 0.9 });
    const other = new FakeLoad(metrics, 'm', '1', 'm/1#1');
    assert.equal((await history.summaries([other], 60_000, T0 + 1000)).get(other)!.shadow.agreement_rate, null, 'no shadow traffic: no rate');
  });

  it('leaves latency percentiles empty without Prometheus metrics and still counts from VersionStats', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const v = new FakeLoad(metrics, 'm', '1', 'm/1#1');
    const history = new History({ versions: () => [v] });
    v.serve(4, 1, 0.003);
    await history.sample(T0 + 5000);
    const p = history.points('m', '1');
    assert.deepEqual([p.p50_ms[0], p.p99_ms[0]], [null, null]);
    assert.equal(p.mean_ms[0], 3);
    assert.equal(p.requests_per_second[0], 4 / 5);
  });

  it('samples on its own timer once started, and stops', async () => {
    const { metrics, versions, history } = setup(20, 1000);
    versions.push(new FakeLoad(metrics, 'm', '1', 'm/1#1', undefined));
    history.start();
    const deadline = Date.now() + 5000;
    while (history.samples('m', '1').length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await history.stop();
    const taken = history.samples('m', '1').length;
    assert.ok(taken >= 3, `took ${taken} samples`);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(history.samples('m', '1').length, taken, 'no sample after stop()');
  });

  it('reports a failing sample and keeps sampling, instead of an unhandled rejection', async () => {
    const errors: unknown[] = [];
    const history = new History({
      versions: () => {
        throw new Error('stats unavailable');
      },
      intervalMs: 10,
      retainMs: 1000,
      onError: (err) => errors.push(err),
    });
    history.start();
    while (errors.length < 2) await new Promise((r) => setTimeout(r, 10));
    await history.stop();
    assert.match((errors[0] as Error).message, /stats unavailable/);
  });

  it('refuses an interval that is not positive or longer than the retention', () => {
    assert.throws(() => new History({ versions: () => [], intervalMs: 0 }), /intervalMs/);
    assert.throws(() => new History({ versions: () => [], intervalMs: 10_000, retainMs: 5000 }), /retainMs/);
  });
});
