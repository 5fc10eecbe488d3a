// Drift against the bundled breast_cancer baseline.json, with the real data set (test/fixtures/data/breast_cancer.json,
// the same train/test split the baseline was computed on) and the real v1 model's predictions.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { type Baseline, DriftMonitor, type DriftReport } from '../../../src/observability/drift/drift-monitor.js';
import { binProportions } from '../../../src/observability/drift/bins.js';
import { columnStd, RecordingGauge } from '../../helpers/drift.js';
import { prng } from '../../helpers/random.js';

interface Split { X: number[][]; y: number[] }
interface Dataset { feature_names: string[]; train: Split; test: Split }

const root = new URL('../../../', import.meta.url);
const data = JSON.parse(readFileSync(new URL('test/fixtures/data/breast_cancer.json', root), 'utf8')) as Dataset;
const baseline = DriftMonitor.parseBaseline(JSON.parse(readFileSync(new URL('models/breast_cancer/1/baseline.json', root), 'utf8')));
const NAMES = data.feature_names;
const F = NAMES.length;
const ROWS = 1000;

/** `n` rows drawn with replacement from `rows`, as one float32 [n, F] buffer. */
function resample(rows: number[][], n: number, seed: number): Float32Array {
  const rand = prng(seed);
  const out = new Float32Array(n * F);
  for (let r = 0; r < n; r++) out.set(rows[Math.floor(rand() * rows.length)]!, r * F);
  return out;
}

/** Population standard deviation of column `col` of the training rows. */
const trainStd = (col: number): number => columnStd(data.train.X, col);

function monitor(gauges = new Map<string, RecordingGauge>(), prediction = new RecordingGauge(), b: Baseline = baseline): DriftMonitor {
  return new DriftMonitor({
    inputs: [{ name: 'input', shape: [-1, F], kind: 'float' }],
    output: { name: 'probabilities', shape: [-1, 2], kind: 'float' },
    task: undefined,
    featureNames: { input: NAMES },
    classLabels: ['malignant', 'benign'],
    baseline: b,
    maxFeatures: 64,
    referenceRows: ROWS,
    windowRows: ROWS,
    intervalMs: 60_000,
    inputGauge: (input, feature) => {
      const g = new RecordingGauge();
      gauges.set(`${input}/${feature}`, g);
      return g;
    },
    predictionGauge: prediction,
  });
}

/** Feeds `x` ([n, F]) as requests of 1..8 rows, each copied into its own buffer as the server's would be. */
function feed(m: DriftMonitor, x: Float32Array, seed = 7): void {
  const rand = prng(seed);
  const n = x.length / F;
  for (let r = 0; r < n; ) {
    const rows = Math.min(n - r, 1 + Math.floor(rand() * 8));
    m.observeInputs([{ name: 'input', dims: [rows, F], data: x.slice(r * F, (r + rows) * F) }], rows);
    r += rows;
  }
}

function psiOf(report: DriftReport, feature: string): number {
  const f = report.features.find((x) => x.feature === feature);
  assert.ok(f, `feature ${feature} in the report`);
  assert.ok(f.psi !== null, `${feature} has a PSI`);
  return f.psi;
}

describe('drift against the breast_cancer baseline', () => {
  it('bins the training rows exactly into the baseline proportions (fixture split and bin rule match the training script)', () => {
    for (const [j, name] of NAMES.entries()) {
      const col = Float64Array.from(data.train.X, (r) => Math.fround(r[j]!));
      const b = baseline.features.input![name]!;
      const got = binProportions(col, col.length, b.edges);
      got.forEach((p, i) => assert.ok(Math.abs(p - b.proportions[i]!) < 1e-12, `${name} bin ${i}: ${p} vs ${b.proportions[i]}`));
    }
  });

  it('keeps every feature PSI below 0.1 for 1,000 rows resampled from the training rows', (t) => {
    const gauges = new Map<string, RecordingGauge>();
    const m = monitor(gauges);
    feed(m, resample(data.train.X, ROWS, 1));
    m.recompute();
    const r = m.report();
    m.close();
    assert.equal(r.reference, 'baseline');
    assert.equal(r.features.length, F);
    for (const f of r.features) {
      assert.equal(f.current_rows, ROWS);
      assert.equal(f.reference_rows, baseline.rows);
      assert.equal(f.reference_source, 'baseline');
      assert.ok(f.psi !== null && f.psi < 0.1, `${f.feature}: PSI ${f.psi}`);
      assert.equal(gauges.get(`input/${f.feature}`)?.last, f.psi, `gauge of ${f.feature}`);
    }
    t.diagnostic(`max PSI ${r.features[0]!.psi!.toFixed(4)} (${r.features[0]!.feature}), min ${r.features.at(-1)!.psi!.toFixed(4)}`);
  });

  for (const [j, name] of NAMES.entries()) {
    it(`shifting "${name}" by one standard deviation pushes its PSI above 0.25 while the others stay below 0.1`, (t) => {
      const x = resample(data.train.X, ROWS, 1);
      const sd = trainStd(j);
      for (let r = 0; r < ROWS; r++) x[r * F + j]! += sd;
      const m = monitor();
      feed(m, x);
      m.recompute();
      const r = m.report();
      m.close();
      assert.equal(r.features[0]!.feature, name, 'the shifted feature comes first');
      assert.ok(psiOf(r, name) > 0.25, `${name}: PSI ${psiOf(r, name)}`);
      for (const f of r.features.slice(1)) assert.ok(f.psi! < 0.1, `${f.feature}: PSI ${f.psi}`);
      t.diagnostic(`${name}: PSI ${psiOf(r, name).toFixed(3)}, next ${r.features[1]!.psi!.toFixed(4)}`);
    });
  }

  describe('prediction drift of the real v1 model', () => {
    let session: ort.InferenceSession;
    before(async () => {
      session = await ort.InferenceSession.create(new URL('models/breast_cancer/1/model.onnx', root).pathname);
    });
    after(async () => {
      await session.release();
    });

    /** Runs the model on `x` and reports the rows' probabilities to the monitor as one request per 10 rows. */
    async function predict(m: DriftMonitor, x: Float32Array): Promise<void> {
      const n = x.length / F;
      const out = await session.run({ input: new ort.Tensor('float32', x, [n, F]) });
      const probs = out.probabilities!.data as Float32Array;
      for (let r = 0; r < n; r += 10) {
        const rows = Math.min(10, n - r);
        m.observeOutputs([{ name: 'probabilities', dims: [rows, 2], data: probs.slice(r * 2, (r + rows) * 2) }], rows);
      }
    }

    it('keeps the predicted class mix of resampled training rows near the baseline (PSI < 0.1)', async (t) => {
      const gauge = new RecordingGauge();
      const m = monitor(new Map(), gauge);
      await predict(m, resample(data.train.X, ROWS, 2));
      m.recompute();
      const p = m.report().prediction;
      m.close();
      assert.ok(p && p.psi !== null, 'a prediction PSI');
      assert.equal(p.kind, 'classes');
      assert.deepEqual(p.labels, ['malignant', 'benign']);
      assert.deepEqual(p.reference, baseline.prediction!.classes);
      assert.ok(p.psi < 0.1, `prediction PSI ${p.psi}`);
      assert.equal(gauge.last, p.psi);
      t.diagnostic(`prediction PSI ${p.psi.toFixed(4)}, current ${p.current.map((v) => v.toFixed(3)).join('/')}`);
    });

    it('raises prediction PSI above 0.25 when only malignant cases arrive', async (t) => {
      const malignant = [...data.train.X, ...data.test.X].filter((_, i) => [...data.train.y, ...data.test.y][i] === 0);
      const m = monitor();
      await predict(m, resample(malignant, ROWS, 3));
      m.recompute();
      const p = m.report().prediction;
      m.close();
      assert.ok(p && p.psi !== null && p.psi > 0.25, `prediction PSI ${p?.psi}`);
      assert.ok(p.current[0]! > 0.8, `share predicted malignant ${p.current[0]}`);
      t.diagnostic(`prediction PSI ${p.psi.toFixed(3)}, current ${p.current.map((v) => v.toFixed(3)).join('/')}`);
    });
  });
});
