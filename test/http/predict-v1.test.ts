// The TF-Serving / KServe v1 route over a real port: row (`instances`) and columnar (`inputs`) bodies, versioned
// route and X-Model-Version header, other verbs 404, bad bodies 400; predictions equal the V2 answers for the
// same rows.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BUNDLED_MODELS, FIXTURE_MODELS, auth, startServer, type Started } from '../helpers/server.js';

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  body: { predictions?: unknown[]; error?: string; outputs?: { name: string; shape: number[]; data: number[] }[] };
}

async function post(s: Started, url: string, body: unknown, raw = false): Promise<Answer> {
  const res = await fetch(`${s.url}${url}`, {
    method: 'POST',
    headers: { ...auth(), 'content-type': 'application/json' },
    body: raw ? (body as string) : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: JSON.parse(text) as Answer['body'] };
}

function assertError(res: Answer, status: number, pattern: RegExp): void {
  assert.equal(res.status, status, res.text);
  assert.deepEqual(Object.keys(res.body), ['error']);
  assert.match(res.body.error!, pattern);
}

/** Row-major rows of `width` out of a flat V2 output. */
function rowsOf(data: number[], width: number): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < data.length; i += width) rows.push(data.slice(i, i + width));
  return rows;
}

function assertClose(actual: unknown, expected: unknown, where = ''): void {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual) && actual.length === expected.length, `${where}: ${JSON.stringify(actual)} vs ${JSON.stringify(expected)}`);
    expected.forEach((e, i) => assertClose((actual as unknown[])[i], e, `${where}[${i}]`));
    return;
  }
  assert.ok(typeof actual === 'number' && Math.abs(actual - (expected as number)) <= 1e-6, `${where}: ${String(actual)} vs ${String(expected)}`);
}

const baseline = JSON.parse(fs.readFileSync(path.join(BUNDLED_MODELS, 'breast_cancer/2/baseline.json'), 'utf8')) as {
  features: { input: Record<string, { edges: number[] }> };
};
const deciles = Object.values(baseline.features.input).map((f) => f.edges);
const cancerRow = (k: number) => deciles.map((edges, j) => edges[(j * 3 + k * 5) % edges.length]!);

describe('v1 predict on the bundled models', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ MODEL_REPOSITORY: BUNDLED_MODELS });
  });
  after(() => s.close());

  const rows = [cancerRow(0), cancerRow(1), cancerRow(2), cancerRow(7)];
  const v2 = async (version?: string) => {
    const res = await post(s, `/v2/models/breast_cancer${version ? `/versions/${version}` : ''}/infer`, { inputs: [{ name: 'input', shape: [rows.length, 30], datatype: 'FP32', data: rows }] });
    assert.equal(res.status, 200);
    return rowsOf(res.body.outputs![0]!.data, 2);
  };

  it('predicts rows given as instances, equal to the V2 answer, with X-Model-Version', async () => {
    const res = await post(s, '/v1/models/breast_cancer:predict', { instances: rows });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.body), ['predictions']);
    assert.equal(res.headers.get('x-model-version'), '2');
    assertClose(res.body.predictions, await v2());
  });

  it('predicts columnar inputs given as the whole tensor, equal to the instances answer', async () => {
    const res = await post(s, '/v1/models/breast_cancer:predict', { inputs: rows });
    assert.equal(res.status, 200, res.text);
    assertClose(res.body.predictions, await v2());
  });

  it('predicts columnar inputs given as an object keyed by input name', async () => {
    const res = await post(s, '/v1/models/breast_cancer:predict', { inputs: { input: rows } });
    assert.equal(res.status, 200, res.text);
    assertClose(res.body.predictions, await v2());
  });

  it('serves the version the versioned route names, and says so in X-Model-Version', async () => {
    const res = await post(s, '/v1/models/breast_cancer/versions/1:predict', { instances: rows });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('x-model-version'), '1');
    assertClose(res.body.predictions, await v2('1'));
    assert.notDeepEqual(res.body.predictions, (await post(s, '/v1/models/breast_cancer:predict', { instances: rows })).body.predictions);
  });

  it('predicts images given as instances of [1, 8, 8] nested rows', async () => {
    const image = (k: number) => [Array.from({ length: 8 }, (_, r) => Array.from({ length: 8 }, (_, c) => (r * 3 + c * 5 + k) % 17))];
    const instances = [image(0), image(4)];
    const res = await post(s, '/v1/models/digits:predict', { instances });
    assert.equal(res.status, 200, res.text);
    const ref = await post(s, '/v2/models/digits/infer', { inputs: [{ name: 'image', shape: [2, 1, 8, 8], datatype: 'FP32', data: instances }] });
    assertClose(res.body.predictions, rowsOf(ref.body.outputs![0]!.data, 10));
  });

  it('answers other verbs and a missing verb with 404', async () => {
    for (const url of ['/v1/models/breast_cancer:explain', '/v1/models/breast_cancer:classify', '/v1/models/breast_cancer', '/v1/models/breast_cancer/versions/1:explain']) {
      assertError(await post(s, url, { instances: rows }), 404, /no route POST/);
    }
  });

  it('answers an unknown model or version with 404', async () => {
    assertError(await post(s, '/v1/models/nope:predict', { instances: rows }), 404, /model 'nope'/);
    assertError(await post(s, '/v1/models/breast_cancer/versions/9:predict', { instances: rows }), 404, /version '9'/);
  });

  it('answers bad bodies with 400', async () => {
    const url = '/v1/models/breast_cancer:predict';
    assertError(await post(s, url, '{"instances": [', true), 400, /JSON/);
    assertError(await post(s, url, [rows[0]]), 400, /JSON object/);
    assertError(await post(s, url, {}), 400, /instances/);
    assertError(await post(s, url, { instances: [] }), 400, /instances/);
    assertError(await post(s, url, { instances: 'rows' }), 400, /instances/);
    assertError(await post(s, url, { instances: rows, inputs: rows }), 400, /not both/);
    assertError(await post(s, url, { instances: [rows[0]!.slice(0, 29)] }), 400, /input 'input'/);
    assertError(await post(s, url, { instances: [rows[0], rows[1]!.slice(0, 20)] }), 400, /input 'input'/);
    assertError(await post(s, url, { instances: [rows[0]!.map(String)] }), 400, /input 'input'/);
    assertError(await post(s, url, { inputs: { nope: rows } }), 400, /'nope'/);
  });
});

describe('v1 predict on the fixture models', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ MODEL_REPOSITORY: FIXTURE_MODELS });
  });
  after(() => s.close());

  const a = [[1, 5, 2, 0], [-1, -2, -3, 7], [0, 0, 9, 0]];
  const b = [[1, 1, 1, 1], [0.5, 0.5, 0.5, 0.5], [2, 2, 2, 2]];
  const expected = [
    { sum: [2, 6, 3, 1], argmax: 1 },
    { sum: [-0.5, -1.5, -2.5, 7.5], argmax: 3 },
    { sum: [2, 2, 11, 2], argmax: 2 },
  ];

  it('predicts instances given as objects keyed by input name for a multi-input model', async () => {
    const res = await post(s, '/v1/models/multi_io:predict', { instances: a.map((row, i) => ({ a: row, b: b[i] })) });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.predictions, expected);
  });

  it('gives the same predictions as the V2 route for the same rows', async () => {
    const res = await post(s, '/v2/models/multi_io/infer', { inputs: [{ name: 'a', shape: [3, 4], datatype: 'FP32', data: a }, { name: 'b', shape: [3, 4], datatype: 'FP32', data: b }] });
    const [sum, argmax] = res.body.outputs!;
    assert.deepEqual(expected.map((e) => e.sum), rowsOf(sum!.data, 4));
    assert.deepEqual(expected.map((e) => e.argmax), argmax!.data);
  });

  it('predicts columnar inputs keyed by input name for a multi-input model', async () => {
    const res = await post(s, '/v1/models/multi_io:predict', { inputs: { a, b } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.predictions, expected);
  });

  it('answers instances that miss an input, name an unknown one, or are not objects with 400', async () => {
    assertError(await post(s, '/v1/models/multi_io:predict', { instances: [{ a: a[0] }] }), 400, /input 'b'/);
    assertError(await post(s, '/v1/models/multi_io:predict', { instances: [{ a: a[0], b: b[0], c: [1] }] }), 400, /'c'/);
    assertError(await post(s, '/v1/models/multi_io:predict', { instances: [a[0]] }), 400, /object keyed by input name/);
    assertError(await post(s, '/v1/models/multi_io:predict', { inputs: a }), 400, /keyed by input name/);
    assertError(await post(s, '/v1/models/multi_io:predict', { inputs: { a, b: b.slice(0, 2) } }), 400, /batch dimension/);
  });

  it('predicts every datatype, with int64 as numbers and BOOL as true/false', async () => {
    const int64 = await post(s, '/v1/models/dtype_int64:predict', { instances: [[2 ** 40, 1, -1]] });
    assert.deepEqual(int64.body.predictions, [[2 ** 41, 2, -2]]);
    const bool = await post(s, '/v1/models/dtype_bool:predict', { instances: [[true, false, true]] });
    assert.deepEqual(bool.body.predictions, [[false, true, false]]);
    assertError(await post(s, '/v1/models/dtype_uint8:predict', { instances: [[1, 300, 2]] }), 400, /input 'x'.*300/);
  });

  it('takes a model without a batch dimension only as a whole columnar tensor', async () => {
    const res = await post(s, '/v1/models/fixed_shape:predict', { inputs: [[1, 2, 3], [4, 5, 6]] });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.predictions, [[[2, 4, 6], [8, 10, 12]]]);
    assertError(await post(s, '/v1/models/fixed_shape:predict', { instances: [[1, 2, 3], [4, 5, 6]] }), 400, /no batch dimension/);
    assertError(await post(s, '/v1/models/fixed_shape:predict', { inputs: [[1, 2, 3]] }), 400, /input 'x'/);
  });
});
