// Packed tensor data from the JSON scanner (ScannedData: flat doubles, nesting dims, which were booleans) into the
// typed array of a model input, with the same checks and the same ERR_INVALID_TENSOR messages as tensor-fill.ts
// gives for the same JSON (test/http/codec/json-scan.test.ts compares the two on generated data).
import { ERR_INVALID_TENSOR } from '../../errors.js';
import { allocate, type DatatypeInfo, type TensorData } from '../../runtime/datatypes.js';
import type { ScannedData } from './json-scan.js';
import { elementRule, floatBound } from './tensor-fill.js';

/**
 * fillTensor for packed data: the same typed array and the same ERR_INVALID_TENSOR for the same JSON: flat data of
 * the wrong length first, then the first bad element among the first `expected`, then too many, then too few.
 * Never allocates `expected` elements for data that does not have them.
 */
export function fillFromScanned(name: string, info: DatatypeInfo, scanned: ScannedData, expected: number): TensorData {
  const { count } = scanned;
  if (count !== expected && scanned.dims.length === 1) throw new ERR_INVALID_TENSOR(name, `data has ${count} elements but shape needs ${expected}`);
  const n = count < expected ? count : expected;
  const out = allocate(info, n);
  const bad = fillInto(info, scanned, out, n);
  if (bad >= 0) {
    const shown = scanned.booleans !== null && scanned.booleans[bad] === 1 ? String(scanned.values[bad] === 1) : String(scanned.values[bad]);
    throw new ERR_INVALID_TENSOR(name, `element ${bad} is ${shown}; ${info.v2} needs ${elementRule(info)}`);
  }
  if (count > expected) throw new ERR_INVALID_TENSOR(name, `data has more elements than the ${expected} that shape needs`);
  if (count < expected) throw new ERR_INVALID_TENSOR(name, `data has ${count} elements but shape needs ${expected}`);
  return out;
}

/** Checks and copies the first n elements as tensor-fill does for each kind; the index of the first bad one, or -1. */
function fillInto(info: DatatypeInfo, scanned: ScannedData, out: TensorData, n: number): number {
  const { values, booleans } = scanned;
  switch (info.kind) {
    case 'float': {
      const maxAbs = floatBound(info);
      const f = out as Float32Array;
      for (let i = 0; i < n; i++) {
        const v = values[i]!;
        if (!(Math.abs(v) <= maxAbs) || (booleans !== null && booleans[i] === 1)) return i;
        f[i] = v;
      }
      return -1;
    }
    case 'int': {
      const min = info.min!;
      const max = info.max!;
      const a = out as Int32Array;
      for (let i = 0; i < n; i++) {
        const v = values[i]!;
        if (!Number.isInteger(v) || v < min || v > max || (booleans !== null && booleans[i] === 1)) return i;
        a[i] = v;
      }
      return -1;
    }
    case 'bigint': {
      const a = out as BigInt64Array;
      for (let i = 0; i < n; i++) {
        const v = values[i]!;
        if (!Number.isSafeInteger(v) || v < info.min! || (booleans !== null && booleans[i] === 1)) return i;
        a[i] = BigInt(v);
      }
      return -1;
    }
    case 'bool': {
      const a = out as Uint8Array;
      for (let i = 0; i < n; i++) {
        const v = values[i]!;
        if (v === 1) a[i] = 1;
        else if (v !== 0) return i;
      }
      return -1;
    }
    case 'string':
      return n > 0 ? 0 : -1;
  }
}
