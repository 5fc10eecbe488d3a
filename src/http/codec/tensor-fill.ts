// Fills a typed array from JSON data (flat row-major or nested arrays) in one pass, checking every element
// against the datatype: finite numbers for floats, integers in range for integer types, booleans for BOOL,
// strings for BYTES. Throws ERR_INVALID_TENSOR naming the input and the first bad element.
import { ERR_INVALID_TENSOR } from '../../errors.js';
import { allocate, type DatatypeInfo, type TensorData } from '../../runtime/datatypes.js';

/** Deepest nesting of `data` arrays below the data array itself. */
export const MAX_DATA_NESTING = 32;

/** Largest magnitude a float type holds: JSON's 1e999 parses to Infinity, 1e39 overflows FP32. */
export function floatBound(info: DatatypeInfo): number {
  return info.v2 === 'FP32' ? 3.4028234663852886e38 : Number.MAX_VALUE;
}

/** What an element of `info`'s type must be, as the 400 says it ("FP32 needs <this>"). */
export function elementRule(info: DatatypeInfo): string {
  switch (info.kind) {
    case 'float': return `a finite number within +-${floatBound(info)}`;
    case 'int':
    case 'bigint': return `an integer in [${info.min}, ${info.max}]`;
    case 'bool': return 'true or false';
    case 'string': return 'a string';
  }
}

class Filler {
  index = 0;
  readonly maxAbs: number;
  constructor(
    readonly name: string,
    readonly info: DatatypeInfo,
    readonly out: TensorData,
    readonly expected: number,
    readonly maxStringBytes: number,
  ) {
    this.maxAbs = floatBound(info);
  }

  fill(data: unknown[], depth: number): void {
    if (depth > MAX_DATA_NESTING) throw new ERR_INVALID_TENSOR(this.name, `data is nested deeper than ${MAX_DATA_NESTING} levels`);
    const { info, out } = this;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (Array.isArray(v)) {
        this.fill(v, depth + 1);
        continue;
      }
      if (this.index >= this.expected) throw new ERR_INVALID_TENSOR(this.name, `data has more elements than the ${this.expected} that shape needs`);
      switch (info.kind) {
        case 'float':
          if (typeof v !== 'number' || !(Math.abs(v) <= this.maxAbs)) throw this.elementError(v, elementRule(info));
          (out as Float32Array)[this.index++] = v;
          break;
        case 'int':
          if (typeof v !== 'number' || !Number.isInteger(v) || v < info.min! || v > info.max!) throw this.elementError(v, elementRule(info));
          (out as Int32Array)[this.index++] = v;
          break;
        case 'bigint':
          if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < info.min!) throw this.elementError(v, elementRule(info));
          (out as BigInt64Array)[this.index++] = BigInt(v);
          break;
        case 'bool':
          if (v === true || v === 1) (out as Uint8Array)[this.index++] = 1;
          else if (v === false || v === 0) (out as Uint8Array)[this.index++] = 0;
          else throw this.elementError(v, elementRule(info));
          break;
        case 'string':
          if (typeof v !== 'string') throw this.elementError(v, elementRule(info));
          // UTF-8 takes at most 3 bytes per UTF-16 unit: measure only strings that might be too long.
          if (v.length * 3 > this.maxStringBytes && Buffer.byteLength(v, 'utf8') > this.maxStringBytes) {
            throw new ERR_INVALID_TENSOR(this.name, `element ${this.index} has ${Buffer.byteLength(v, 'utf8')} bytes, more than MAX_BYTES_ELEMENT_BYTES (${this.maxStringBytes})`);
          }
          (out as string[])[this.index++] = v;
          break;
      }
    }
  }

  lengthError(got: number): Error {
    return new ERR_INVALID_TENSOR(this.name, `data has ${got} elements but shape needs ${this.expected}`);
  }

  elementError(v: unknown, wanted: string): Error {
    const shown = typeof v === 'string' ? JSON.stringify(v.length > 32 ? `${v.slice(0, 32)}...` : v) : v === null ? 'null' : typeof v === 'object' ? 'an object' : String(v);
    return new ERR_INVALID_TENSOR(this.name, `element ${this.index} is ${shown}; ${this.info.v2} needs ${wanted}`);
  }
}

/** Converts JSON `data` to a typed array of exactly `expected` elements; BYTES elements up to `maxStringBytes`. */
export function fillTensor(name: string, info: DatatypeInfo, data: unknown, expected: number, maxStringBytes = Number.POSITIVE_INFINITY): TensorData {
  if (!Array.isArray(data)) throw new ERR_INVALID_TENSOR(name, 'data must be an array');
  // Flat data of the wrong length is refused before a typed array of the shape's size is allocated.
  if (data.length !== expected && (data.length === 0 || !Array.isArray(data[0]))) throw new ERR_INVALID_TENSOR(name, `data has ${data.length} elements but shape needs ${expected}`);
  const filler = new Filler(name, info, allocate(info, expected), expected, maxStringBytes);
  filler.fill(data, 0);
  if (filler.index !== expected) throw filler.lengthError(filler.index);
  return filler.out;
}
