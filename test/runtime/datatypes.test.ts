import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  allocate,
  concat,
  datatypeFromOrt,
  datatypeFromV2,
  type DatatypeInfo,
  elementCount,
  slice,
  SUPPORTED_V2_DATATYPES,
} from '../../src/runtime/datatypes.js';

function info(v2: string): DatatypeInfo {
  const i = datatypeFromV2(v2);
  assert.ok(i, `${v2} is known`);
  return i;
}

describe('datatype tables', () => {
  it('maps every V2 datatype to an onnxruntime type and back', () => {
    assert.equal(SUPPORTED_V2_DATATYPES.length, 12);
    for (const v2 of SUPPORTED_V2_DATATYPES) {
      const a = info(v2);
      assert.equal(a.v2, v2);
      const b = datatypeFromOrt(a.ort);
      assert.equal(b, a, `${v2} -> ${a.ort} -> back`);
    }
  });

  it('pairs the protocol names with the onnxruntime names', () => {
    const pairs: [string, string][] = [
      ['BOOL', 'bool'], ['UINT8', 'uint8'], ['UINT16', 'uint16'], ['UINT32', 'uint32'], ['UINT64', 'uint64'],
      ['INT8', 'int8'], ['INT16', 'int16'], ['INT32', 'int32'], ['INT64', 'int64'], ['FP32', 'float32'],
      ['FP64', 'float64'], ['BYTES', 'string'],
    ];
    for (const [v2, ort] of pairs) assert.equal(info(v2).ort, ort);
  });

  it('returns undefined for names it does not know', () => {
    assert.equal(datatypeFromV2('FP16'), undefined);
    assert.equal(datatypeFromV2('fp32'), undefined);
    assert.equal(datatypeFromOrt('float16'), undefined);
    assert.equal(datatypeFromOrt('FP32'), undefined);
    assert.equal(datatypeFromV2('constructor'), undefined);
  });

  it('holds 64-bit integers in bigint arrays and booleans in bytes', () => {
    assert.equal(info('INT64').array as unknown, BigInt64Array);
    assert.equal(info('UINT64').array as unknown, BigUint64Array);
    assert.equal(info('INT64').kind, 'bigint');
    assert.equal(info('BOOL').array as unknown, Uint8Array);
    assert.equal(info('BOOL').kind, 'bool');
    assert.equal(info('BYTES').array, undefined);
    assert.deepEqual([info('INT8').min, info('INT8').max], [-128, 127]);
    assert.deepEqual([info('UINT16').min, info('UINT16').max], [0, 65535]);
  });
});

describe('elementCount', () => {
  it('multiplies the dimensions', () => {
    assert.equal(elementCount([2, 3, 4]), 24);
    assert.equal(elementCount([7]), 7);
  });

  it('counts one element for a scalar and none for an empty dimension', () => {
    assert.equal(elementCount([]), 1);
    assert.equal(elementCount([3, 0, 5]), 0);
  });
});

describe('allocate', () => {
  it('makes a zero-filled typed array of the right kind for every numeric type', () => {
    for (const v2 of SUPPORTED_V2_DATATYPES) {
      const i = info(v2);
      const data = allocate(i, 5);
      assert.equal(data.length, 5);
      if (i.array) {
        assert.ok(data instanceof i.array, v2);
        for (const x of Array.from(data as ArrayLike<number | bigint>)) assert.ok(x === 0 || x === 0n, v2);
      }
    }
  });

  it('makes an array of empty strings for BYTES', () => {
    assert.deepEqual(allocate(info('BYTES'), 3), ['', '', '']);
  });
});

describe('concat', () => {
  it('joins float parts in order into one new array', () => {
    const a = new Float32Array([1, 2, 3]);
    const b = new Float32Array([4, 5]);
    const c = new Float32Array([6]);
    const out = concat(info('FP32'), [a, b, c], 6);
    assert.ok(out instanceof Float32Array);
    assert.deepEqual([...out], [1, 2, 3, 4, 5, 6]);
    out[0] = 99;
    assert.equal(a[0], 1, 'the parts are copied, not aliased');
  });

  it('joins 64-bit integer parts without losing precision', () => {
    const big = 2n ** 62n + 1n;
    const out = concat(info('INT64'), [new BigInt64Array([big, -1n]), new BigInt64Array([3n])], 3);
    assert.ok(out instanceof BigInt64Array);
    assert.deepEqual([...out], [big, -1n, 3n]);
  });

  it('joins views into larger buffers using only their own elements', () => {
    const backing = new Int32Array([9, 9, 1, 2, 9, 9]);
    const view = backing.subarray(2, 4);
    const out = concat(info('INT32'), [view, new Int32Array([3])], 3);
    assert.deepEqual([...out], [1, 2, 3]);
  });

  it('joins string parts', () => {
    assert.deepEqual(concat(info('BYTES'), [['a', 'b'], ['c']], 3), ['a', 'b', 'c']);
  });

  it('returns a single part as it is', () => {
    const only = new Float64Array([1.5]);
    assert.equal(concat(info('FP64'), [only], 1), only);
  });
});

describe('slice', () => {
  it('returns a view of a typed array that shares its memory', () => {
    const data = new Float32Array([0, 1, 2, 3, 4, 5]);
    const part = slice(data, 2, 5) as Float32Array;
    assert.deepEqual([...part], [2, 3, 4]);
    assert.equal(part.buffer, data.buffer);
    part[0] = 42;
    assert.equal(data[2], 42);
  });

  it('returns a copy of a string array', () => {
    const data = ['a', 'b', 'c', 'd'];
    const part = slice(data, 1, 3) as string[];
    assert.deepEqual(part, ['b', 'c']);
    part[0] = 'z';
    assert.equal(data[1], 'b');
  });

  it('gives back what concat joined', () => {
    const i = info('UINT8');
    const parts = [new Uint8Array([1, 2]), new Uint8Array([3, 4, 5]), new Uint8Array([6])];
    const whole = concat(i, parts, 6);
    let offset = 0;
    for (const p of parts) {
      assert.deepEqual([...(slice(whole, offset, offset + p.length) as Uint8Array)], [...p]);
      offset += p.length;
    }
  });
});
