// Limits on what one request may make the server allocate or walk: elements over all inputs, rows, number of
// inputs, bytes of one BYTES element (JSON and binary), and the nesting of free-form JSON parameters. Each is a 400
// naming the variable, the server keeps serving, and a request just within the limit succeeds.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, auth, startServer, type Started } from '../helpers/server.js';

const BYTES_MODELS = path.join(ROOT, 'test/fixtures/bytes-models');

async function post(s: Started, url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: { error?: string } & Record<string, unknown> }> {
  const res = await fetch(`${s.url}${url}`, {
    method: 'POST',
    headers: { ...auth(), 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { error?: string } };
}

const rowsOf = (n: number, width: number) => Array.from({ length: n * width }, (_, i) => i % 7);

describe('request limits on numeric models', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ MAX_ROWS_PER_REQUEST: '10', MAX_INPUTS: '1', MAX_JSON_DEPTH: '6' });
  });
  after(() => s.close());

  it('refuses more inputs than MAX_INPUTS', async () => {
    const r = await post(s, '/v2/models/multi_io/infer', { inputs: ['a', 'b'].map((name) => ({ name, shape: [10, 4], datatype: 'FP32', data: rowsOf(10, 4) })) });
    assert.equal(r.status, 400);
    assert.match(r.body.error!, /MAX_INPUTS \(1\)/);
  });

  it('refuses more rows than MAX_ROWS_PER_REQUEST on the V2 and the v1 routes', async () => {
    const v2 = await post(s, '/v2/models/dtype_fp32/infer', { inputs: [{ name: 'x', shape: [11, 3], datatype: 'FP32', data: rowsOf(11, 3) }] });
    assert.equal(v2.status, 400);
    assert.match(v2.body.error!, /11 rows, more than MAX_ROWS_PER_REQUEST \(10\)/);
    const v1 = await post(s, '/v1/models/dtype_fp32:predict', { instances: Array.from({ length: 11 }, () => [1, 2, 3]) });
    assert.equal(v1.status, 400);
    assert.match(v1.body.error!, /MAX_ROWS_PER_REQUEST/);
  });

  it('accepts a request exactly at the row limit', async () => {
    const r = await post(s, '/v2/models/dtype_fp32/infer', { inputs: [{ name: 'x', shape: [10, 3], datatype: 'FP32', data: rowsOf(10, 3) }] });
    assert.equal(r.status, 200);
    const out = (r.body.outputs as { data: number[] }[])[0]!.data;
    assert.deepEqual(out, rowsOf(10, 3).map((v) => 2 * v));
  });

  it('refuses parameters nested deeper than MAX_JSON_DEPTH and accepts shallower ones', async () => {
    let deep: unknown = 1;
    for (let i = 0; i < 7; i++) deep = { k: deep };
    const input = { name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] };
    const tooDeep = await post(s, '/v2/models/dtype_fp32/infer', { parameters: { deep }, inputs: [input] });
    assert.equal(tooDeep.status, 400);
    assert.match(tooDeep.body.error!, /MAX_JSON_DEPTH \(6\)/);
    const inInput = await post(s, '/v2/models/dtype_fp32/infer', { inputs: [{ ...input, parameters: { deep } }] });
    assert.equal(inInput.status, 400);
    const shallow = await post(s, '/v2/models/dtype_fp32/infer', { parameters: { a: { b: { c: 1 } } }, inputs: [input] });
    assert.equal(shallow.status, 200);
  });

  it('survives parameters nested a hundred thousand levels deep', async () => {
    const text = `{"parameters": {"p": ${'['.repeat(100_000)}${']'.repeat(100_000)}}, "inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}`;
    const r = await post(s, '/v2/models/dtype_fp32/infer', text);
    assert.equal(r.status, 400);
    const after = await post(s, '/v2/models/dtype_fp32/infer', { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] });
    assert.equal(after.status, 200);
  });
});

describe('request limits on the element budget', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ MAX_TENSOR_ELEMENTS: '79' });
  });
  after(() => s.close());

  it('adds the elements of every input: two inputs of 40 pass 79 together though each is within it', async () => {
    const r = await post(s, '/v2/models/multi_io/infer', { inputs: ['a', 'b'].map((name) => ({ name, shape: [10, 4], datatype: 'FP32', data: rowsOf(10, 4) })) });
    assert.equal(r.status, 400);
    assert.match(r.body.error!, /80 elements, more than MAX_TENSOR_ELEMENTS \(79\)/);
  });

  it('checks the declared shape before allocating anything', async () => {
    const r = await post(s, '/v2/models/dtype_fp32/infer', { inputs: [{ name: 'x', shape: [2 ** 31, 3], datatype: 'FP32', data: [] }] });
    assert.equal(r.status, 400);
    assert.match(r.body.error!, /MAX_TENSOR_ELEMENTS/);
  });
});

describe('request limits on BYTES elements', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ MODEL_REPOSITORY: BYTES_MODELS, MAX_BYTES_ELEMENT_BYTES: '8' });
  });
  after(() => s.close());

  it('serves strings within the limit', async () => {
    const r = await post(s, '/v2/models/dtype_string/infer', { inputs: [{ name: 'x', shape: [1, 2], datatype: 'BYTES', data: ['ab', 'été'] }] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual((r.body.outputs as { data: string[] }[])[0]!.data, ['ab', 'été']);
  });

  it('refuses a JSON string longer than MAX_BYTES_ELEMENT_BYTES, counted in UTF-8 bytes', async () => {
    // 'ééééé' is 5 characters but 10 bytes.
    const r = await post(s, '/v2/models/dtype_string/infer', { inputs: [{ name: 'x', shape: [1, 2], datatype: 'BYTES', data: ['ok', 'ééééé'] }] });
    assert.equal(r.status, 400);
    assert.match(r.body.error!, /element 1 has 10 bytes, more than MAX_BYTES_ELEMENT_BYTES \(8\)/);
  });

  it('refuses a binary BYTES element longer than the limit', async () => {
    const elements = [Buffer.from('ok'), Buffer.from('123456789')];
    const data = Buffer.concat(elements.flatMap((e) => [Buffer.from(Uint32Array.of(e.length).buffer), e]));
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'BYTES', parameters: { binary_data_size: data.length } }] }));
    const r = await post(s, '/v2/models/dtype_string/infer', new Uint8Array(Buffer.concat([header, data])), { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) });
    assert.equal(r.status, 400);
    assert.match(r.body.error!, /element 1 has 9 bytes, more than MAX_BYTES_ELEMENT_BYTES \(8\)/);
  });
});
