// Every V2 datatype the fixtures cover (y = x + x, or Not(x) for BOOL), in JSON: values and datatypes come back
// exactly, int64 as JSON numbers, BOOL as true/false; elements the datatype cannot hold are a 400 naming the input.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FIXTURE_MODELS, auth, startServer, type Started } from '../helpers/server.js';

interface Answer {
  status: number;
  text: string;
  body: { error?: string; outputs?: { name: string; datatype: string; shape: number[]; data: unknown[] }[] };
}

describe('datatypes over JSON', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ MODEL_REPOSITORY: FIXTURE_MODELS });
  });
  after(() => s.close());

  async function run(model: string, datatype: string, data: unknown, shape = [Array.isArray(data) ? data.length / 3 : 1, 3]): Promise<Answer> {
    const res = await fetch(`${s.url}/v2/models/${model}/infer`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'x', shape, datatype, data }] }),
    });
    const text = await res.text();
    return { status: res.status, text, body: JSON.parse(text) as Answer['body'] };
  }

  async function expectOutput(model: string, datatype: string, input: unknown[], expected: unknown[]): Promise<Answer> {
    const res = await run(model, datatype, input);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.outputs, [{ name: 'y', datatype, shape: [input.length / 3, 3], data: expected }]);
    return res;
  }

  async function expectRejected(model: string, datatype: string, input: unknown[], mentions: RegExp): Promise<void> {
    const res = await run(model, datatype, input, [1, 3]);
    assert.equal(res.status, 400, `${model} ${JSON.stringify(input)}: ${res.text}`);
    assert.deepEqual(Object.keys(res.body), ['error']);
    assert.match(res.body.error!, /input 'x'/);
    assert.match(res.body.error!, mentions);
  }

  it('doubles FP32 values, writing the exact float32 results', async () => {
    await expectOutput('dtype_fp32', 'FP32', [0.5, -1.25, 3e30, 0.1, 2, 3], [1, -2.5, Math.fround(6e30), Math.fround(0.2), 4, 6]);
  });

  it('doubles FP64 values beyond FP32 range and precision', async () => {
    await expectOutput('dtype_fp64', 'FP64', [1e300, 0.1, -1e-300], [2e300, 0.2, -2e-300]);
  });

  it('doubles INT32 values at the ends of the range', async () => {
    await expectOutput('dtype_int32', 'INT32', [-1073741824, 1073741823, -7], [-2147483648, 2147483646, -14]);
  });

  it('round-trips INT64 values beyond 32 bits as JSON numbers', async () => {
    const res = await expectOutput('dtype_int64', 'INT64', [2 ** 40, -(2 ** 41) - 1, 4503599627370495], [2 ** 41, -(2 ** 42) - 2, 9007199254740990]);
    assert.match(res.text, /"data":\[2199023255552,-4398046511106,9007199254740990\]/);
  });

  it('doubles UINT8 and INT8 values with wrap-around, as the model computes them', async () => {
    await expectOutput('dtype_uint8', 'UINT8', [0, 100, 200], [0, 200, 144]);
    await expectOutput('dtype_int8', 'INT8', [-128, 100, -3], [0, -56, -6]);
  });

  it('negates BOOL values and writes them as true/false', async () => {
    const res = await expectOutput('dtype_bool', 'BOOL', [true, false, true, false, false, true], [false, true, false, true, true, false]);
    assert.match(res.text, /"data":\[false,true,false,true,true,false\]/);
  });

  it('rejects integers outside the datatype range', async () => {
    await expectRejected('dtype_uint8', 'UINT8', [1, 300, 2], /300/);
    await expectRejected('dtype_uint8', 'UINT8', [-1, 0, 0], /-1/);
    await expectRejected('dtype_int8', 'INT8', [0, 128, 0], /128/);
    await expectRejected('dtype_int32', 'INT32', [2147483648, 0, 0], /2147483648/);
    await expectRejected('dtype_int64', 'INT64', [2 ** 53 + 2, 0, 0], /INT64/);
  });

  it('rejects fractions for integer datatypes', async () => {
    await expectRejected('dtype_int32', 'INT32', [1, 1.5, 2], /1\.5/);
    await expectRejected('dtype_int64', 'INT64', [0.25, 0, 0], /0\.25/);
    await expectRejected('dtype_uint8', 'UINT8', [0, 0, 2.5], /2\.5/);
  });

  it('rejects strings, null and objects where numbers belong', async () => {
    await expectRejected('dtype_fp32', 'FP32', [1, '2', 3], /"2"/);
    await expectRejected('dtype_fp64', 'FP64', [null, 1, 2], /null/);
    await expectRejected('dtype_int32', 'INT32', [1, 2, { v: 3 }], /object/);
    await expectRejected('dtype_int64', 'INT64', ['9007199254740993', 0, 0], /"9007199254740993"/);
    await expectRejected('dtype_fp32', 'FP32', [true, 0, 0], /true/);
  });

  it('rejects BOOL elements that are not true or false', async () => {
    await expectRejected('dtype_bool', 'BOOL', ['true', false, true], /"true"/);
    await expectRejected('dtype_bool', 'BOOL', [2, false, true], /2/);
    await expectRejected('dtype_bool', 'BOOL', [null, false, true], /null/);
  });

  it('rejects an FP32 value beyond the float32 range but accepts it as FP64', async () => {
    await expectRejected('dtype_fp32', 'FP32', [1e39, 0, 0], /1e\+39/);
    await expectOutput('dtype_fp64', 'FP64', [1e39, 0, 0], [2e39, 0, 0]);
  });

  it('rejects a datatype that is not the model input datatype, naming both', async () => {
    const res = await run('dtype_int32', 'INT64', [1, 2, 3]);
    assert.equal(res.status, 400);
    assert.match(res.body.error!, /input 'x'.*INT64.*INT32/);
  });
});
