// The drift monitor without a baseline (the first rows served are the reference), images, predictions, labels,
// gauges, the report and baseline validation. Tabular rows are the real breast cancer data set
// (test/fixtures/data/breast_cancer.json); shapes the data set has not (zeros, images, regression) are drawn from a
// seeded PRNG. recompute() is called directly: nothing here depends on timing but the one timer test, which polls.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Baseline,
  DriftMonitor,
  type DriftMonitorOptions,
  type FeatureDrift,
} from '../../../src/observability/drift/drift-monitor.js';
import { columnStd, RecordingGauge } from '../../helpers/drift.js';
import { normal, prng } from '../../helpers/random.js';

interface Split { X: number[][]; y: number[] }
const root = new URL('../../../', import.meta.url);
const data = JSON.parse(readFileSync(new URL('test/fixtures/data/breast_cancer.json', root), 'utf8')) as { feature_names: string[]; train: Split; test: Split };
const readJson = (path: string): unknown => JSON.parse(readFileSync(new URL(path, root), 'utf8'));
const F = data.feature_names.length;
const N = 1000;

/** `n` breast cancer training rows drawn with replacement, [n, F] float32; `shift` is added to column `col`. */
function tabular(n: number, seed: number, shift?: { col: number; by: number }): Float32Array {
  const rand = prng(seed);
  const out = new Float32Array(n * F);
  for (let r = 0; r < n; r++) out.set(data.train.X[Math.floor(rand() * data.train.X.length)]!, r * F);
  if (shift) for (let r = 0; r < n; r++) out[r * F + shift.col]! += shift.by;
  return out;
}

/** Population standard deviation of column `col` of the training rows. */
const trainStd = (col: number): number => columnStd(data.train.X, col);

const open: DriftMonitor[] = [];
afterEach(() => {
  for (const m of open.splice(0)) m.close();
});

/** A monitor with recording gauges (keyed "input/feature"); closed after each test. */
function monitor(o: Partial<DriftMonitorOptions> = {}) {
  const gauges = new Map<string, RecordingGauge>();
  const prediction = new RecordingGauge();
  const m = new DriftMonitor({
    inputs: [{ name: 'x', shape: [-1, F], kind: 'float' }],
    output: undefined,
    task: undefined,
    maxFeatures: 64,
    referenceRows: N,
    windowRows: N,
    intervalMs: 60_000,
    inputGauge: (input, feature) => {
      assert.ok(!gauges.has(`${input}/${feature}`), `gauge ${input}/${feature} requested twice`);
      const g = new RecordingGauge();
      gauges.set(`${input}/${feature}`, g);
      return g;
    },
    predictionGauge: prediction,
    ...o,
  });
  open.push(m);
  return { m, gauges, prediction };
}

/** Feeds a [n, width] buffer as requests of `perRequest` rows, each in its own copy, as the server's are. */
function feed(m: DriftMonitor, name: string, x: Float32Array, width: number, perRequest = 5, dims?: (rows: number) => number[]): void {
  const n = x.length / width;
  for (let r = 0; r < n; r += perRequest) {
    const rows = Math.min(perRequest, n - r);
    m.observeInputs([{ name, dims: dims ? dims(rows) : [rows, width], data: x.slice(r * width, (r + rows) * width) }], rows);
  }
}

function feedOutputs(m: DriftMonitor, name: string, y: Float32Array, width: number, perRequest = 5): void {
  const n = y.length / width;
  for (let r = 0; r < n; r += perRequest) {
    const rows = Math.min(perRequest, n - r);
    m.observeOutputs([{ name, dims: width === 1 ? [rows] : [rows, width], data: y.slice(r * width, (r + rows) * width) }], rows);
  }
}

function byFeature(features: FeatureDrift[], feature: string): FeatureDrift {
  const f = features.find((x) => x.feature === feature);
  assert.ok(f, `feature ${feature}`);
  return f;
}

describe('DriftMonitor without a baseline', () => {
  it('reports PSI null until the first referenceRows rows are in, then uses them as the reference', () => {
    const { m, gauges } = monitor({ featureNames: { x: data.feature_names } });
    const x = tabular(N, 1);
    feed(m, 'x', x.slice(0, (N - 1) * F), F);
    m.recompute();
    let r = m.report();
    assert.equal(r.reference, 'first_rows');
    assert.equal(r.reference_complete, false);
    for (const f of r.features) {
      assert.equal(f.psi, null);
      assert.deepEqual([f.reference_rows, f.current_rows, f.edges.length, f.reference_source], [N - 1, N - 1, 0, 'first_rows']);
    }
    assert.ok(Number.isNaN(gauges.get('x/mean radius')!.last), 'the gauge reads NaN before the reference is complete');
    feed(m, 'x', x.slice((N - 1) * F), F);
    m.recompute();
    r = m.report();
    assert.equal(r.reference_complete, true);
    for (const f of r.features) {
      assert.equal(f.reference_rows, N);
      assert.equal(f.edges.length + 1, f.reference.length);
      assert.ok(f.psi !== null && f.psi < 1e-9, `${f.feature}: the window is the reference itself, PSI ${f.psi}`);
    }
  });

  it('keeps PSI below 0.1 for a window from the same distribution and raises a shifted feature above 0.25', (t) => {
    const { m } = monitor({ featureNames: { x: data.feature_names } });
    feed(m, 'x', tabular(N, 1), F);
    feed(m, 'x', tabular(N, 2), F);
    m.recompute();
    let r = m.report();
    for (const f of r.features) assert.ok(f.psi! < 0.1, `${f.feature}: PSI ${f.psi}`);
    t.diagnostic(`same distribution: max PSI ${r.features[0]!.psi!.toFixed(4)} (${r.features[0]!.feature})`);

    const col = data.feature_names.indexOf('worst texture');
    feed(m, 'x', tabular(N, 3, { col, by: trainStd(col) }), F);
    m.recompute();
    r = m.report();
    assert.equal(r.features[0]!.feature, 'worst texture');
    assert.ok(r.features[0]!.psi! > 0.25, `shifted PSI ${r.features[0]!.psi}`);
    for (const f of r.features.slice(1)) assert.ok(f.psi! < 0.1, `${f.feature}: PSI ${f.psi}`);
    t.diagnostic(`worst texture + 1 sd: PSI ${r.features[0]!.psi!.toFixed(3)}; others max ${r.features[1]!.psi!.toFixed(4)}`);
  });

  it('forgets rows older than the window: PSI falls back once unshifted rows replace the shifted ones', () => {
    const { m } = monitor();
    feed(m, 'x', tabular(N, 1), F);
    feed(m, 'x', tabular(N, 2, { col: 0, by: 5 }), F);
    m.recompute();
    assert.ok(byFeature(m.report().features, '0').psi! > 0.25);
    feed(m, 'x', tabular(N, 3), F);
    m.recompute();
    const f = byFeature(m.report().features, '0');
    assert.equal(f.current_rows, N);
    assert.ok(f.psi! < 0.1, `PSI ${f.psi}`);
  });

  it('gives features with many zeros finite PSI and no empty reference bin, and flags a constant feature that changes', (t) => {
    // Columns: 60% zeros then exponential; 97% zeros; always zero; integer counts 0..3.
    const make = (n: number, seed: number, constantBecomes = 0) => {
      const rand = prng(seed);
      const x = new Float32Array(n * 4);
      for (let r = 0; r < n; r++) {
        x[r * 4] = rand() < 0.6 ? 0 : -Math.log(1 - rand());
        x[r * 4 + 1] = rand() < 0.97 ? 0 : 1 + rand();
        x[r * 4 + 2] = rand() < 0.5 ? constantBecomes : 0;
        x[r * 4 + 3] = Math.floor(rand() * 4);
      }
      return x;
    };
    const { m } = monitor({ inputs: [{ name: 'x', shape: [-1, 4], kind: 'float' }] });
    feed(m, 'x', make(N, 1), 4);
    feed(m, 'x', make(N, 2), 4);
    m.recompute();
    let r = m.report();
    for (const f of r.features) {
      assert.ok(f.psi !== null && Number.isFinite(f.psi) && f.psi < 0.1, `${f.feature}: PSI ${f.psi}`);
      assert.ok(Math.min(...f.reference) > 0 || f.feature === '2', `${f.feature}: an empty reference bin in ${f.reference}`);
      for (const p of [...f.reference, ...f.current]) assert.ok(Number.isFinite(p), `${f.feature}: proportion ${p}`);
    }
    assert.ok(Math.abs(byFeature(r.features, '0').reference[0]! - 0.6) < 0.05, 'the zeros make one bin');
    assert.equal(byFeature(r.features, '1').reference.length, 2, '97% zeros: zeros vs the rest');
    assert.equal(byFeature(r.features, '3').reference.length, 4, 'one bin per count');
    t.diagnostic(`PSI ${r.features.map((f) => `${f.feature}=${f.psi!.toFixed(4)}`).join(' ')}`);

    feed(m, 'x', make(N, 3, 1), 4);
    m.recompute();
    r = m.report();
    const constant = byFeature(r.features, '2');
    assert.ok(Number.isFinite(constant.psi) && constant.psi! > 0.25, `constant feature that changed: PSI ${constant.psi}`);
    assert.ok(!JSON.stringify(r.features).includes('null'), 'no NaN or Infinity (JSON null) in any feature');
    t.diagnostic(`a constant-zero feature that is 1 in half the rows: PSI ${constant.psi!.toFixed(3)}`);
  });

  it('copies what it needs: transferring the request buffers afterwards changes nothing', () => {
    const { m } = monitor();
    const x = tabular(N, 1);
    for (let r = 0; r < N; r += 10) {
      const part = x.slice(r * F, (r + 10) * F);
      m.observeInputs([{ name: 'x', dims: [10, F], data: part }], 10);
      structuredClone(part.buffer, { transfer: [part.buffer] }); // detaches `part`, as postMessage to a worker does
      assert.equal(part.length, 0);
    }
    m.recompute();
    for (const f of m.report().features) assert.ok(f.psi !== null && f.psi < 1e-9, `${f.feature}: PSI ${f.psi}`);
  });

  it('reads int64, int and bool inputs as numbers', () => {
    const { m } = monitor({
      inputs: [
        { name: 'i64', shape: [-1, 1], kind: 'bigint' },
        { name: 'i32', shape: [-1], kind: 'int' },
        { name: 'b', shape: [-1, 1], kind: 'bool' },
      ],
      referenceRows: 20,
      windowRows: 20,
    });
    for (let r = 0; r < 20; r++) {
      m.observeInputs([
        { name: 'i64', dims: [1, 1], data: BigInt64Array.of(BigInt(r % 4)) },
        { name: 'i32', dims: [1], data: Int32Array.of(r % 5) },
        { name: 'b', dims: [1, 1], data: Uint8Array.of(r % 2) },
      ], 1);
    }
    m.recompute();
    const f = m.report().features;
    assert.deepEqual(f.map((x) => [x.input, x.feature, x.reference.length, x.psi]).sort(), [
      ['b', '0', 2, 0],
      ['i32', 'value', 5, 0],
      ['i64', '0', 4, 0],
    ]);
  });
});

describe('DriftMonitor features', () => {
  it('summarises an image input [batch, 1, 8, 8] per row by its mean and standard deviation', (t) => {
    const images = (n: number, seed: number, brighter = 0) => {
      const rand = prng(seed);
      const x = new Float32Array(n * 64);
      for (let r = 0; r < n; r++) {
        const ink = 4 + 4 * rand();
        for (let i = 0; i < 64; i++) x[r * 64 + i] = Math.min(16, Math.max(0, Math.round(ink + 5 * normal(rand)))) + brighter;
      }
      return x;
    };
    const { m, gauges } = monitor({ inputs: [{ name: 'image', shape: [-1, 1, 8, 8], kind: 'float' }] });
    assert.deepEqual([...gauges.keys()], ['image/mean', 'image/std']);
    const dims = (rows: number) => [rows, 1, 8, 8];
    feed(m, 'image', images(N, 1), 64, 4, dims);
    feed(m, 'image', images(N, 2), 64, 4, dims);
    m.recompute();
    let r = m.report();
    assert.deepEqual(r.features.map((f) => f.feature).sort(), ['mean', 'std']);
    for (const f of r.features) assert.ok(f.psi! < 0.1, `${f.feature}: PSI ${f.psi}`);
    // Two rows whose mean and std are known exactly: all 2s (mean 2, std 0), half 0 half 4 (mean 2, std 2).
    const { m: exact } = monitor({ inputs: [{ name: 'image', shape: [-1, 1, 8, 8], kind: 'float' }], referenceRows: 10, windowRows: 2 });
    const two = new Float32Array(128).fill(2);
    for (let i = 64; i < 128; i++) two[i] = i % 2 ? 4 : 0;
    for (let k = 0; k < 5; k++) exact.observeInputs([{ name: 'image', dims: [2, 1, 8, 8], data: two }], 2);
    exact.recompute();
    const std = byFeature(exact.report().features, 'std');
    assert.equal(std.edges.length, 1);
    assert.deepEqual(std.edges, [1], 'one edge halfway between population std 0 and 2');
    assert.deepEqual(std.reference, [0.5, 0.5]);

    feed(m, 'image', images(N, 3, 2), 64, 4, dims); // +2 on every pixel: the mean moves, the std does not
    m.recompute();
    r = m.report();
    assert.ok(byFeature(r.features, 'mean').psi! > 0.25, `mean PSI ${byFeature(r.features, 'mean').psi}`);
    assert.ok(byFeature(r.features, 'std').psi! < 0.1, `std PSI ${byFeature(r.features, 'std').psi}`);
    t.diagnostic(`images +2: mean PSI ${byFeature(r.features, 'mean').psi!.toFixed(3)}, std PSI ${byFeature(r.features, 'std').psi!.toFixed(4)}`);
  });

  it('matches the digits baseline features mean and std to the image input', () => {
    const baseline = DriftMonitor.parseBaseline(readJson('models/digits/1/baseline.json'));
    const { m } = monitor({ inputs: [{ name: 'image', shape: [-1, 1, 8, 8], kind: 'float' }], baseline });
    const r = m.report();
    assert.equal(r.reference, 'baseline');
    assert.equal(r.reference_complete, true);
    for (const f of r.features) {
      assert.equal(f.reference_source, 'baseline');
      assert.deepEqual(f.edges, baseline.features.image![f.feature]!.edges);
      assert.equal(f.psi, null, 'no rows yet');
    }
  });

  it('labels columns by config feature names, by column index where names run out, and a rank-1 input "value"', () => {
    const { gauges } = monitor({
      inputs: [
        { name: 'a', shape: [-1, 3], kind: 'float' },
        { name: 'b', shape: [-1], kind: 'float' },
        { name: 'text', shape: [-1, 1], kind: 'string' },
      ],
      featureNames: { a: ['height', 'weight'] },
    });
    assert.deepEqual([...gauges.keys()], ['a/height', 'a/weight', 'a/2', 'b/value']);
  });

  it('watches only the first maxFeatures columns', () => {
    const { m, gauges } = monitor({ maxFeatures: 5, featureNames: { x: data.feature_names } });
    assert.deepEqual([...gauges.keys()], data.feature_names.slice(0, 5).map((n) => `x/${n}`));
    feed(m, 'x', tabular(N, 1), F);
    m.recompute();
    assert.deepEqual(m.report().features.map((f) => f.feature).sort(), data.feature_names.slice(0, 5).sort());
  });

  it('learns the features of a [batch, -1] input from its first tensor and ignores tensors of another width', () => {
    const { m, gauges } = monitor({ inputs: [{ name: 'x', shape: [-1, -1], kind: 'float' }], referenceRows: 10, windowRows: 10 });
    assert.equal(gauges.size, 0);
    assert.equal(m.report().reference_complete, false);
    m.observeInputs([{ name: 'x', dims: [1, 2], data: Float32Array.of(1, 2) }], 1);
    assert.deepEqual([...gauges.keys()], ['x/0', 'x/1']);
    m.observeInputs([{ name: 'x', dims: [1, 3], data: Float32Array.of(1, 2, 3) }], 1);
    assert.deepEqual(m.report().features.map((f) => f.current_rows), [1, 1]);
  });

  it('sends each PSI to its gauge: NaN until known, then the value the report shows', () => {
    const { m, gauges } = monitor({ inputs: [{ name: 'x', shape: [-1, 2], kind: 'float' }], referenceRows: 100, windowRows: 100 });
    for (const g of gauges.values()) assert.ok(Number.isNaN(g.last), `gauge ${g.last} before any rows`);
    const rand = prng(5);
    const rows = (shift: number) => Float32Array.from({ length: 200 }, (_, i) => normal(rand) + (i % 2 ? shift : 0));
    feed(m, 'x', rows(0), 2);
    feed(m, 'x', rows(1), 2);
    m.recompute();
    const r = m.report();
    for (const f of r.features) assert.equal(gauges.get(`x/${f.feature}`)!.last, f.psi);
    assert.ok(gauges.get('x/1')!.last! > gauges.get('x/0')!.last!, 'the shifted column has the higher PSI');
  });

  it('brings the report up to date with rows that arrived since the last recompute', () => {
    const { m } = monitor({ inputs: [{ name: 'x', shape: [-1, 1], kind: 'float' }], referenceRows: 10, windowRows: 20 });
    for (let r = 0; r < 10; r++) m.observeInputs([{ name: 'x', dims: [1, 1], data: Float32Array.of(r) }], 1);
    m.recompute();
    for (let r = 0; r < 10; r++) m.observeInputs([{ name: 'x', dims: [1, 1], data: Float32Array.of(100) }], 1);
    const f = m.report().features[0]!;
    assert.equal(f.current_rows, 20);
    assert.equal(f.current.at(-1), 0.55, 'the ten new rows (and the reference row 9) are in the last bin');
    assert.ok(f.psi! > 0.25, `PSI ${f.psi}`);
  });

  it('sorts the report by PSI, highest first, features without a PSI last', () => {
    // Input "a" has a baseline (PSI as soon as rows arrive); "b" has none and too few rows for a reference.
    const baseline: Baseline = {
      rows: 100,
      features: { a: { '0': { edges: [0], proportions: [0.5, 0.5] }, '1': { edges: [0], proportions: [0.5, 0.5] }, '2': { edges: [0], proportions: [0.5, 0.5] } } },
    };
    const { m } = monitor({ inputs: [{ name: 'b', shape: [-1, 2], kind: 'float' }, { name: 'a', shape: [-1, 3], kind: 'float' }], baseline });
    // Column 0 half negative (PSI 0), column 1 all positive, column 2 three quarters positive.
    for (let r = 0; r < 8; r++) {
      m.observeInputs([
        { name: 'a', dims: [1, 3], data: Float32Array.of(r % 2 ? 1 : -1, 1, r % 4 ? 1 : -1) },
        { name: 'b', dims: [1, 2], data: Float32Array.of(r, r) },
      ], 1);
    }
    m.recompute();
    const r = m.report();
    assert.equal(r.reference_complete, false);
    assert.deepEqual(r.features.map((f) => `${f.input}/${f.feature}`), ['a/1', 'a/2', 'a/0', 'b/0', 'b/1']);
    assert.deepEqual(r.features.map((f) => f.reference_source), ['baseline', 'baseline', 'baseline', 'first_rows', 'first_rows']);
    assert.equal(r.features[2]!.psi, 0);
  });

  it('recomputes on its timer when rows arrive, and stops on close()', async () => {
    const { m, gauges } = monitor({ inputs: [{ name: 'x', shape: [-1, 1], kind: 'float' }], referenceRows: 10, windowRows: 20, intervalMs: 50 });
    for (let r = 0; r < 10; r++) m.observeInputs([{ name: 'x', dims: [1, 1], data: Float32Array.of(r) }], 1);
    const gauge = gauges.get('x/0')!;
    for (let waited = 0; Number.isNaN(gauge.last) && waited < 10_000; waited += 20) await sleep(20);
    assert.equal(gauge.last, 0, 'the timer set the PSI');
    m.close();
    const sets = gauge.values.length;
    m.observeInputs([{ name: 'x', dims: [1, 1], data: Float32Array.of(99) }], 1);
    await sleep(200);
    assert.equal(gauge.values.length, sets, 'no recompute after close()');
    assert.equal(m.report().features[0]!.current_rows, 10, 'observations after close() are ignored');
  });
});

describe('DriftMonitor predictions', () => {
  /** `n` softmax-like rows over k classes whose argmax follows `mix` (class proportions). */
  function classifierOutputs(n: number, mix: number[], seed: number): Float32Array {
    const rand = prng(seed);
    const k = mix.length;
    const y = new Float32Array(n * k);
    for (let r = 0; r < n; r++) {
      let u = rand();
      let cls = 0;
      while (cls < k - 1 && u >= mix[cls]!) u -= mix[cls++]!;
      for (let c = 0; c < k; c++) y[r * k + c] = c === cls ? 0.5 + 0.4 * rand() : 0.1 * rand();
    }
    return y;
  }

  it('infers a classifier from a float [batch, K] output and compares class proportions', (t) => {
    const { m, prediction } = monitor({ output: { name: 'probs', shape: [-1, 3], kind: 'float' }, classLabels: ['cat', 'dog', 'owl'] });
    assert.equal(m.task, 'classification');
    feedOutputs(m, 'probs', classifierOutputs(N, [0.5, 0.3, 0.2], 1), 3);
    feedOutputs(m, 'probs', classifierOutputs(N, [0.5, 0.3, 0.2], 2), 3);
    m.recompute();
    let p = m.report().prediction!;
    assert.equal(p.kind, 'classes');
    assert.deepEqual(p.labels, ['cat', 'dog', 'owl']);
    assert.ok(Math.abs(p.reference[0]! - 0.5) < 0.05 && Math.abs(p.reference[2]! - 0.2) < 0.05, `reference ${p.reference}`);
    assert.ok(p.psi! < 0.1, `same mix: PSI ${p.psi}`);
    assert.equal(prediction.last, p.psi);
    const same = p.psi!;
    feedOutputs(m, 'probs', classifierOutputs(N, [0.2, 0.3, 0.5], 3), 3);
    m.recompute();
    p = m.report().prediction!;
    assert.ok(p.psi! > 0.25, `changed mix: PSI ${p.psi}`);
    assert.equal(prediction.last, p.psi);
    t.diagnostic(`class mix 50/30/20: PSI ${same.toFixed(4)}; 20/30/50: PSI ${p.psi!.toFixed(3)}`);
  });

  it('uses the baseline class proportions when they match the output and ignores them when they do not', () => {
    const matching: Baseline = { rows: 100, features: {}, prediction: { classes: [0.9, 0.1] } };
    const { m } = monitor({ output: { name: 'p', shape: [-1, 2], kind: 'float' }, baseline: matching });
    feedOutputs(m, 'p', classifierOutputs(100, [0.9, 0.1], 1), 2);
    m.recompute();
    assert.deepEqual(m.report().prediction!.reference, [0.9, 0.1]);
    const { m: other } = monitor({ output: { name: 'p', shape: [-1, 3], kind: 'float' }, baseline: matching });
    assert.deepEqual(other.report().prediction!.reference, [], 'three classes: the first rows decide');
  });

  it('reads a [batch, 1] classifier output as a class index rounded half up when the task says classification', () => {
    const { m } = monitor({ output: { name: 'p1', shape: [-1, 1], kind: 'float' }, task: 'classification', referenceRows: 100, windowRows: 100 });
    const rand = prng(4);
    const probs = (share: number) => Float32Array.from({ length: 100 }, () => (rand() < share ? 0.5 + rand() / 2 : rand() / 2));
    feedOutputs(m, 'p1', probs(0.3), 1);
    m.recompute();
    let p = m.report().prediction!;
    assert.equal(p.kind, 'classes');
    assert.deepEqual(p.labels, ['0', '1']);
    assert.ok(Math.abs(p.reference[1]! - 0.3) < 0.1, `reference ${p.reference}`);
    feedOutputs(m, 'p1', probs(0.9), 1);
    m.recompute();
    p = m.report().prediction!;
    assert.ok(p.psi! > 0.25, `PSI ${p.psi}`);
  });

  it('infers a regression from a float [batch] output and compares value histograms on decile edges', (t) => {
    const { m, prediction } = monitor({ output: { name: 'y', shape: [-1], kind: 'float' } });
    assert.equal(m.task, 'regression');
    const rand = prng(9);
    const values = (mean: number) => Float32Array.from({ length: N }, () => mean + normal(rand));
    feedOutputs(m, 'y', values(0), 1);
    feedOutputs(m, 'y', values(0), 1);
    m.recompute();
    let p = m.report().prediction!;
    assert.equal(p.kind, 'values');
    assert.equal(p.edges!.length, 9);
    assert.equal(p.labels, undefined);
    assert.ok(p.psi! < 0.1, `same distribution: PSI ${p.psi}`);
    const same = p.psi!;
    feedOutputs(m, 'y', values(1), 1);
    m.recompute();
    p = m.report().prediction!;
    assert.ok(p.psi! > 0.25, `mean + 1: PSI ${p.psi}`);
    assert.equal(prediction.last, p.psi);
    t.diagnostic(`regression: same PSI ${same.toFixed(4)}, mean + 1 sd PSI ${p.psi!.toFixed(3)}`);
  });

  it('uses baseline prediction edges and proportions for a [batch, 1] regression output', () => {
    const baseline: Baseline = { rows: 50, features: {}, prediction: { edges: [0], proportions: [0.5, 0.5] } };
    const { m } = monitor({ output: { name: 'y', shape: [-1, 1], kind: 'float' }, baseline });
    assert.equal(m.task, 'regression');
    feedOutputs(m, 'y', Float32Array.of(-1, 1, -2, 2), 1, 2);
    m.recompute();
    const p = m.report().prediction!;
    assert.deepEqual([p.edges, p.reference, p.current, p.psi, p.reference_rows], [[0], [0.5, 0.5], [0.5, 0.5], 0, 50]);
  });

  it('has no prediction drift for an output it cannot read (integer without a task, strings, none)', () => {
    for (const output of [{ name: 'o', shape: [-1], kind: 'bigint' as const }, { name: 'o', shape: [-1, 2], kind: 'string' as const }, undefined]) {
      const { m, prediction } = monitor({ output });
      assert.equal(m.report().prediction, null);
      assert.ok(Number.isNaN(prediction.last), `prediction gauge ${prediction.last}`);
    }
  });
});

describe('DriftMonitor.parseBaseline', () => {
  it('accepts every bundled baseline.json', () => {
    for (const path of ['models/breast_cancer/1/baseline.json', 'models/breast_cancer/2/baseline.json', 'models/digits/1/baseline.json']) {
      assert.doesNotThrow(() => DriftMonitor.parseBaseline(readJson(path)), path);
    }
  });

  it('rejects a malformed baseline with a message naming each problem and where it is', () => {
    const bad = {
      rows: 10,
      features: {
        input: {
          'mean radius': { edges: [1, 2], proportions: [0.5, 0.5] },
          'mean texture': { edges: [2, 1], proportions: [0.2, 0.3, 0.5] },
          'mean area': { edges: [1], proportions: [0.7, 0.7] },
        },
      },
      prediction: { edges: [0] },
    };
    assert.throws(() => DriftMonitor.parseBaseline(bad), (err: Error) => {
      assert.match(err.message, /^invalid baseline: /);
      assert.match(err.message, /features\.input\.mean radius\.proportions: expected 3 proportions \(one more than the 2 edges\), got 2/);
      assert.match(err.message, /features\.input\.mean texture\.edges: edges must be strictly ascending/);
      assert.match(err.message, /features\.input\.mean area\.proportions: proportions must sum to 1/);
      assert.match(err.message, /prediction\.proportions: edges and proportions go together/);
      return true;
    });
  });

  it('rejects a baseline without rows or features', () => {
    assert.throws(() => DriftMonitor.parseBaseline({ features: {} }), /invalid baseline: rows: /);
    assert.throws(() => DriftMonitor.parseBaseline('nope'), /invalid baseline: \(root\): /);
  });
});
