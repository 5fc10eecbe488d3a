// V2 inference over a real port, happy paths: version routing, outputs filter, request ids, nested data,
// several inputs and outputs, models without a batch dimension or with an unnamed one.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BUNDLED_MODELS, FIXTURE_MODELS, auth, startServer, type Started } from '../helpers/server.js';

interface Output {
  name: string;
  datatype: string;
  shape: number[];
  data: number[];
}
interface InferResponse {
  model_name: string;
  model_version: string;
  id: string;
  outputs: Output[];
}
interface Answer {
  status: number;
  headers: Headers;
  body: InferResponse & { error?: string };
}

async function infer(s: Started, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${s.url}${path}`, {
    method: 'POST',
    headers: { ...auth(), 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Answer['body'] };
}

const baseline = JSON.parse(fs.readFileSync(path.join(BUNDLED_MODELS, 'breast_cancer/2/baseline.json'), 'utf8')) as {
  features: { input: Record<string, { edges: number[] }> };
};
const deciles = Object.values(baseline.features.input).map((f) => f.edges);

/** 30 features inside the breast cancer data's ranges (its training deciles), varying with `k`. */
function cancerRow(k: number): number[] {
  return deciles.map((edges, j) => edges[(j * 3 + k * 5) % edges.length]!);
}

/** Runs of a model so far, from the statistics extension. */
async function executions(s: Started, model: string): Promise<number> {
  const res = await fetch(`${s.url}/v2/models/${model}/stats`, { headers: auth() });
  assert.equal(res.status, 200);
  const { model_stats } = (await res.json()) as { model_stats: { execution_count: number }[] };
  return model_stats.reduce((n, m) => n + m.execution_count, 0);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function close(actual: number[], expected: number[], tol = 1e-5): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `element ${i}: ${actual[i]} vs ${expected[i]}`);
}

describe('V2 inference on the bundled models', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ MODEL_REPOSITORY: BUNDLED_MODELS });
  });
  after(() => s.close());

  const cancer = (rows: number[][]) => ({ inputs: [{ name: 'input', shape: [rows.length, 30], datatype: 'FP32', data: rows.flat() }] });

  it('routes an unversioned request to the highest version and a versioned one to that version', async () => {
    const rows = [cancerRow(1), cancerRow(2)];
    const latest = await infer(s, '/v2/models/breast_cancer/infer', cancer(rows));
    assert.equal(latest.status, 200);
    assert.equal(latest.body.model_name, 'breast_cancer');
    assert.equal(latest.body.model_version, '2');
    const pinned2 = await infer(s, '/v2/models/breast_cancer/versions/2/infer', cancer(rows));
    assert.deepEqual(pinned2.body.outputs, latest.body.outputs);
    const v1 = await infer(s, '/v2/models/breast_cancer/versions/1/infer', cancer(rows));
    assert.equal(v1.status, 200);
    assert.equal(v1.body.model_version, '1');
    assert.deepEqual(v1.body.outputs.map((o) => [o.name, o.datatype, o.shape]), [['probabilities', 'FP32', [2, 2]]]);
    // Two different models: the same rows do not give the same probabilities.
    assert.notDeepEqual(v1.body.outputs[0]!.data, latest.body.outputs[0]!.data);
    for (const body of [latest.body, v1.body]) {
      const p = body.outputs[0]!.data;
      close([p[0]! + p[1]!, p[2]! + p[3]!], [1, 1]);
    }
  });

  it('accepts nested data as well as flat data, with the same answer', async () => {
    const rows = [cancerRow(3), cancerRow(4), cancerRow(5)];
    const flat = await infer(s, '/v2/models/breast_cancer/infer', cancer(rows));
    const nested = await infer(s, '/v2/models/breast_cancer/infer', { inputs: [{ name: 'input', shape: [3, 30], datatype: 'FP32', data: rows }] });
    assert.equal(nested.status, 200);
    assert.deepEqual(nested.body.outputs, flat.body.outputs);
    const image = Array.from({ length: 64 }, (_, i) => (i * 5) % 17);
    const digitsFlat = await infer(s, '/v2/models/digits/infer', { inputs: [{ name: 'image', shape: [1, 1, 8, 8], datatype: 'FP32', data: image }] });
    const digitsNested = await infer(s, '/v2/models/digits/infer', {
      inputs: [{ name: 'image', shape: [1, 1, 8, 8], datatype: 'FP32', data: [[Array.from({ length: 8 }, (_, r) => image.slice(r * 8, r * 8 + 8))]] }],
    });
    assert.equal(digitsFlat.status, 200);
    assert.deepEqual(digitsFlat.body.outputs.map((o) => [o.name, o.shape]), [['logits', [1, 10]]]);
    assert.deepEqual(digitsNested.body.outputs, digitsFlat.body.outputs);
  });

  it('echoes the id the request gives', async () => {
    const res = await infer(s, '/v2/models/breast_cancer/infer', { id: 'my-request-42', ...cancer([cancerRow(1)]) });
    assert.equal(res.body.id, 'my-request-42');
  });

  it('generates an id when the request has none, equal to the X-Request-Id header', async () => {
    const a = await infer(s, '/v2/models/breast_cancer/infer', cancer([cancerRow(1)]));
    const b = await infer(s, '/v2/models/breast_cancer/infer', cancer([cancerRow(1)]));
    assert.match(a.body.id, UUID);
    assert.equal(a.headers.get('x-request-id'), a.body.id);
    assert.notEqual(a.body.id, b.body.id);
  });

  it('uses a client X-Request-Id in a safe format as the request id', async () => {
    const res = await infer(s, '/v2/models/breast_cancer/infer', cancer([cancerRow(1)]), { 'x-request-id': 'trace-2024.07:abc_DEF-9' });
    assert.equal(res.headers.get('x-request-id'), 'trace-2024.07:abc_DEF-9');
    assert.equal(res.body.id, 'trace-2024.07:abc_DEF-9');
  });

  it('replaces a client X-Request-Id that is not in a safe format', async () => {
    for (const unsafe of ['has space', 'quote"s', '<script>', 'x'.repeat(129), 'semi;colon']) {
      const res = await infer(s, '/v2/models/breast_cancer/infer', cancer([cancerRow(1)]), { 'x-request-id': unsafe });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('x-request-id')!, UUID, unsafe);
      assert.equal(res.body.id, res.headers.get('x-request-id'));
    }
  });

  it('sends the request id header on error answers too', async () => {
    const res = await infer(s, '/v2/models/breast_cancer/infer', { inputs: [] }, { 'x-request-id': 'failing-one' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('x-request-id'), 'failing-one');
  });
});

describe('V2 inference on the fixture models', () => {
  let s: Started;
  before(async () => {
    // A short queue delay lets concurrent requests from this process (which shares the server's event loop)
    // gather into batches.
    s = await startServer({ MODEL_REPOSITORY: FIXTURE_MODELS, MAX_QUEUE_DELAY_MS: '10' });
  });
  after(() => s.close());

  const a = [1, 5, 2, 0, -1, -2, -3, 7];
  const b = [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5];
  const multi = (extra: object = {}) => ({
    inputs: [
      { name: 'a', shape: [2, 4], datatype: 'FP32', data: a },
      { name: 'b', shape: [2, 4], datatype: 'FP32', data: b },
    ],
    ...extra,
  });

  it('runs a model with two inputs and returns both outputs in the model order', async () => {
    const res = await infer(s, '/v2/models/multi_io/infer', multi());
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.outputs, [
      { name: 'sum', datatype: 'FP32', shape: [2, 4], data: [2, 6, 3, 1, -0.5, -1.5, -2.5, 7.5] },
      { name: 'argmax', datatype: 'INT64', shape: [2], data: [1, 3] },
    ]);
  });

  it('accepts the inputs in any order', async () => {
    const res = await infer(s, '/v2/models/multi_io/infer', {
      inputs: [
        { name: 'b', shape: [2, 4], datatype: 'FP32', data: b },
        { name: 'a', shape: [2, 4], datatype: 'FP32', data: a },
      ],
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.outputs[1]!.data, [1, 3]);
  });

  it('returns only the outputs the request names', async () => {
    const one = await infer(s, '/v2/models/multi_io/infer', multi({ outputs: [{ name: 'argmax' }] }));
    assert.equal(one.status, 200);
    assert.deepEqual(one.body.outputs, [{ name: 'argmax', datatype: 'INT64', shape: [2], data: [1, 3] }]);
    const both = await infer(s, '/v2/models/multi_io/infer', multi({ outputs: [{ name: 'argmax' }, { name: 'sum' }] }));
    assert.deepEqual(both.body.outputs.map((o) => o.name).sort(), ['argmax', 'sum']);
  });

  it('rejects an outputs filter naming an unknown output with 400', async () => {
    const res = await infer(s, '/v2/models/multi_io/infer', multi({ outputs: [{ name: 'argmax' }, { name: 'nope' }] }));
    assert.equal(res.status, 400);
    assert.deepEqual(Object.keys(res.body), ['error']);
    assert.match(res.body.error!, /'nope'/);
  });

  it('runs a model without a batch dimension on exactly its fixed shape', async () => {
    const res = await infer(s, '/v2/models/fixed_shape/infer', { inputs: [{ name: 'x', shape: [2, 3], datatype: 'FP32', data: [[1, 2, 3], [4, 5, 6]] }] });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.outputs, [{ name: 'y', datatype: 'FP32', shape: [2, 3], data: [2, 4, 6, 8, 10, 12] }]);
    assert.equal(res.body.model_version, '1');
  });

  it('rejects a shape that is not the fixed one, naming the input', async () => {
    const res = await infer(s, '/v2/models/fixed_shape/infer', { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] });
    assert.equal(res.status, 400);
    assert.match(res.body.error!, /input 'x'/);
    assert.match(res.body.error!, /\[2, 3\]/);
  });

  it('runs a model whose first dimension has no name in the file', async () => {
    const res = await infer(s, '/v2/models/unknown_batch/infer', { inputs: [{ name: 'x', shape: [3, 2], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] }] });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.outputs, [{ name: 'y', datatype: 'FP32', shape: [3, 2], data: [1, 2, 3, 4, 5, 6] }]);
  });

  it('gives every request its own rows when many arrive at once and are batched together', async () => {
    const before = await executions(s, 'multi_io');
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, k) => infer(s, '/v2/models/multi_io/infer', {
        id: `r${k}`,
        inputs: [
          { name: 'a', shape: [1, 4], datatype: 'FP32', data: [k, 0, 0, 0].map((v, i) => (i === k % 4 ? 100 + k : v)) },
          { name: 'b', shape: [1, 4], datatype: 'FP32', data: [k, k, k, k] },
        ],
      })),
    );
    answers.forEach((res, k) => {
      assert.equal(res.status, 200);
      assert.equal(res.body.id, `r${k}`);
      assert.deepEqual(res.body.outputs[1]!.data, [k % 4]);
      assert.equal(res.body.outputs[0]!.data[k % 4], 100 + 2 * k);
    });
    const runs = (await executions(s, 'multi_io')) - before;
    assert.ok(runs < answers.length, `${answers.length} requests took ${runs} runs: none were batched together`);
  });
});
