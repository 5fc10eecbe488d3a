// Tried as a new user would: a model directory nobody prepared (just `<name>/1/model.onnx`, no config.json, no
// baseline), many rows sent as concurrent requests so the batcher concatenates them, and every answer compared
// with onnxruntime's own, run in this process on the same file, within 1e-5.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { BUNDLED_MODELS, auth, startServer, type Started } from '../helpers/server.js';
import { prng } from '../helpers/random.js';

const ROWS = 64;
const TOLERANCE = 1e-5;

/** 8x8 images with integer pixels 0..16, as in the digits data set. */
function digitImages(rows: number, seed: number): Float32Array {
  const next = prng(seed);
  return Float32Array.from({ length: rows * 64 }, () => Math.floor(next() * 17));
}

/** Rows of 30 features, each uniform between its 10th and 90th training percentile. */
function cancerRows(rows: number, seed: number): Float32Array {
  const baseline = JSON.parse(fs.readFileSync(path.join(BUNDLED_MODELS, 'breast_cancer/2/baseline.json'), 'utf8')) as {
    features: { input: Record<string, { edges: number[] }> };
  };
  const ranges = Object.values(baseline.features.input).map((f) => [f.edges[0]!, f.edges[f.edges.length - 1]!] as const);
  assert.equal(ranges.length, 30);
  const next = prng(seed);
  const out = new Float32Array(rows * 30);
  for (let r = 0; r < rows; r++) for (let j = 0; j < 30; j++) out[r * 30 + j] = ranges[j]![0] + next() * (ranges[j]![1] - ranges[j]![0]);
  return out;
}

interface Case {
  model: string;
  source: string;
  input: string;
  output: string;
  /** Input shape without the batch dimension. */
  rowShape: number[];
  width: number;
  data: Float32Array;
}

interface V2Answer {
  model_version: string;
  outputs: { name: string; datatype: string; shape: number[]; data: number[] }[];
}

describe('a repository nobody prepared: just <name>/1/model.onnx', () => {
  let s: Started;
  let dir: string;
  const cases: Case[] = [
    { model: 'handwriting', source: 'digits/1/model.onnx', input: 'image', output: 'logits', rowShape: [1, 8, 8], width: 10, data: digitImages(ROWS, 1) },
    { model: 'tumour', source: 'breast_cancer/2/model.onnx', input: 'input', output: 'probabilities', rowShape: [30], width: 2, data: cancerRows(ROWS, 2) },
  ];
  const reference = new Map<string, Float32Array>();

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ortserve-new-user-'));
    for (const c of cases) {
      fs.mkdirSync(path.join(dir, c.model, '1'), { recursive: true });
      fs.copyFileSync(path.join(BUNDLED_MODELS, c.source), path.join(dir, c.model, '1', 'model.onnx'));
      const session = await ort.InferenceSession.create(path.join(dir, c.model, '1', 'model.onnx'));
      const feeds = { [c.input]: new ort.Tensor('float32', c.data.slice(), [ROWS, ...c.rowShape]) };
      const result = await session.run(feeds);
      reference.set(c.model, result[c.output]!.data as Float32Array);
      await session.release();
    }
    // The client shares this process's event loop with the server, so requests arrive one after another; a short
    // queue delay lets them gather into batches as they would from many remote clients.
    s = await startServer({ MODEL_REPOSITORY: dir, MAX_QUEUE_DELAY_MS: '10' });
  });
  after(async () => {
    await s?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function executions(model: string): Promise<number> {
    const res = await fetch(`${s.url}/v2/models/${model}/stats`, { headers: auth() });
    assert.equal(res.status, 200);
    const { model_stats } = (await res.json()) as { model_stats: { execution_count: number }[] };
    return model_stats.reduce((n, m) => n + m.execution_count, 0);
  }

  const rowSize = (c: Case) => c.rowShape.reduce((a, b) => a * b, 1);

  function assertRowsMatch(c: Case, got: number[], firstRow: number): void {
    const want = reference.get(c.model)!;
    for (let i = 0; i < got.length; i++) {
      const expected = want[firstRow * c.width + i]!;
      assert.ok(Math.abs(got[i]! - expected) <= TOLERANCE, `${c.model} row ${firstRow + Math.floor(i / c.width)} element ${i % c.width}: server ${got[i]} vs onnxruntime ${expected}`);
    }
  }

  it('describes each model from its file alone', async () => {
    for (const c of cases) {
      const res = await fetch(`${s.url}/v2/models/${c.model}`, { headers: auth() });
      assert.equal(res.status, 200);
      const m = (await res.json()) as { versions: string[]; inputs: unknown[]; outputs: unknown[] };
      assert.deepEqual(m.versions, ['1']);
      assert.deepEqual(m.inputs, [{ name: c.input, datatype: 'FP32', shape: [-1, ...c.rowShape] }]);
      assert.deepEqual(m.outputs, [{ name: c.output, datatype: 'FP32', shape: [-1, c.width] }]);
    }
  });

  it('answers many concurrent single-row and multi-row requests like onnxruntime run directly', async () => {
    for (const c of cases) {
      const size = rowSize(c);
      // Rows 0..47 one per request, then 48..63 in requests of 1, 2, 3, 4 and 6 rows, all in flight at once.
      const spans: [number, number][] = [];
      for (let r = 0; r < 48; r++) spans.push([r, 1]);
      let r = 48;
      for (const n of [1, 2, 3, 4, 6]) {
        spans.push([r, n]);
        r += n;
      }
      assert.equal(r, ROWS);
      const before = await executions(c.model);
      const answers = await Promise.all(
        spans.map(async ([first, n]) => {
          const res = await fetch(`${s.url}/v2/models/${c.model}/infer`, {
            method: 'POST',
            headers: { ...auth(), 'content-type': 'application/json' },
            body: JSON.stringify({ inputs: [{ name: c.input, shape: [n, ...c.rowShape], datatype: 'FP32', data: Array.from(c.data.subarray(first * size, (first + n) * size)) }] }),
          });
          assert.equal(res.status, 200);
          return (await res.json()) as V2Answer;
        }),
      );
      answers.forEach((a, i) => {
        const [first, n] = spans[i]!;
        assert.equal(a.model_version, '1');
        assert.deepEqual(a.outputs[0]!.shape, [n, c.width]);
        assertRowsMatch(c, a.outputs[0]!.data, first);
      });
      // Fewer runs than requests: the batcher concatenated requests (the statistics extension counts runs).
      const runs = (await executions(c.model)) - before;
      assert.ok(runs < spans.length, `${c.model}: ${spans.length} requests took ${runs} runs`);
    }
  });

  it('answers the whole 64-row batch in one request like onnxruntime', async () => {
    for (const c of cases) {
      const res = await fetch(`${s.url}/v2/models/${c.model}/infer`, {
        method: 'POST',
        headers: { ...auth(), 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: c.input, shape: [ROWS, ...c.rowShape], datatype: 'FP32', data: Array.from(c.data) }] }),
      });
      assert.equal(res.status, 200);
      const a = (await res.json()) as V2Answer;
      assert.deepEqual(a.outputs[0]!.shape, [ROWS, c.width]);
      assertRowsMatch(c, a.outputs[0]!.data, 0);
    }
  });

  it('answers the v1 route like onnxruntime too', async () => {
    for (const c of cases) {
      const size = rowSize(c);
      const instances = Array.from({ length: 8 }, (_, r) => Array.from(c.data.subarray(r * size, (r + 1) * size)));
      const shaped = c.rowShape.length === 1 ? instances : instances.map((flat) => [Array.from({ length: 8 }, (_, y) => flat.slice(y * 8, y * 8 + 8))]);
      const res = await fetch(`${s.url}/v1/models/${c.model}:predict`, {
        method: 'POST',
        headers: { ...auth(), 'content-type': 'application/json' },
        body: JSON.stringify({ instances: shaped }),
      });
      assert.equal(res.status, 200);
      const { predictions } = (await res.json()) as { predictions: number[][] };
      assertRowsMatch(c, predictions.flat(), 0);
    }
  });
});
