// Drift and ground truth over HTTP on the bundled breast_cancer model, with real data (the training split).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { prng } from '../helpers/random.js';
import { BUNDLED_MODELS, ROOT, auth, startServer, type Started } from '../helpers/server.js';

interface Split {
  X: number[][];
  y: number[];
}
const data = JSON.parse(fs.readFileSync(path.join(ROOT, 'test/fixtures/data/breast_cancer.json'), 'utf8')) as { feature_names: string[]; train: Split; test: Split };

function resample(n: number, seed: number): number[][] {
  const rand = prng(seed);
  return Array.from({ length: n }, () => [...data.train.X[Math.floor(rand() * data.train.X.length)]!]);
}

interface DriftBody {
  features: { input: string; feature: string; psi: number | null }[];
  prediction: { psi: number | null } | null;
  feedback: { rows: number; accuracy: number | null };
}

describe('drift and feedback over HTTP', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ MODEL_REPOSITORY: BUNDLED_MODELS, DRIFT_WINDOW_ROWS: '1000', DRIFT_INTERVAL_MS: '100' });
  });
  after(() => s.close());

  const infer = async (version: string, rows: number[][], id?: string) => {
    const res = await fetch(`${s.url}/v2/models/breast_cancer/versions/${version}/infer`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ ...(id ? { id } : {}), inputs: [{ name: 'input', shape: [rows.length, 30], datatype: 'FP32', data: rows }] }),
    });
    assert.equal(res.status, 200, 'inference answered');
    return (await res.json()) as { id: string; outputs: { data: number[] }[] };
  };
  const drift = async (version: string) => {
    const res = await fetch(`${s.url}/v2/models/breast_cancer/versions/${version}/drift`, { headers: auth() });
    assert.equal(res.status, 200, 'drift answered');
    return (await res.json()) as DriftBody;
  };
  const sendInBatches = async (version: string, rows: number[][]) => {
    for (let i = 0; i < rows.length; i += 50) await infer(version, rows.slice(i, i + 50));
  };

  it('keeps every feature below PSI 0.1 for rows from the training distribution, against baseline.json', async () => {
    await sendInBatches('1', resample(1000, 1));
    const body = await drift('1');
    assert.equal(body.features.length, 30, 'one entry per feature');
    for (const f of body.features) assert.ok(f.psi !== null && f.psi < 0.1, `${f.feature}: PSI ${f.psi} should be < 0.1`);
    assert.ok(body.prediction && body.prediction.psi !== null && body.prediction.psi < 0.1, `prediction PSI ${body.prediction?.psi}`);
  });

  it('pushes one shifted feature above PSI 0.25 while the others stay below 0.1', async () => {
    const j = data.feature_names.indexOf('mean texture');
    const rows = resample(1000, 2);
    const values = data.train.X.map((r) => r[j]!);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
    for (const r of rows) r[j]! += sd;
    await sendInBatches('2', rows);
    const body = await drift('2');
    assert.equal(body.features[0]!.feature, 'mean texture', 'the shifted feature is listed first (sorted by PSI)');
    for (const f of body.features) {
      if (f.feature === 'mean texture') assert.ok(f.psi! > 0.25, `shifted feature PSI ${f.psi} should be > 0.25`);
      else assert.ok(f.psi !== null && f.psi < 0.1, `${f.feature}: PSI ${f.psi} should stay < 0.1`);
    }
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    const line = metrics.split('\n').find((l) => l.startsWith('model_input_drift_psi{') && l.includes('version="2"') && l.includes('feature="mean texture"'));
    assert.ok(line && Number(line.split(' ').pop()) > 0.25, `gauge exported: ${line}`);
  });

  it('turns feedback into accuracy equal to the fraction of correct labels sent', async () => {
    const rows = data.test.X.slice(0, 40);
    const answer = await infer('1', rows, 'feedback-run-1');
    assert.equal(answer.id, 'feedback-run-1');
    const predicted = [];
    for (let r = 0; r < rows.length; r++) predicted.push(answer.outputs[0]!.data[2 * r]! > answer.outputs[0]!.data[2 * r + 1]! ? 0 : 1);
    // Send the truth for the first 30 rows and the opposite for the last 10: accuracy must be 30/40.
    const labels: (number | string)[] = predicted.map((p, i) => (i < 30 ? p : 1 - p));
    labels[0] = labels[0] === 0 ? 'malignant' : 'benign';
    const before = await drift('1');
    const res = await fetch(`${s.url}/v2/models/breast_cancer/feedback`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'feedback-run-1', labels }),
    });
    assert.equal(res.status, 202, 'feedback accepted');
    const afterDrift = await drift('1');
    assert.equal(before.feedback.rows, 0, 'no feedback before');
    assert.equal(afterDrift.feedback.rows, 40, 'forty feedback rows');
    assert.equal(afterDrift.feedback.accuracy, 30 / 40);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(metrics, /model_accuracy\{model="breast_cancer",version="1"\} 0\.75/);
    assert.match(metrics, /model_feedback_total\{model="breast_cancer",version="1",outcome="correct"\} 30/);
    assert.match(metrics, /model_feedback_total\{model="breast_cancer",version="1",outcome="incorrect"\} 10/);
  });

  it('answers 404 for an unknown or already used id and 400 for a labels array of the wrong length', async () => {
    const post = (body: unknown, model = 'breast_cancer') =>
      fetch(`${s.url}/v2/models/${model}/feedback`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const unknown = await post({ id: 'never-seen', labels: [1] });
    assert.equal(unknown.status, 404);
    assert.match(((await unknown.json()) as { error: string }).error, /never-seen/);
    assert.equal((await post({ id: 'feedback-run-1', labels: [1] })).status, 404, 'an id counts once');
    await infer('2', data.test.X.slice(0, 3), 'three-rows');
    const wrong = await post({ id: 'three-rows', labels: [0, 1] });
    assert.equal(wrong.status, 400);
    assert.match(((await wrong.json()) as { error: string }).error, /2 entries but .* 3 rows/);
    assert.equal((await post({ id: 'three-rows', labels: [0, 1, 'no-such-class'] })).status, 400, 'unknown class label');
    assert.equal((await post({ id: 'three-rows', labels: [0, 1, 1] }, 'digits')).status, 404, "another model's id is unknown");
    assert.equal((await post({ id: 'three-rows', labels: [0, 1, 1] })).status, 202, 'the id still works after the rejected attempts');
    assert.equal((await post({ labels: [1] })).status, 400, 'id is required');
  });

  it('needs the model scope for drift and feedback', async () => {
    assert.equal((await fetch(`${s.url}/v2/models/breast_cancer/drift`, { headers: auth('predict:digits') })).status, 403);
    const fb = await fetch(`${s.url}/v2/models/breast_cancer/feedback`, { method: 'POST', headers: { ...auth('predict:digits'), 'content-type': 'application/json' }, body: '{}' });
    assert.equal(fb.status, 403);
  });
});
