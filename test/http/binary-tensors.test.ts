// Triton's binary tensor extension over a real port: a JSON header of Inference-Header-Content-Length bytes, then
// raw little-endian tensor bytes in header order; outputs as raw bytes when the request asks. Also the decoder
// directly: tensors of a body that is not the request's own are copied out whatever their offset, and BYTES use
// 4-byte length prefixes. (test/http/body-reader.test.ts: the server's own bodies give views.)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BinaryReader, tensorBytes } from '../../src/http/codec/v2-binary.js';
import { decodeInferRequest } from '../../src/http/codec/v2-request.js';
import { datatypeFromV2 } from '../../src/runtime/datatypes.js';
import { FIXTURE_MODELS, auth, startServer, testConfig, type Started } from '../helpers/server.js';

type View = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;

const bytesOf = (v: ArrayBufferView) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/** A binary request body; `headerLength` is padded with spaces to a chosen remainder, to move the tensors. */
function binaryBody(header: object, tensors: ArrayBufferView[], align?: { modulo: number; remainder: number }): { body: Buffer; headerLength: number } {
  let json = JSON.stringify(header);
  if (align) while (Buffer.byteLength(json) % align.modulo !== align.remainder) json += ' ';
  const head = Buffer.from(json);
  return { body: Buffer.concat([head, ...tensors.map(bytesOf)]), headerLength: head.length };
}

interface OutputHeader {
  name: string;
  datatype: string;
  shape: number[];
  data?: unknown[];
  parameters?: { binary_data_size: number };
}
interface Answer {
  status: number;
  headers: Headers;
  raw: Buffer;
  /** The JSON body, or the JSON header of a binary response. */
  json: { id?: string; model_name?: string; model_version?: string; error?: string; outputs?: OutputHeader[] };
  /** Raw bytes per binary output name. */
  binary: Map<string, Buffer>;
}

async function send(s: Started, model: string, body: Buffer | string, headers: Record<string, string>): Promise<Answer> {
  const res = await fetch(`${s.url}/v2/models/${model}/infer`, { method: 'POST', headers: { ...auth(), ...headers }, body });
  const raw = Buffer.from(await res.arrayBuffer());
  const length = res.headers.get('inference-header-content-length');
  const headerBytes = length === null ? raw.length : Number(length);
  const json = JSON.parse(raw.subarray(0, headerBytes).toString('utf8')) as Answer['json'];
  const binary = new Map<string, Buffer>();
  let at = headerBytes;
  for (const o of json.outputs ?? []) {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) continue;
    binary.set(o.name, raw.subarray(at, at + size));
    at += size;
  }
  if (res.status === 200) assert.equal(at, raw.length, 'the binary outputs fill the rest of the body exactly');
  return { status: res.status, headers: res.headers, raw, json, binary };
}

function sendBinary(s: Started, model: string, header: object, tensors: ArrayBufferView[], opts: { contentType?: string | null; align?: { modulo: number; remainder: number } } = {}): Promise<Answer> {
  const { body, headerLength } = binaryBody(header, tensors, opts.align);
  const contentType = opts.contentType === undefined ? 'application/octet-stream' : opts.contentType;
  return send(s, model, body, { 'inference-header-content-length': String(headerLength), ...(contentType === null ? {} : { 'content-type': contentType }) });
}

/** Copies raw little-endian output bytes into a typed array of `ctor` (the slice may sit at any offset). */
function decode<T extends View>(ctor: { new (b: ArrayBuffer): T }, bytes: Buffer | undefined): T {
  assert.ok(bytes, 'the output came back as bytes');
  const copy = new ArrayBuffer(bytes.length);
  new Uint8Array(copy).set(bytes);
  return new ctor(copy);
}

function assertError(res: Answer, status: number, ...patterns: RegExp[]): void {
  assert.equal(res.status, status, res.raw.toString());
  assert.deepEqual(Object.keys(res.json), ['error']);
  for (const p of patterns) assert.match(res.json.error!, p);
}

const binIn = (name: string, datatype: string, shape: number[], size: number) => ({ name, datatype, shape, parameters: { binary_data_size: size } });

describe('binary tensor requests and responses', () => {
  let s: Started;
  before(async () => {
    // A short queue delay lets concurrent requests from this process gather into batches.
    s = await startServer({ MODEL_REPOSITORY: FIXTURE_MODELS, MAX_QUEUE_DELAY_MS: '10' });
  });
  after(() => s.close());

  const a = new Float32Array([1, 5, 2, 0, -1, -2, -3, 7]);
  const b = new Float32Array([1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5]);
  const sum = [2, 6, 3, 1, -0.5, -1.5, -2.5, 7.5];

  it('reads an input from the bytes after the JSON header and answers JSON when no binary output is asked', async () => {
    const x = new Float32Array([0.5, -1.25, 3, 4, 5, 6.5]);
    const res = await sendBinary(s, 'dtype_fp32', { id: 'bin-1', inputs: [binIn('x', 'FP32', [2, 3], 24)] }, [x]);
    assert.equal(res.status, 200, res.raw.toString());
    assert.match(res.headers.get('content-type')!, /^application\/json/);
    assert.equal(res.headers.get('inference-header-content-length'), null);
    assert.deepEqual(res.json, { model_name: 'dtype_fp32', model_version: '1', id: 'bin-1', outputs: [{ name: 'y', datatype: 'FP32', shape: [2, 3], data: [1, -2.5, 6, 8, 10, 13] }] });
  });

  it('returns every output as raw bytes after the JSON header when binary_data_output is true', async () => {
    const res = await sendBinary(s, 'multi_io', { inputs: [binIn('a', 'FP32', [2, 4], 32), binIn('b', 'FP32', [2, 4], 32)], parameters: { binary_data_output: true } }, [a, b]);
    assert.equal(res.status, 200, res.raw.toString());
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    assert.equal(res.json.model_name, 'multi_io');
    assert.equal(res.json.model_version, '1');
    assert.equal(res.json.id, res.headers.get('x-request-id'));
    assert.deepEqual(res.json.outputs, [
      { name: 'sum', datatype: 'FP32', shape: [2, 4], parameters: { binary_data_size: 32 } },
      { name: 'argmax', datatype: 'INT64', shape: [2], parameters: { binary_data_size: 16 } },
    ]);
    assert.deepEqual([...decode(Float32Array, res.binary.get('sum'))], sum);
    assert.deepEqual([...decode(BigInt64Array, res.binary.get('argmax'))], [1n, 3n]);
  });

  it('returns only the outputs marked binary_data as bytes; the others stay inline JSON', async () => {
    const header = {
      inputs: [binIn('a', 'FP32', [2, 4], 32), binIn('b', 'FP32', [2, 4], 32)],
      outputs: [{ name: 'sum' }, { name: 'argmax', parameters: { binary_data: true } }],
    };
    const res = await sendBinary(s, 'multi_io', header, [a, b]);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json.outputs, [
      { name: 'sum', datatype: 'FP32', shape: [2, 4], data: sum },
      { name: 'argmax', datatype: 'INT64', shape: [2], parameters: { binary_data_size: 16 } },
    ]);
    assert.deepEqual([...decode(BigInt64Array, res.binary.get('argmax'))], [1n, 3n]);
  });

  it("lets an output's own binary_data: false override binary_data_output", async () => {
    const header = {
      inputs: [binIn('a', 'FP32', [2, 4], 32), binIn('b', 'FP32', [2, 4], 32)],
      parameters: { binary_data_output: true },
      outputs: [{ name: 'sum', parameters: { binary_data: false } }, { name: 'argmax' }],
    };
    const res = await sendBinary(s, 'multi_io', header, [a, b]);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json.outputs!.map((o) => [o.name, o.data !== undefined, o.parameters?.binary_data_size]), [['sum', true, undefined], ['argmax', false, 16]]);
  });

  it('answers a plain JSON request that asks for binary outputs with a binary response', async () => {
    const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP64', data: [0.1, 2, -3] }], parameters: { binary_data_output: true } });
    const res = await send(s, 'dtype_fp64', body, { 'content-type': 'application/json' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    assert.deepEqual([...decode(Float64Array, res.binary.get('y'))], [0.2, 4, -6]);
  });

  it('round-trips every datatype as raw little-endian bytes, BOOL as one byte per element', async () => {
    const cases: [string, string, View, unknown[]][] = [
      ['dtype_fp32', 'FP32', new Float32Array([1.5, -2, 1e30]), [3, -4, Math.fround(2e30)]],
      ['dtype_fp64', 'FP64', new Float64Array([1e300, 0.1, -7]), [2e300, 0.2, -14]],
      ['dtype_int32', 'INT32', new Int32Array([-1073741824, 5, 1073741823]), [-2147483648, 10, 2147483646]],
      ['dtype_int64', 'INT64', new BigInt64Array([2n ** 62n - 1n, -5n, 2n ** 40n]), [2n ** 63n - 2n, -10n, 2n ** 41n]],
      ['dtype_uint8', 'UINT8', new Uint8Array([0, 100, 200]), [0, 200, 144]],
      ['dtype_int8', 'INT8', new Int8Array([-128, 100, -3]), [0, -56, -6]],
      ['dtype_bool', 'BOOL', new Uint8Array([1, 0, 1]), [0, 1, 0]],
    ];
    const ctors: Record<string, { new (b: ArrayBuffer): View }> = { FP32: Float32Array, FP64: Float64Array, INT32: Int32Array, INT64: BigInt64Array, UINT8: Uint8Array, INT8: Int8Array, BOOL: Uint8Array };
    for (const [model, datatype, x, y] of cases) {
      const res = await sendBinary(s, model, { inputs: [binIn('x', datatype, [1, 3], x.byteLength)], parameters: { binary_data_output: true } }, [x]);
      assert.equal(res.status, 200, `${model}: ${res.raw.toString()}`);
      assert.deepEqual(res.json.outputs, [{ name: 'y', datatype, shape: [1, 3], parameters: { binary_data_size: x.byteLength } }], model);
      assert.deepEqual([...decode(ctors[datatype]!, res.binary.get('y'))], y, model);
    }
  });

  it('reads tensors that start at offsets not aligned to their element size', async () => {
    for (const remainder of [1, 3, 5, 7]) {
      const x = new Float64Array([0.1, -2.5, 3e-300]);
      const res = await sendBinary(s, 'dtype_fp64', { inputs: [binIn('x', 'FP64', [1, 3], 24)] }, [x], { align: { modulo: 8, remainder } });
      assert.equal(res.status, 200, res.raw.toString());
      assert.deepEqual(res.json.outputs![0]!.data, [0.2, -5, 6e-300]);
    }
    const res = await sendBinary(s, 'gather_fail', {
      inputs: [binIn('idx', 'INT64', [2, 1], 16), binIn('data', 'FP32', [2, 4], 32)],
    }, [new BigInt64Array([3n, 0n]), new Float32Array([10, 20, 30, 40, 50, 60, 70, 80])], { align: { modulo: 8, remainder: 3 } });
    assert.equal(res.status, 200, res.raw.toString());
    assert.deepEqual(res.json.outputs![0]!.data, [40, 50]);
  });

  it('reads binary inputs in the order the header lists them, next to inline JSON inputs', async () => {
    const reversed = await sendBinary(s, 'multi_io', { inputs: [binIn('b', 'FP32', [2, 4], 32), binIn('a', 'FP32', [2, 4], 32)], outputs: [{ name: 'argmax' }] }, [b, a]);
    assert.deepEqual(reversed.json.outputs![0]!.data, [1, 3]);
    const mixed = await sendBinary(s, 'multi_io', {
      inputs: [{ name: 'b', datatype: 'FP32', shape: [2, 4], data: [...b] }, binIn('a', 'FP32', [2, 4], 32)],
    }, [a]);
    assert.equal(mixed.status, 200, mixed.raw.toString());
    assert.deepEqual(mixed.json.outputs![0]!.data, sum);
  });

  it('accepts a binary body under any content type, or none, when the header length is given', async () => {
    const x = new Int32Array([1, 2, 3]);
    for (const contentType of ['application/octet-stream', 'application/json', 'text/plain', 'application/x-whatever', null]) {
      const res = await sendBinary(s, 'dtype_int32', { inputs: [binIn('x', 'INT32', [1, 3], 12)] }, [x], { contentType });
      assert.equal(res.status, 200, `${contentType}: ${res.raw.toString()}`);
      assert.deepEqual(res.json.outputs![0]!.data, [2, 4, 6], String(contentType));
    }
  });

  it('accepts a JSON body whose header length is the whole body', async () => {
    const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'INT32', data: [1, 2, 3] }] });
    const res = await send(s, 'dtype_int32', body, { 'content-type': 'application/json', 'inference-header-content-length': String(Buffer.byteLength(body)) });
    assert.equal(res.status, 200, res.raw.toString());
    assert.deepEqual(res.json.outputs![0]!.data, [2, 4, 6]);
  });

  it('fails a binary run like a JSON one: a 500 with a JSON error body', async () => {
    const res = await sendBinary(s, 'gather_fail', { inputs: [binIn('data', 'FP32', [1, 4], 16), binIn('idx', 'INT64', [1, 1], 8)], parameters: { binary_data_output: true } }, [new Float32Array(4), new BigInt64Array([7n])]);
    assertError(res, 500, /gather_fail/);
  });

  it('gives concurrent binary and JSON requests, batched together, each its own rows', async () => {
    const runsSoFar = async () => {
      const res = await fetch(`${s.url}/v2/models/dtype_fp32/stats`, { headers: auth() });
      return ((await res.json()) as { model_stats: { execution_count: number }[] }).model_stats[0]!.execution_count;
    };
    const before = await runsSoFar();
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, k) => {
        const x = new Float32Array([k, k + 0.5, -k]);
        if (k % 2 === 0) return sendBinary(s, 'dtype_fp32', { inputs: [binIn('x', 'FP32', [1, 3], 12)], parameters: { binary_data_output: k % 4 === 0 } }, [x], { align: { modulo: 4, remainder: k % 4 } });
        return send(s, 'dtype_fp32', JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [...x] }] }), { 'content-type': 'application/json' });
      }),
    );
    answers.forEach((res, k) => {
      assert.equal(res.status, 200);
      const y = res.binary.has('y') ? [...decode(Float32Array, res.binary.get('y'))] : res.json.outputs![0]!.data;
      assert.deepEqual(y, [2 * k, 2 * k + 1, -2 * k], `request ${k}`);
    });
    const runs = (await runsSoFar()) - before;
    assert.ok(runs < answers.length, `${answers.length} requests took ${runs} runs: none were batched together`);
  });
});

describe('binary tensor requests that are wrong', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ MODEL_REPOSITORY: FIXTURE_MODELS });
  });
  after(() => s.close());

  const x = new Float32Array([1, 2, 3]);
  const ok = { inputs: [binIn('x', 'FP32', [1, 3], 12)] };

  it('rejects a binary_data_size other than elements times element size, naming the input', async () => {
    assertError(await sendBinary(s, 'dtype_fp32', { inputs: [binIn('x', 'FP32', [1, 3], 8)] }, [x.subarray(0, 2)]), 400, /input 'x'/, /8 bytes/, /12/);
    assertError(await sendBinary(s, 'dtype_bool', { inputs: [binIn('x', 'BOOL', [1, 3], 12)] }, [new Uint32Array([1, 0, 1])]), 400, /input 'x'/, /3 BOOL elements take 3 bytes/);
  });

  it('rejects a body with more bytes than the inputs declare', async () => {
    assertError(await sendBinary(s, 'dtype_fp32', ok, [x, new Uint8Array([0])]), 400, /13 bytes/, /add up to 12/);
  });

  it('rejects inputs that declare more bytes than the body has', async () => {
    assertError(await sendBinary(s, 'dtype_fp32', ok, [x.subarray(0, 2)]), 400, /input 'x'/, /only 8 bytes/);
    assertError(await sendBinary(s, 'multi_io', { inputs: [binIn('a', 'FP32', [1, 4], 16), binIn('b', 'FP32', [1, 4], 16)] }, [new Float32Array(6)]), 400, /input 'b'/);
  });

  it('rejects a header length larger than the body', async () => {
    const { body } = binaryBody(ok, [x]);
    const res = await send(s, 'dtype_fp32', body, { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(body.length + 1) });
    assertError(res, 400, /Inference-Header-Content-Length/, new RegExp(`only ${body.length} bytes`));
  });

  it('rejects a header length that is not a number of bytes', async () => {
    const { body } = binaryBody(ok, [x]);
    for (const bad of ['abc', '-1', '1.5', '12 34', '']) {
      const res = await send(s, 'dtype_fp32', body, { 'content-type': 'application/octet-stream', 'inference-header-content-length': bad });
      assertError(res, 400, /Inference-Header-Content-Length/);
    }
  });

  it('rejects a JSON header that is not valid JSON, or cut short by the header length', async () => {
    const { body, headerLength } = binaryBody(ok, [x]);
    assertError(await send(s, 'dtype_fp32', body, { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerLength - 1) }), 400, /JSON header/);
    const garbage = Buffer.concat([Buffer.from('{inputs: nope}'), bytesOf(x)]);
    assertError(await send(s, 'dtype_fp32', garbage, { 'content-type': 'application/octet-stream', 'inference-header-content-length': '14' }), 400, /JSON header/);
    assertError(await send(s, 'dtype_fp32', bytesOf(x), { 'content-type': 'application/octet-stream', 'inference-header-content-length': '0' }), 400, /JSON header/);
  });

  it('rejects a header that is JSON but not an inference request', async () => {
    assertError(await sendBinary(s, 'dtype_fp32', [1, 2] as unknown as object, [x]), 400, /JSON object/);
    assertError(await sendBinary(s, 'dtype_fp32', { inputs: [] }, []), 400, /inputs/);
  });

  it('rejects an octet-stream body without the header length with 400 saying what is missing', async () => {
    const { body } = binaryBody(ok, [x]);
    assertError(await send(s, 'dtype_fp32', body, { 'content-type': 'application/octet-stream' }), 400, /Inference-Header-Content-Length/);
  });

  it('rejects an input with both data and binary_data_size', async () => {
    assertError(await sendBinary(s, 'dtype_fp32', { inputs: [{ ...binIn('x', 'FP32', [1, 3], 12), data: [1, 2, 3] }] }, [x]), 400, /input 'x'/, /not both/);
  });

  it('rejects binary_data_size in a JSON request that has no binary part', async () => {
    const res = await send(s, 'dtype_fp32', JSON.stringify(ok), { 'content-type': 'application/json' });
    assertError(res, 400, /input 'x'/, /Inference-Header-Content-Length/);
  });

  it('rejects a binary_data_size that is not a non-negative integer', async () => {
    for (const size of [-12, 12.5, '12', null]) {
      assertError(await sendBinary(s, 'dtype_fp32', { inputs: [binIn('x', 'FP32', [1, 3], size as number)] }, [x]), 400, /input 'x'/, /binary_data_size/);
    }
  });

  it('rejects BOOL bytes other than 0 and 1', async () => {
    assertError(await sendBinary(s, 'dtype_bool', { inputs: [binIn('x', 'BOOL', [1, 3], 3)] }, [new Uint8Array([1, 2, 0])]), 400, /input 'x'/, /element 1/, /0 or 1/);
  });

  it('rejects binary output flags that are not booleans', async () => {
    assertError(await sendBinary(s, 'dtype_fp32', { ...ok, parameters: { binary_data_output: 'yes' } }, [x]), 400, /binary_data_output/);
    assertError(await sendBinary(s, 'dtype_fp32', { ...ok, outputs: [{ name: 'y', parameters: { binary_data: 1 } }] }, [x]), 400, /output 'y'/, /binary_data/);
  });

  it('checks the datatype and shape of a binary input like a JSON one', async () => {
    assertError(await sendBinary(s, 'dtype_fp32', { inputs: [binIn('x', 'FP64', [1, 3], 24)] }, [new Float64Array(3)]), 400, /input 'x'/, /FP64/);
    assertError(await sendBinary(s, 'dtype_fp32', { inputs: [binIn('x', 'FP32', [1, 4], 16)] }, [new Float32Array(4)]), 400, /input 'x'/, /shape/);
    assertError(await sendBinary(s, 'dtype_fp32', { inputs: [binIn('z', 'FP32', [1, 3], 12)] }, [x]), 400, /input 'z'/, /unknown/);
  });
});

describe('the binary decoder', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ MODEL_REPOSITORY: FIXTURE_MODELS }, false);
  });
  after(() => s.close());

  it('copies every tensor out of a body that is not known to be the request\'s own (here in Node\'s shared pool)', () => {
    const sig = s.app.ortserve.manager.getReadyVersion('multi_io').signature!;
    const a = new Float32Array([1, 2, 3, 4]);
    const b = new Float32Array([5, 6, 7, 8]);
    // Small enough to come from Node's shared pool, and placed so that `a` is 8-aligned in the pool's ArrayBuffer:
    // a view would be possible, and would alias the pool (other requests' memory). It must be a copy.
    const { body, headerLength } = binaryBody({ inputs: [binIn('a', 'FP32', [1, 4], 16), binIn('b', 'FP32', [1, 4], 16)] }, [a, b], { modulo: 8, remainder: 0 });
    let pooled = Buffer.from(body);
    for (let i = 0; i < 8 && (pooled.byteOffset + headerLength) % 8 !== 0; i++) pooled = Buffer.from(body);
    assert.equal((pooled.byteOffset + headerLength) % 8, 0, 'the tensor bytes are 8-aligned in the pooled ArrayBuffer');
    assert.ok(pooled.buffer.byteLength > pooled.length, 'the body sits in a larger shared ArrayBuffer');
    const header = JSON.parse(pooled.toString('utf8', 0, headerLength)) as unknown;
    const decoded = decodeInferRequest(sig, header, testConfig().limits, undefined, { bytes: pooled, start: headerLength });
    assert.equal(decoded.rows, 1);
    for (const [i, t] of decoded.inputs.entries()) {
      const data = t.data as Float32Array;
      assert.ok(data instanceof Float32Array, 'a Float32Array');
      assert.equal(data.byteOffset, 0);
      assert.equal(data.byteLength, data.buffer.byteLength);
      assert.notEqual(data.buffer, pooled.buffer);
      assert.deepEqual([...data], [...(i === 0 ? a : b)]);
    }
    // The request body can be reused or changed afterwards without touching the tensors.
    pooled.fill(0);
    assert.deepEqual([...(decoded.inputs[0]!.data as Float32Array)], [1, 2, 3, 4]);
  });

  it('reads BYTES elements as 4-byte little-endian lengths followed by UTF-8', () => {
    const info = datatypeFromV2('BYTES')!;
    const strings = ['hello', '', 'héllo ✓', 'x'.repeat(300)];
    const encoded = tensorBytes(strings);
    assert.equal(encoded.length, strings.reduce((n, s) => n + 4 + Buffer.byteLength(s), 0));
    assert.equal(Buffer.from(encoded).readUInt32LE(0), 5);
    const body = Buffer.concat([Buffer.from('HDR'), encoded]);
    const reader = new BinaryReader(body, 3);
    assert.deepEqual(reader.read('s', info, encoded.length, strings.length), strings);
    reader.finish();
  });

  it('rejects BYTES data that is cut short, overlong, has extra bytes or is not UTF-8', () => {
    const info = datatypeFromV2('BYTES')!;
    const encoded = Buffer.from(tensorBytes(['ab', 'cd']));
    const read = (bytes: Uint8Array, size: number, count: number) => new BinaryReader(bytes, 0).read('s', info, size, count);
    assert.throws(() => read(encoded, encoded.length, 3), /input 's'.*ends before element 2/);
    assert.throws(() => read(encoded.subarray(0, 11), 11, 2), /input 's'.*element 1 claims 2 bytes but only 1/);
    assert.throws(() => read(encoded, encoded.length, 1), /input 's'.*its 1 elements take 6/);
    const invalid = Buffer.from([2, 0, 0, 0, 0xc3, 0x28]);
    assert.throws(() => read(invalid, invalid.length, 1), /input 's'.*not valid UTF-8/);
  });

  it('writes numeric outputs as a view of their bytes, without copying', () => {
    const backing = new Float32Array([1, 2, 3, 4]);
    const view = backing.subarray(1, 3);
    const bytes = tensorBytes(view);
    assert.equal(bytes.buffer, backing.buffer);
    assert.equal(bytes.byteOffset, 4);
    assert.equal(bytes.byteLength, 8);
  });
});
