// The byte-level JSON scanner against the parser it replaces (Fastify's default: JSON.parse after a BOM is
// dropped, then secure-json-parse's poisoning checks), differentially over thousands of generated and mutated
// texts, plus the packed tensor data and fillFromScanned against fillTensor for every datatype.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import Fastify from 'fastify';
import { OrtserveError } from '../../../src/errors.js';
import { JsonScanError, ScannedData, scanInferBody, scanJson } from '../../../src/http/codec/json-scan.js';
import { fillFromScanned } from '../../../src/http/codec/scanned-fill.js';
import { fillTensor } from '../../../src/http/codec/tensor-fill.js';
import { datatypeFromV2, type TensorData } from '../../../src/runtime/datatypes.js';

const SEED = 20261128;
const RUNS = 2000;

const app = Fastify();
type Done = (err: Error | null, body?: unknown) => void;
const fastifyJson = app.getDefaultJsonParser('error', 'error') as unknown as (req: unknown, body: string, done: Done) => void;

after(() => app.close());

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** What Fastify's own JSON parser makes of the bytes (after decoding the whole body as UTF-8). */
function reference(bytes: Buffer): Outcome {
  let out: Outcome | undefined;
  fastifyJson({}, bytes.toString('utf8'), (err, value) => {
    out = err ? { ok: false, error: err } : { ok: true, value };
  });
  return out!;
}

function attempt(fn: () => unknown): Outcome {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** The JSON value a scanned result stands for: every ScannedData turned back into arrays. */
function unpack(v: unknown): unknown {
  if (v instanceof ScannedData) return v.toArray();
  if (Array.isArray(v)) return v.map(unpack);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) Object.defineProperty(out, k, { value: unpack(x), writable: true, enumerable: true, configurable: true });
    return out;
  }
  return v;
}

/** Counts the ScannedData in a result, checking each one's invariants on the way. */
function countPacked(v: unknown): number {
  if (v instanceof ScannedData) {
    assert.equal(v.values.length, v.count);
    assert.equal(v.dims.reduce((a, b) => a * b, 1), v.count);
    if (v.booleans !== null) assert.equal(v.booleans.length, v.count);
    return 1;
  }
  if (v !== null && typeof v === 'object') return Object.values(v).reduce((n: number, x) => n + countPacked(x), 0);
  return 0;
}

/** Both fail, or both succeed with deep-equal values (Object.is for numbers, so -0 counts). */
function assertSame(bytes: Buffer, scan: (b: Buffer) => unknown = (b) => scanInferBody(b, { maxDepth: 10_000 })): unknown {
  const want = reference(bytes);
  const got = attempt(() => scan(bytes));
  const text = bytes.toString('utf8').slice(0, 300);
  if (!want.ok) {
    assert.equal(got.ok, false, `the scanner accepted what Fastify rejects: ${text}`);
    assert.ok((got as { error: unknown }).error instanceof JsonScanError, `not a JsonScanError: ${String((got as { error: unknown }).error)}`);
    return undefined;
  }
  assert.equal(got.ok, true, `the scanner rejected what Fastify accepts: ${text}\n${String((got as { error: unknown }).error)}`);
  const value = (got as { value: unknown }).value;
  assert.deepStrictEqual(unpack(value), want.value, text);
  return value;
}

// ---- generators ----

const digits = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });

/** JSON number texts: shortest doubles, float32 values written with 7 digits, raw digit strings, edge cases. */
const numberText = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => JSON.stringify(x)),
  fc.float({ noNaN: true, noDefaultInfinity: true }).map((x) => (x === 0 ? '0' : x.toPrecision(7))),
  fc.integer().map(String),
  fc.bigInt({ min: -(2n ** 90n), max: 2n ** 90n }).map(String),
  fc
    .tuple(fc.boolean(), fc.oneof(fc.constant('0'), fc.tuple(fc.constantFrom(...'123456789'), digits(0, 25)).map(([a, b]) => a + b)), fc.option(digits(1, 25)), fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), digits(1, 4))))
    .map(([neg, int, frac, exp]) => `${neg ? '-' : ''}${int}${frac === null ? '' : `.${frac}`}${exp === null ? '' : exp.join('')}`),
  fc.constantFrom(
    '-0', '0.0', '-0.0e0', '1e308', '1.7976931348623157e308', '1.7976931348623159e308', '-1e309', '5e-324', '4.9406564584124654e-324',
    '2.4703282292062327e-324', '2.4703282292062328e-324', '1e-400', '9007199254740993', '9007199254740992', '123456789012345678901234567890',
    '0.1e23', '1e22', '1e23', '22250738585072011e-324', '3.4028234663852886e38', '3.4028235e38', '0.30000000000000004', '1E-7', '1e+2',
  ),
);
const leafText = fc.oneof({ weight: 12, arbitrary: numberText }, { weight: 1, arbitrary: fc.constantFrom('true', 'false') });
const ws = fc.constantFrom('', '', '', ' ', '\n', '\t', '\r\n  ');

/** A rectangular nesting of `leaf` texts with random whitespace, e.g. [[1, 2], [3, 4]]. */
function nestedText(leaf: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 3 }).chain((dims) => {
    const count = dims.reduce((a, b) => a * b, 1);
    return fc.tuple(fc.array(leaf, { minLength: count, maxLength: count }), fc.array(ws, { minLength: 4 * count + 8, maxLength: 4 * count + 8 })).map(([leaves, spaces]) => {
      let l = 0;
      let s = 0;
      const w = () => spaces[s++ % spaces.length]!;
      const build = (level: number): string => {
        const items: string[] = [];
        for (let i = 0; i < dims[level]!; i++) items.push(w() + (level + 1 < dims.length ? build(level + 1) : leaves[l++]!) + w());
        return `[${items.join(',')}]`;
      };
      return build(0);
    });
  });
}

/** Data that is not packable: ragged, mixed with strings / nulls / objects, or arbitrary JSON. */
const otherData = fc.oneof(
  fc.array(fc.oneof(leafText, fc.array(leafText, { maxLength: 3 }).map((xs) => `[${xs.join(',')}]`)), { maxLength: 5 }).map((xs) => `[${xs.join(',')}]`),
  fc.array(fc.oneof(leafText, fc.constantFrom('null', '"a"', '{}', '"\\u00e9"')), { minLength: 1, maxLength: 5 }).map((xs) => `[${xs.join(',')}]`),
  fc.json({ maxDepth: 3 }),
);

const inputText = fc
  .record({
    data: fc.oneof({ weight: 4, arbitrary: nestedText(leafText) }, { weight: 1, arbitrary: otherData }),
    // The shape sometimes promises what the data holds (the scanner sizes its array by it), sometimes not.
    shape: fc.constantFrom('dims', 'dims', '[1,3]', '[2,2]', '[0]', '[]', '[1.5]', '"x"', '[1e9,1e9]'),
    extra: fc.boolean(),
    w: ws,
  })
  .chain(({ data, shape, extra, w }) => {
    const shapeText = shape === 'dims' ? `[${dimsOf(JSON.parse(data) as unknown).join(',')}]` : shape;
    const fields = [`"name":"x"`, `"shape":${shapeText}`, `"datatype":"FP32"`, `"data":${w}${data}`, ...(extra ? [`"parameters":{"data":[1,2]}`] : [])];
    return fc.shuffledSubarray(fields, { minLength: fields.length, maxLength: fields.length }).map((f) => `{${f.join(`,${w}`)}}`);
  });

const v2Body = fc
  .tuple(fc.array(inputText, { minLength: 1, maxLength: 3 }), fc.option(fc.constantFrom('"id":"r1"', '"parameters":{"inputs":[{"data":[1]}]}', '"outputs":[{"name":"y","data":[1]}]')), ws)
  .map(([inputs, other, w]) => `${w}{${other === null ? '' : `${other},`}${w}"inputs":${w}[${inputs.join(',')}]}${w}`);

/** 1-3 byte-level edits: delete, insert or replace a byte (JSON punctuation, digits, controls, non-ASCII), or cut. */
function mutated(text: fc.Arbitrary<string>): fc.Arbitrary<Buffer> {
  const interesting = [...'{}[],:"\\-+.eE0123456789 tfnul/'].map((ch) => ch.charCodeAt(0)).concat([0x00, 0x01, 0x1f, 0x7f, 0x80, 0xbf, 0xc3, 0xe2, 0xed, 0xef, 0xf0, 0xff]);
  const edit = fc.tuple(fc.constantFrom('delete', 'insert', 'replace', 'cut'), fc.nat(), fc.constantFrom(...interesting));
  return fc.tuple(text, fc.array(edit, { minLength: 1, maxLength: 3 })).map(([t, edits]) => {
    const bytes = [...Buffer.from(t)];
    for (const [kind, at, byte] of edits) {
      const i = bytes.length === 0 ? 0 : at % bytes.length;
      if (kind === 'delete') bytes.splice(i, 1);
      else if (kind === 'insert') bytes.splice(i, 0, byte);
      else if (kind === 'replace') bytes[i] = byte;
      else bytes.length = i;
    }
    return Buffer.from(bytes);
  });
}

describe('scanJson: the same result as Fastify\'s JSON parser', () => {
  it('agrees on thousands of generated JSON texts (fc.json)', () => {
    fc.assert(fc.property(fc.json({ stringUnit: 'binary' }), (t) => void assertSame(Buffer.from(t))), { seed: SEED, numRuns: RUNS });
  });

  it('agrees on generated JSON values, compact and indented', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(undefined, 2, '\t'), (v, indent) => void assertSame(Buffer.from(JSON.stringify(v, null, indent)))),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('agrees on generated V2 bodies and packs exactly the numeric rectangular data', () => {
    let packed = 0;
    let unpacked = 0;
    fc.assert(
      fc.property(v2Body, (t) => {
        const value = assertSame(Buffer.from(t));
        // Which `data` should be packed: parse with JSON.parse and look at each input's data.
        const inputs = (JSON.parse(t) as { inputs: { data: unknown }[] }).inputs;
        const expected = inputs.filter((i) => isRectangularNumeric(i.data)).length;
        assert.equal(countPacked(value), expected, t);
        packed += expected;
        unpacked += inputs.length - expected;
      }),
      { seed: SEED, numRuns: RUNS },
    );
    // The generators exercise both paths.
    assert.ok(packed > RUNS && unpacked > RUNS / 4, `packed ${packed}, unpacked ${unpacked}`);
  });

  it('agrees on mutated bodies and texts: both throw or both give the same value', () => {
    let accepted = 0;
    fc.assert(
      fc.property(mutated(fc.oneof(v2Body, fc.json())), (bytes) => {
        if (assertSame(bytes) !== undefined) accepted++;
      }),
      { seed: SEED, numRuns: 3 * RUNS },
    );
    assert.ok(accepted > RUNS / 4 && accepted < 2 * RUNS, `${accepted} of ${3 * RUNS} mutated texts were valid JSON`);
  });

  it('agrees with plain JSON.parse when poisoning checks are off', () => {
    const scan = (b: Buffer) => scanJson(b, { protoAction: 'ignore', constructorAction: 'ignore', maxDepth: 10_000 });
    fc.assert(
      fc.property(mutated(fc.oneof(v2Body, fc.json({ stringUnit: 'binary' }))), (bytes) => {
        const want = attempt(() => JSON.parse(bytes.toString('utf8')));
        const got = attempt(() => scan(bytes));
        if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return; // JSON.parse rejects a BOM, Fastify drops it
        assert.equal(got.ok, want.ok, bytes.toString('utf8'));
        if (want.ok && got.ok) assert.deepStrictEqual(got.value, want.value);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('decodes strings holding any bytes as Buffer#toString does, invalid UTF-8 included', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (inner) => {
        const bytes = Buffer.concat([Buffer.from('{"k":"'), Buffer.from(inner), Buffer.from('","v":["'), Buffer.from(inner), Buffer.from('"]}')]);
        assertSame(bytes);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('gives every number exactly the double JSON.parse gives', () => {
    fc.assert(
      fc.property(fc.array(numberText, { minLength: 1, maxLength: 50 }), (nums) => {
        const text = `{"inputs":[{"data":[${nums.join(',')}]}],"n":[${nums.join(',')}]}`;
        const got = scanInferBody(Buffer.from(text)) as { inputs: [{ data: ScannedData }]; n: number[] };
        const want = nums.map((n) => JSON.parse(n) as number);
        assert.ok(got.inputs[0].data instanceof ScannedData);
        assert.equal(got.inputs[0].data.count, nums.length);
        for (let i = 0; i < nums.length; i++) {
          assert.ok(Object.is(got.inputs[0].data.values[i], want[i]), `${nums[i]}: packed ${got.inputs[0].data.values[i]}, JSON.parse ${want[i]}`);
          assert.ok(Object.is(got.n[i], want[i]), `${nums[i]}: ${got.n[i]}, JSON.parse ${want[i]}`);
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('holds the flattened numbers and booleans of nested data in its values, in order', () => {
    fc.assert(
      fc.property(nestedText(leafText), (data) => {
        const got = (scanInferBody(Buffer.from(`{"inputs":[{"data":${data}}]}`)) as { inputs: [{ data: ScannedData }] }).inputs[0].data;
        const flat = (JSON.parse(data) as unknown[]).flat(Infinity) as (number | boolean)[];
        assert.ok(got instanceof ScannedData);
        assert.equal(got.values.length, flat.length);
        assert.equal(got.count, flat.length);
        flat.forEach((v, i) => {
          assert.ok(Object.is(got.values[i], typeof v === 'boolean' ? Number(v) : v), `element ${i}`);
          assert.equal(got.booleans?.[i] ?? 0, typeof v === 'boolean' ? 1 : 0);
        });
        assert.deepStrictEqual(got.dims, dimsOf(JSON.parse(data)));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

function dimsOf(v: unknown): number[] {
  const dims: number[] = [];
  while (Array.isArray(v)) {
    dims.push(v.length);
    v = v[0];
  }
  return dims;
}

function isRectangularNumeric(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  const dims = dimsOf(v);
  const check = (x: unknown, level: number): boolean => {
    if (level === dims.length) return typeof x === 'number' || typeof x === 'boolean';
    return Array.isArray(x) && x.length === dims[level] && x.every((y) => check(y, level + 1));
  };
  // An all-empty nesting ([[], []]) has no leaves to look at; dimsOf stops at the first empty array.
  return check(v, 0) && dims.length <= 32;
}

function scanError(text: string | Buffer, options?: Parameters<typeof scanJson>[1]): JsonScanError {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  try {
    scanJson(bytes, options);
  } catch (err) {
    assert.ok(err instanceof JsonScanError, String(err));
    assert.ok(err instanceof SyntaxError);
    return err;
  }
  assert.fail(`accepted ${bytes.toString()}`);
}

describe('scanJson: syntax', () => {
  it('rejects what JSON.parse rejects, naming the byte position', () => {
    const cases: [string, number][] = [
      ['[1,]', 3], ['{"a":1,}', 7], ['01', 1], ['[01]', 2], ['-', 1], ['1.', 2], ['.5', 0], ['+1', 0], ['1e', 2], ['1e+', 3],
      ['NaN', 0], ['Infinity', 0], ['-Infinity', 1], ['[1 2]', 3], ['{"a" 1}', 5], ['{a:1}', 1], ["{'a':1}", 1], ['"a\u0001"', 2],
      ['"\t"', 1], ['"\\x"', 2], ['"\\u12G4"', 5], ['"abc', 4], ['[', 1], ['', 0], ['   ', 3], ['{} x', 3], ['tru', 3], ['nul', 3], ['True', 0],
      ['[1]]', 3], ['"\\', 2], ['\u00a0{}', 0],
    ];
    for (const [text, position] of cases) {
      assert.throws(() => JSON.parse(text), SyntaxError, text);
      const err = scanError(text);
      assert.equal(err.reason, 'syntax', text);
      assert.equal(err.position, position, `${JSON.stringify(text)}: ${err.message}`);
      assert.match(err.message, /at position \d+$/);
    }
  });

  it('decodes escapes, surrogate pairs and lone surrogates as JSON.parse does', () => {
    const text = String.raw`["\" \\ \/ \b \f \n \r \t", "\u00e9\u00E9", "\ud83d\ude00", "\ud800", "x\udc00y", "é😀", ""]`;
    assert.deepStrictEqual(scanJson(Buffer.from(text)), JSON.parse(text));
  });

  it('keeps the last of duplicate keys, in the first key\'s place', () => {
    const text = '{"a":1,"b":2,"a":3,"inputs":[{"data":[1],"data":["s"]}]}';
    const got = scanInferBody(Buffer.from(text)) as Record<string, unknown>;
    assert.deepStrictEqual(got, JSON.parse(text));
    assert.deepStrictEqual(Object.keys(got), ['a', 'b', 'inputs']);
  });

  it('drops a leading byte order mark as Fastify does, and only at the start', () => {
    assert.deepStrictEqual(scanJson(Buffer.from('\ufeff{"a":1}')), { a: 1 });
    assert.equal(scanError('{"a":\ufeff1}').position, 5);
  });

  it('reads a Uint8Array that is not a Buffer, at its own offset', () => {
    const backing = new Uint8Array(Buffer.from('xx{"inputs":[{"data":[1.5,2]}]}yy'));
    const got = scanInferBody(backing.subarray(2, backing.length - 2)) as { inputs: [{ data: ScannedData }] };
    assert.deepStrictEqual(got.inputs[0].data.toArray(), [1.5, 2]);
  });
});

describe('scanJson: security', () => {
  it('rejects a "__proto__" key anywhere, however it is spelled, as Fastify does', () => {
    for (const text of ['{"__proto__":{"x":1}}', '{"a":[{"b":{"__proto__":1}}]}', String.raw`{"\u005f_proto__":1}`, '{"inputs":[{"data":[1],"__proto__":null}]}']) {
      const err = scanError(text);
      assert.equal(err.reason, 'poison', text);
      assert.equal(reference(Buffer.from(text)).ok, false, text);
    }
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });

  it('rejects constructor.prototype, but not a "constructor" key without one', () => {
    assert.equal(scanError('{"a":{"constructor":{"prototype":{"x":1}}}}').reason, 'poison');
    assert.deepStrictEqual(scanJson(Buffer.from('{"constructor":{"name":"x"},"b":{"constructor":1}}')), { constructor: { name: 'x' }, b: { constructor: 1 } });
    // Last wins, as JSON.parse builds it: the poisoned value was replaced.
    assert.deepStrictEqual(scanJson(Buffer.from('{"constructor":{"prototype":1},"constructor":2}')), { constructor: 2 });
  });

  it('keeps "__proto__" as an own property with the checks off, and removes it with remove', () => {
    const kept = scanJson(Buffer.from('{"__proto__":{"x":1}}'), { protoAction: 'ignore' }) as Record<string, unknown>;
    assert.deepStrictEqual(Object.keys(kept), ['__proto__']);
    assert.equal(Object.getPrototypeOf(kept), Object.prototype);
    assert.equal((kept as { x?: number }).x, undefined);
    const removed = scanJson(Buffer.from('{"__proto__":{"x":1},"a":{"constructor":{"prototype":1}}}'), { protoAction: 'remove', constructorAction: 'remove' });
    assert.deepStrictEqual(removed, { a: {} });
  });

  it('rejects nesting deeper than maxDepth, counting packed data levels too', () => {
    assert.deepStrictEqual(scanJson(Buffer.from('[[[1]]]'), { maxDepth: 3 }), [[[1]]]);
    const err = scanError('[[[[1]]]]', { maxDepth: 3 });
    assert.equal(err.reason, 'depth');
    assert.equal(err.position, 3);
    assert.equal(scanError('{"a":{"b":{}}}', { maxDepth: 2 }).reason, 'depth');
    // root object, inputs array, input object: 3 levels, then [[1]] makes 5.
    const body = Buffer.from('{"inputs":[{"data":[[1]]}]}');
    assert.ok((scanInferBody(body, { maxDepth: 5 }) as { inputs: [{ data: unknown }] }).inputs[0].data instanceof ScannedData);
    assert.throws(() => scanInferBody(body, { maxDepth: 4 }), (e: unknown) => e instanceof JsonScanError && e.reason === 'depth');
  });

  it('walks 200,000 levels of nesting without recursion', () => {
    const deep = Buffer.from('['.repeat(200_000) + ']'.repeat(200_000));
    assert.equal(scanError(deep).reason, 'depth');
    let v = scanJson(deep, { maxDepth: 1_000_000 });
    let levels = 0;
    while (Array.isArray(v)) {
      levels++;
      v = v[0];
    }
    assert.equal(levels, 200_000);
  });
});

describe('scanInferBody: packed tensor data', () => {
  it('packs flat, nested, empty and boolean data of every input', () => {
    const body = '{"inputs":[{"name":"a","data":[1,-2.5,3e2]},{"name":"b","data":[[1,2],[3,4],[5,6]]},{"name":"c","data":[]},{"name":"d","data":[[],[]]},{"name":"e","data":[true,false,1]}]}';
    const got = scanInferBody(Buffer.from(body)) as { inputs: { data: ScannedData }[] };
    const [a, b, c, d, e] = got.inputs.map((i) => i.data);
    for (const s of [a, b, c, d, e]) assert.ok(s instanceof ScannedData);
    assert.deepStrictEqual([...a!.values], [1, -2.5, 300]);
    assert.deepStrictEqual(a!.dims, [3]);
    assert.equal(a!.booleans, null);
    assert.deepStrictEqual([...b!.values], [1, 2, 3, 4, 5, 6]);
    assert.deepStrictEqual(b!.dims, [3, 2]);
    assert.deepStrictEqual([c!.count, c!.dims], [0, [0]]);
    assert.deepStrictEqual([d!.count, d!.dims], [0, [2, 0]]);
    assert.deepStrictEqual([...e!.booleans!], [1, 1, 0]);
    assert.deepStrictEqual(e!.toArray(), [true, false, 1]);
  });

  it('leaves strings, nulls, objects, ragged nesting and data outside inputs as JSON values', () => {
    const body = {
      parameters: { data: [1, 2] },
      inputs: [
        { name: 'a', data: ['x', 'y'] },
        { name: 'b', data: [1, null] },
        { name: 'c', data: [[1, 2], [3]] },
        { name: 'd', data: [1, [2]] },
        { name: 'e', data: [[1], [[2]]] },
        { name: 'f', data: [{ x: 1 }] },
        { name: 'g', data: 5 },
        { name: 'h', parameters: { data: [1] } },
      ],
      outputs: [{ name: 'y', data: [1] }],
    };
    const got = scanInferBody(Buffer.from(JSON.stringify(body)));
    assert.equal(countPacked(got), 0);
    assert.deepStrictEqual(got, body);
  });

  it('leaves data nested deeper than 32 levels to tensor-fill, which names the limit', () => {
    const deep = (levels: number) => '['.repeat(levels) + '1' + ']'.repeat(levels);
    const at = (levels: number) => (scanInferBody(Buffer.from(`{"inputs":[{"data":${deep(levels)}}]}`)) as { inputs: [{ data: unknown }] }).inputs[0].data;
    assert.ok(at(32) instanceof ScannedData);
    const d = at(34);
    assert.ok(Array.isArray(d));
    assert.throws(() => fillTensor('x', datatypeFromV2('FP32')!, d, 1), /nested deeper than 32 levels/);
  });

  it('keeps earlier results intact while later bodies are scanned (no shared buffers leak)', () => {
    const first = (scanInferBody(Buffer.from('{"inputs":[{"data":[1,2,3]}]}')) as { inputs: [{ data: ScannedData }] }).inputs[0].data;
    const big = (scanInferBody(Buffer.from(`{"inputs":[{"data":[${Array.from({ length: 5000 }, (_, i) => i).join(',')}]}]}`)) as { inputs: [{ data: ScannedData }] }).inputs[0].data;
    for (let i = 0; i < 3000; i++) scanInferBody(Buffer.from(`{"inputs":[{"data":[${i},${i},${i},true]}]}`));
    scanInferBody(Buffer.from(`{"inputs":[{"data":[${Array.from({ length: 9000 }, () => 7).join(',')}]}]}`));
    assert.deepStrictEqual([...first.values], [1, 2, 3]);
    assert.equal(big.values[4999], 4999);
    assert.equal(big.values.length, 5000);
  });
});

// ---- fillFromScanned against fillTensor ----

const DATATYPES = ['FP32', 'FP64', 'INT32', 'INT64', 'UINT8', 'INT8', 'BOOL', 'UINT16', 'INT16', 'UINT32', 'UINT64', 'BYTES'] as const;

const edgeText = fc.constantFrom(
  '0', '-0', '1', '-1', '0.5', '1.5', '-1.5', '127', '128', '-128', '-129', '255', '256', '32767', '32768', '-32769', '65535', '65536',
  '2147483647', '2147483648', '-2147483648', '-2147483649', '4294967295', '4294967296', '9007199254740991', '9007199254740992',
  '-9007199254740991', '-9007199254740992', '3.4028234663852886e38', '3.4028235e38', '3.4028236e38', '-1e39', '1e308', '1e999', '-1e999',
  '5e-324', '1e-50', 'true', 'false', '2', '1.0',
);

function outcome(fn: () => TensorData): { ok: true; data: TensorData } | { ok: false; message: string; status: number; code: string } {
  try {
    return { ok: true, data: fn() };
  } catch (err) {
    assert.ok(err instanceof OrtserveError, String(err));
    return { ok: false, message: err.message, status: err.statusCode, code: err.code };
  }
}

describe('fillFromScanned', () => {
  it('gives the same tensor or the same 400 as fillTensor for every datatype', () => {
    fc.assert(
      fc.property(
        nestedText(fc.oneof({ weight: 3, arbitrary: edgeText }, { weight: 2, arbitrary: leafText })),
        fc.constantFrom(...DATATYPES),
        fc.integer({ min: -2, max: 2 }),
        (data, dt, delta) => {
          const info = datatypeFromV2(dt)!;
          const scanned = (scanInferBody(Buffer.from(`{"inputs":[{"data":${data}}]}`)) as { inputs: [{ data: ScannedData }] }).inputs[0].data;
          assert.ok(scanned instanceof ScannedData);
          const expected = Math.max(0, scanned.count + delta);
          const want = outcome(() => fillTensor('x', info, JSON.parse(data), expected));
          const got = outcome(() => fillFromScanned('x', info, scanned, expected));
          assert.deepStrictEqual(got, want, `${dt} ${data} expected ${expected}`);
        },
      ),
      { seed: SEED, numRuns: 3 * RUNS },
    );
  });

  it('rejects the elements each datatype cannot hold, and wrong lengths, with fillTensor\'s messages', () => {
    const cases: [string, string, number, RegExp][] = [
      ['FP32', '[1, 3.5e38]', 2, /element 1 is 3\.5e\+38; FP32 needs a finite number/],
      ['FP64', '[1e999]', 1, /element 0 is Infinity; FP64 needs a finite number/],
      ['FP32', '[0.5, true]', 2, /element 1 is true; FP32 needs/],
      ['INT32', '[1.5]', 1, /element 0 is 1\.5; INT32 needs an integer in \[-2147483648, 2147483647\]/],
      ['INT64', '[9007199254740992]', 1, /element 0 is 9007199254740992; INT64 needs an integer/],
      ['UINT8', '[[0, 256]]', 2, /element 1 is 256; UINT8 needs an integer in \[0, 255\]/],
      ['INT8', '[-129]', 1, /element 0 is -129; INT8 needs/],
      ['BOOL', '[true, 2]', 2, /element 1 is 2; BOOL needs true or false/],
      ['BYTES', '[1]', 1, /element 0 is 1; BYTES needs a string/],
      ['FP32', '[1, 2, 3, 4]', 3, /data has 4 elements but shape needs 3/],
      ['FP32', '[1, 2]', 3, /data has 2 elements but shape needs 3/],
      ['FP32', '[[1, 2], [3, 4]]', 3, /data has more elements than the 3 that shape needs/],
      ['FP32', '[[1, 2], [3, 4]]', 5, /data has 4 elements but shape needs 5/],
      ['INT8', '[[1, 2], [300, 4]]', 3, /element 2 is 300; INT8 needs/],
    ];
    for (const [dt, data, n, message] of cases) {
      const scanned = (scanInferBody(Buffer.from(`{"inputs":[{"data":${data}}]}`)) as { inputs: [{ data: ScannedData }] }).inputs[0].data;
      const info = datatypeFromV2(dt)!;
      for (const fill of [() => fillFromScanned('x', info, scanned, n), () => fillTensor('x', info, JSON.parse(data), n)]) {
        assert.throws(fill, (err: unknown) => {
          assert.ok(err instanceof OrtserveError);
          assert.equal(err.statusCode, 400);
          assert.match(err.message, /^input 'x': /);
          assert.match(err.message, message);
          return true;
        }, `${dt} ${data}`);
      }
    }
  });

  it('fills each datatype\'s typed array exactly', () => {
    const fill = (dt: string, data: string, n: number) => fillFromScanned('x', datatypeFromV2(dt)!, (scanInferBody(Buffer.from(`{"inputs":[{"data":${data}}]}`)) as { inputs: [{ data: ScannedData }] }).inputs[0].data, n);
    assert.deepStrictEqual(fill('FP32', '[[0.1, -2], [3e38, -0]]', 4), new Float32Array([0.1, -2, 3e38, -0]));
    assert.deepStrictEqual(fill('FP64', '[0.1, 1e300]', 2), new Float64Array([0.1, 1e300]));
    assert.deepStrictEqual(fill('INT32', '[-2147483648, 7]', 2), new Int32Array([-2147483648, 7]));
    assert.deepStrictEqual(fill('INT64', '[-9007199254740991, 2]', 2), new BigInt64Array([-9007199254740991n, 2n]));
    assert.deepStrictEqual(fill('UINT8', '[0, 255]', 2), new Uint8Array([0, 255]));
    assert.deepStrictEqual(fill('INT8', '[-128, 127]', 2), new Int8Array([-128, 127]));
    assert.deepStrictEqual(fill('BOOL', '[true, false, 1, 0]', 4), new Uint8Array([1, 0, 1, 0]));
  });
});

