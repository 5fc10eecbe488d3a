// Property-based fuzzing of Triton's binary tensor extension (a JSON header of Inference-Header-Content-Length bytes,
// then raw little-endian tensors): valid binary requests generated from the fixture signatures (any mix of binary and
// JSON inputs, binary outputs on request) get the right outputs; lies about the header length, binary_data_size,
// truncated or padded bodies, bad BOOL bytes and damaged headers never get a 5xx. BYTES has no fixture model, so its
// length-prefixed layout is fuzzed on the decoder itself (BinaryReader and decodeInferRequest with a BYTES input).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { OrtserveError } from '../../src/errors.js';
import { BinaryReader, tensorBytes } from '../../src/http/codec/v2-binary.js';
import { decodeInferRequest } from '../../src/http/codec/v2-request.js';
import type { ModelSignature } from '../../src/lifecycle/signature.js';
import { datatypeFromV2, type DatatypeInfo } from '../../src/runtime/datatypes.js';
import { auth, startServer, type Started, testConfig } from '../helpers/server.js';
import {
  type Answer,
  applyEdit,
  checkAnswer,
  contentType,
  type Datatype,
  expectedOutputs,
  FIXTURE_SIGS,
  fuzzOptions,
  hostileValue,
  injectAnswer,
  pathEdit,
  rarely,
  type Scalar,
  serialise,
  Tally,
  validInfer,
  type ValidInfer,
  workerRestarts, assertHeapFlat } from './arbitraries.js';

const AUTH = auth();
const HEADER = 'inference-header-content-length';

/** Little-endian bytes of flat data in the binary extension's layout (BOOL: one byte per element). */
function encode(datatype: Datatype, values: Scalar[]): Buffer {
  let view: ArrayBufferView;
  switch (datatype) {
    case 'FP32':
      view = Float32Array.from(values, Number);
      break;
    case 'FP64':
      view = Float64Array.from(values, Number);
      break;
    case 'INT32':
      view = Int32Array.from(values, Number);
      break;
    case 'INT64':
      view = BigInt64Array.from(values, (v) => BigInt(Number(v)));
      break;
    case 'UINT8':
      view = Uint8Array.from(values, Number);
      break;
    case 'INT8':
      view = Int8Array.from(values, Number);
      break;
    case 'BOOL':
      view = Uint8Array.from(values, (v) => (v === true || v === 1 ? 1 : 0));
      break;
  }
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

function decode(datatype: string, b: Buffer): unknown[] {
  const copy = new Uint8Array(b).buffer;
  switch (datatype) {
    case 'FP32':
      return [...new Float32Array(copy)];
    case 'FP64':
      return [...new Float64Array(copy)];
    case 'INT32':
      return [...new Int32Array(copy)];
    case 'INT64':
      return [...new BigInt64Array(copy)].map(Number);
    case 'UINT8':
      return [...new Uint8Array(copy)];
    case 'INT8':
      return [...new Int8Array(copy)];
    case 'BOOL':
      return [...new Uint8Array(copy)].map((v) => v === 1);
    default:
      throw new Error(`no decoder for ${datatype}`);
  }
}

interface BinaryCase {
  valid: ValidInfer;
  /** The JSON header object (inputs with binary_data_size instead of data where binary). */
  header: Record<string, unknown>;
  /** Binary tensors in header order. */
  tensors: Buffer[];
  padding: number;
  type: string | undefined;
  binaryOutputs: boolean;
}

/** A valid request turned into a binary one: each input binary or JSON, outputs raw on request, header padded. */
const binaryCase: fc.Arbitrary<BinaryCase> = fc.constantFrom(...FIXTURE_SIGS).chain((sig) =>
  fc
    .record({
      valid: validInfer(sig),
      binary: fc.array(fc.boolean(), { minLength: sig.inputs.length, maxLength: sig.inputs.length }),
      padding: fc.integer({ min: 0, max: 7 }),
      type: fc.constantFrom<string | undefined>('application/octet-stream', 'application/octet-stream', 'application/json', 'text/plain', 'application/x-anything', undefined),
      binaryOutputs: fc.boolean(),
    })
    .map((g) => {
      const header = structuredClone(g.valid.body);
      delete header.id; // ids are checked by the JSON tests; here they only make headers longer
      const tensors: Buffer[] = [];
      for (const input of header.inputs as Record<string, unknown>[]) {
        const i = sig.inputs.findIndex((t) => t.name === input.name);
        if (!g.binary[i]) continue;
        const bytes = encode(sig.inputs[i]!.datatype, g.valid.flat[input.name as string]!);
        delete input.data;
        input.parameters = { ...(input.parameters as object | undefined), binary_data_size: bytes.length };
        tensors.push(bytes);
      }
      if (g.binaryOutputs) header.parameters = { ...(header.parameters as object | undefined), binary_data_output: true };
      return { valid: { ...g.valid, id: undefined }, header, tensors, padding: g.padding, type: g.type, binaryOutputs: g.binaryOutputs };
    }),
);

function assemble(header: unknown, tensors: Buffer[], padding: number): { body: Buffer; headerBytes: number } {
  const head = Buffer.from(serialise(header) + ' '.repeat(padding));
  return { body: Buffer.concat([head, ...tensors]), headerBytes: head.length };
}

async function send(s: Started, url: string, body: Buffer, headerLength: string | string[] | undefined, type: string | undefined): Promise<Answer> {
  const headers: Record<string, string | string[]> = { ...AUTH };
  if (headerLength !== undefined) headers[HEADER] = headerLength;
  if (type !== undefined) headers['content-type'] = type;
  return injectAnswer(s.app, { method: 'POST', url, payload: body, headers: headers as Record<string, string> });
}

/** The outputs of a 200, JSON or binary, as {name, datatype, shape, data}. */
function outputsOf(a: Answer): { name: string; datatype: string; shape: number[]; data: unknown[] }[] {
  const length = a.headers[HEADER];
  const headerBytes = length === undefined ? a.raw.length : Number(length);
  const json = JSON.parse(a.raw.subarray(0, headerBytes).toString('utf8')) as { outputs: { name: string; datatype: string; shape: number[]; data?: unknown[]; parameters?: { binary_data_size: number } }[] };
  let at = headerBytes;
  const outputs = json.outputs.map((o) => {
    if (o.data !== undefined) return { name: o.name, datatype: o.datatype, shape: o.shape, data: o.data };
    const size = o.parameters!.binary_data_size;
    const data = decode(o.datatype, a.raw.subarray(at, at + size));
    at += size;
    return { name: o.name, datatype: o.datatype, shape: o.shape, data };
  });
  assert.equal(at, a.raw.length, 'the binary outputs fill the rest of the body exactly');
  return JSON.parse(JSON.stringify(outputs)) as ReturnType<typeof outputsOf>;
}

/** Ways to lie in a binary request. */
type BinaryLie =
  | { op: 'length'; value: string | string[] | undefined }
  | { op: 'lengthDelta'; delta: number }
  | { op: 'size'; input: number; value: unknown }
  | { op: 'sizeDelta'; input: number; delta: number }
  | { op: 'dataToo'; input: number }
  | { op: 'truncate'; fraction: number }
  | { op: 'append'; bytes: number[] }
  | { op: 'flip'; at: number; byte: number }
  | { op: 'header'; edit: Parameters<typeof applyEdit>[1] }
  | { op: 'headerText'; text: string };

const lie: fc.Arbitrary<BinaryLie> = fc.oneof(
  fc.record({
    op: fc.constant('length' as const),
    value: fc.oneof(
      fc.constantFrom<string | string[] | undefined>('-1', '-0', '0', '', ' ', '1e3', '0x10', '+5', '5.5', 'NaN', 'Infinity', '999999999999999', '9999999999999999', '99999999999999999999999', '18446744073709551616', ' 7 ', '7, 7', ['7', '8'], undefined),
      fc.string({ maxLength: 16 }),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 }).map(String),
    ),
  }),
  fc.record({ op: fc.constant('lengthDelta' as const), delta: fc.integer({ min: -8, max: 8 }).filter((d) => d !== 0) }),
  fc.record({ op: fc.constant('size' as const), input: fc.nat(), value: fc.oneof(hostileValue, fc.constantFrom(-1, 0, 1, 2 ** 53, 2 ** 31, 1.5, '12', null)) }),
  fc.record({ op: fc.constant('sizeDelta' as const), input: fc.nat(), delta: fc.integer({ min: -9, max: 9 }).filter((d) => d !== 0) }),
  fc.record({ op: fc.constant('dataToo' as const), input: fc.nat() }),
  fc.record({ op: fc.constant('truncate' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ op: fc.constant('append' as const), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 9 }) }),
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('header' as const), edit: pathEdit }),
  fc.record({ op: fc.constant('headerText' as const), text: fc.constantFrom('', '[]', '1', 'null', '"x"', '{}', '{"inputs":[]}', '\u00e9', '{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","parameters":{"binary_data_size":12}}]}') }),
);

/** Applies lies to a binary case: returns the body and the header value to send. */
function applyLies(c: BinaryCase, lies: BinaryLie[]): { body: Buffer; length: string | string[] | undefined } {
  let header: unknown = structuredClone(c.header);
  const tensors = c.tensors;
  /** The header's inputs that carry parameters (the binary ones, unless an edit moved things around). */
  const binaryInputs = (): Record<string, unknown>[] => {
    const inputs = (header as { inputs?: unknown } | null)?.inputs;
    return Array.isArray(inputs) ? (inputs.filter((i) => typeof i === 'object' && i !== null && 'parameters' in i) as Record<string, unknown>[]) : [];
  };
  let lengthOverride: string | string[] | undefined | null = null;
  let lengthDelta = 0;
  let headerText: string | undefined;
  const post: BinaryLie[] = [];
  for (const l of lies) {
    switch (l.op) {
      case 'length':
        lengthOverride = l.value;
        break;
      case 'lengthDelta':
        lengthDelta += l.delta;
        break;
      case 'size':
      case 'sizeDelta': {
        const inputs = binaryInputs();
        const input = inputs[l.input % Math.max(1, inputs.length)];
        const params = input?.parameters as Record<string, unknown> | undefined;
        if (params) params.binary_data_size = l.op === 'size' ? l.value : Number(params.binary_data_size) + l.delta;
        break;
      }
      case 'dataToo': {
        const inputs = binaryInputs();
        const input = inputs[l.input % Math.max(1, inputs.length)];
        if (input) input.data = [1, 2, 3];
        break;
      }
      case 'header':
        header = applyEdit(header, l.edit);
        break;
      case 'headerText':
        headerText = l.text;
        break;
      default:
        post.push(l);
    }
  }
  const assembled = headerText === undefined ? assemble(header, tensors, c.padding) : { body: Buffer.concat([Buffer.from(headerText), ...tensors]), headerBytes: Buffer.byteLength(headerText) };
  let body = assembled.body;
  for (const l of post) {
    if (l.op === 'truncate') body = body.subarray(0, Math.floor(body.length * l.fraction));
    else if (l.op === 'append') body = Buffer.concat([body, Buffer.from(l.bytes)]);
    else if (l.op === 'flip' && body.length > 0) {
      // Mostly in the tensors: that is where BOOL bytes > 1 and out-of-range indices come from.
      const from = Math.min(assembled.headerBytes, body.length - 1);
      body = Buffer.from(body);
      body[from + (l.at % (body.length - from))] = l.byte;
    }
  }
  const length = lengthOverride === null ? String(assembled.headerBytes + lengthDelta) : lengthOverride;
  return { body, length };
}

describe('fuzzing the binary tensor extension', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ REPOSITORY_POLL_INTERVAL_MS: '0' }, false);
  });
  after(() => s.close());

  it('answers every valid binary request (any mix of binary and JSON inputs, binary outputs on request) with the right outputs', async (t) => {
    const tally = new Tally();
    await fc.assert(
      fc.asyncProperty(binaryCase, async (c) => {
        const { body, headerBytes } = assemble(c.header, c.tensors, c.padding);
        const a = await send(s, c.valid.url, body, String(headerBytes), c.type);
        tally.add(a.status);
        assert.equal(a.status, 200, `valid binary request answered: ${a.raw.subarray(0, 300).toString('utf8')}`);
        if (c.binaryOutputs) assert.equal(a.headers['content-type'], 'application/octet-stream', 'binary outputs were asked for');
        assert.deepEqual(outputsOf(a), expectedOutputs(c.valid));
      }),
      fuzzOptions(0xb1a, 600),
    );
    t.diagnostic(tally.toString());
  });

  const liesProperty = (tally: Tally) =>
    fc.asyncProperty(binaryCase, fc.array(lie, { minLength: 1, maxLength: 3 }), rarely(contentType, 3), async (c, lies, type) => {
      const { body, length } = applyLies(c, lies);
      const a = await send(s, c.valid.url, body, length, type ?? c.type);
      tally.add(a.status);
      checkAnswer(a, { allowDeadline: body.includes('timeout_ms'), allowInferenceFailure: c.valid.sig.name === 'gather_fail' });
      if (a.status === 200) outputsOf(a);
    });

  it('never answers a binary request that lies about lengths, sizes or bytes with a 5xx', async (t) => {
    const tally = new Tally();
    await fc.assert(liesProperty(tally), fuzzOptions(0x11e5, 1500));
    t.diagnostic(tally.toString());
    assert.ok((tally.byStatus.get(400) ?? 0) > tally.cases / 2, 'most lies are refused as bad requests');
  });

  it('reads BYTES tensors or refuses them with a 400 for any length prefixes, sizes and counts (decoder)', (t) => {
    const BYTES = datatypeFromV2('BYTES')!;
    let read = 0;
    let refused = 0;
    // Counted per run of the property (shrinking after a failure would add to them).
    /** Well-formed strings, their layout, then damage: prefixes, truncation, extra bytes, invalid UTF-8. */
    const damaged = fc.record({
      strings: fc.array(fc.string({ unit: 'grapheme', maxLength: 12 }), { maxLength: 6 }),
      prefix: rarely(fc.record({ index: fc.nat(), value: fc.constantFrom(0, 1, 0xffffffff, 0x7fffffff, 0x80000000, 65536) }), 1),
      cut: rarely(fc.nat(), 2),
      extra: rarely(fc.uint8Array({ minLength: 1, maxLength: 6 }), 2),
      invalidUtf8: rarely(fc.constantFrom([0xff], [0xc3], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]), 3),
      countDelta: fc.constantFrom(0, 0, 0, -1, 1, 1000),
      sizeDelta: fc.constantFrom(0, 0, 0, -1, 1, -4, 4),
      offset: fc.integer({ min: 0, max: 5 }),
    });
    fc.assert(
      fc.property(damaged, (d) => {
        let layout = Buffer.from(tensorBytes(d.strings));
        if (d.invalidUtf8) layout = Buffer.concat([Buffer.from([d.invalidUtf8.length, 0, 0, 0]), Buffer.from(d.invalidUtf8), layout]);
        const count = Math.max(0, d.strings.length + (d.invalidUtf8 ? 1 : 0) + d.countDelta);
        if (d.prefix && layout.length >= 4) {
          // Overwrite the length prefix of one element (found by walking the well-formed layout).
          let at = 0;
          for (let i = 0; i < d.prefix.index % Math.max(1, d.strings.length) && at + 4 <= layout.length; i++) at += 4 + layout.readUInt32LE(at);
          if (at + 4 <= layout.length) layout.writeUInt32LE(d.prefix.value, at);
        }
        if (d.cut !== undefined) layout = layout.subarray(0, d.cut % (layout.length + 1));
        if (d.extra) layout = Buffer.concat([layout, d.extra]);
        const body = Buffer.concat([Buffer.alloc(d.offset, 0x20), layout]);
        const size = Math.max(0, layout.length + d.sizeDelta);
        try {
          const out = new BinaryReader(body, d.offset).read('s', BYTES, size, count);
          assert.ok(Array.isArray(out) && out.length === count && out.every((x) => typeof x === 'string'), 'count strings');
          if (!d.prefix && d.cut === undefined && !d.extra && !d.invalidUtf8 && d.countDelta === 0 && d.sizeDelta === 0) assert.deepEqual(out, d.strings, 'a well-formed layout reads back');
          read++;
        } catch (err) {
          assert.ok(err instanceof OrtserveError && err.statusCode === 400, `a refusal is a coded 400, got ${(err as Error).stack}`);
          refused++;
        }
      }),
      fuzzOptions(0xb7e5, 3000),
    );
    t.diagnostic(`${read + refused} cases: ${read} read, ${refused} refused`);
    assert.ok(read > 100 && refused > 100, 'both outcomes are reached');
  });

  it('decodes or refuses with a coded 4xx any binary request for a BYTES input (decodeInferRequest)', (t) => {
    const info = datatypeFromV2('BYTES') as DatatypeInfo;
    const sig: ModelSignature = {
      inputs: [{ name: 'text', info, shape: [-1] }],
      outputs: [{ name: 'out', info, shape: [-1] }],
      inputsByName: new Map([['text', { name: 'text', info, shape: [-1] }]]),
      batched: true,
    };
    const limits = testConfig().limits;
    let decoded = 0;
    let cases = 0;
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 8 }), { minLength: 1, maxLength: 5 }),
        fc.oneof(fc.constant(undefined), hostileValue),
        fc.uint8Array({ maxLength: 24 }),
        fc.boolean(),
        (strings, sizeLie, noise, useNoise) => {
          cases++;
          const layout = useNoise ? Buffer.from(noise) : Buffer.from(tensorBytes(strings));
          const header = { inputs: [{ name: 'text', shape: [strings.length], datatype: 'BYTES', parameters: { binary_data_size: sizeLie === undefined ? layout.length : sizeLie } }] };
          const head = Buffer.from(JSON.stringify(header));
          try {
            const r = decodeInferRequest(sig, header, limits, undefined, { bytes: Buffer.concat([head, layout]), start: head.length });
            assert.equal(r.inputs[0]!.data.length, strings.length);
            decoded++;
          } catch (err) {
            assert.ok(err instanceof OrtserveError && err.statusCode >= 400 && err.statusCode < 500, `a refusal is a coded 4xx, got ${(err as Error).stack}`);
          }
        },
      ),
      fuzzOptions(0xde0, 2000),
    );
    t.diagnostic(`${cases} cases: ${decoded} decoded`);
  });

  it('keeps the heap flat over another 1,000 lying binary requests and still answers right afterwards', async (t) => {
    const tally = new Tally();
    await assertHeapFlat(t, s.app, () => String(tally), () => fc.assert(liesProperty(tally), fuzzOptions(0xf1a7b, 1000)));

    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', parameters: { binary_data_size: 12 } }], parameters: { binary_data_output: true } }));
    const a = await send(s, '/v2/models/dtype_fp32/infer', Buffer.concat([header, encode('FP32', [1, -2, 0.5])]), String(header.length), 'application/octet-stream');
    assert.equal(a.status, 200);
    assert.deepEqual(outputsOf(a), [{ name: 'y', datatype: 'FP32', shape: [1, 3], data: [2, -4, 1] }]);
    assert.equal(await workerRestarts(s.app), 0, 'no worker thread died');
  });
});
