// Tensor datatypes: the V2 protocol's names, onnxruntime's names, and the typed arrays that hold them.
// Pure tables and helpers, no onnxruntime import, so the HTTP layer can use them too.

export type V2Datatype =
  | 'BOOL' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64' | 'INT8' | 'INT16' | 'INT32' | 'INT64' | 'FP32' | 'FP64' | 'BYTES';

export type OrtType =
  | 'bool' | 'uint8' | 'uint16' | 'uint32' | 'uint64' | 'int8' | 'int16' | 'int32' | 'int64' | 'float32' | 'float64' | 'string';

export type NumericArray =
  | Uint8Array | Uint16Array | Uint32Array | BigUint64Array | Int8Array | Int16Array | Int32Array | BigInt64Array
  | Float32Array | Float64Array;
export type TensorData = NumericArray | string[];

type NumericCtor = {
  new (length: number): NumericArray;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): NumericArray;
  readonly BYTES_PER_ELEMENT: number;
};

export interface DatatypeInfo {
  v2: V2Datatype;
  ort: OrtType;
  /** Typed array constructor; undefined for BYTES (strings). */
  array?: NumericCtor;
  /** Element kind drives JSON validation: integers have a range, bigint types are 64-bit. */
  kind: 'bool' | 'int' | 'bigint' | 'float' | 'string';
  min?: number;
  max?: number;
}

const table: DatatypeInfo[] = [
  { v2: 'BOOL', ort: 'bool', array: Uint8Array, kind: 'bool' },
  { v2: 'UINT8', ort: 'uint8', array: Uint8Array, kind: 'int', min: 0, max: 255 },
  { v2: 'UINT16', ort: 'uint16', array: Uint16Array, kind: 'int', min: 0, max: 65535 },
  { v2: 'UINT32', ort: 'uint32', array: Uint32Array, kind: 'int', min: 0, max: 4294967295 },
  { v2: 'UINT64', ort: 'uint64', array: BigUint64Array as unknown as NumericCtor, kind: 'bigint', min: 0, max: Number.MAX_SAFE_INTEGER },
  { v2: 'INT8', ort: 'int8', array: Int8Array, kind: 'int', min: -128, max: 127 },
  { v2: 'INT16', ort: 'int16', array: Int16Array, kind: 'int', min: -32768, max: 32767 },
  { v2: 'INT32', ort: 'int32', array: Int32Array, kind: 'int', min: -2147483648, max: 2147483647 },
  { v2: 'INT64', ort: 'int64', array: BigInt64Array as unknown as NumericCtor, kind: 'bigint', min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER },
  { v2: 'FP32', ort: 'float32', array: Float32Array, kind: 'float' },
  { v2: 'FP64', ort: 'float64', array: Float64Array, kind: 'float' },
  { v2: 'BYTES', ort: 'string', kind: 'string' },
];

const byV2 = new Map<string, DatatypeInfo>(table.map((t) => [t.v2, t]));
const byOrt = new Map<string, DatatypeInfo>(table.map((t) => [t.ort, t]));

export function datatypeFromV2(name: string): DatatypeInfo | undefined {
  return byV2.get(name);
}

export function datatypeFromOrt(name: string): DatatypeInfo | undefined {
  return byOrt.get(name);
}

export const SUPPORTED_V2_DATATYPES: readonly V2Datatype[] = table.map((t) => t.v2);

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A new tensor buffer of `length` elements of the given type, zero-filled ("" for strings). */
export function allocate(info: DatatypeInfo, length: number): TensorData {
  return info.array ? new info.array(length) : new Array<string>(length).fill('');
}

/** Concatenates same-typed tensors' data along the first axis (one copy). */
export function concat(info: DatatypeInfo, parts: readonly TensorData[], totalLength: number): TensorData {
  if (parts.length === 1) return parts[0]!;
  if (!info.array) return (parts as string[][]).flat();
  const out = new info.array(totalLength) as NumericArray;
  let offset = 0;
  for (const p of parts as NumericArray[]) {
    (out as Float32Array).set(p as Float32Array, offset);
    offset += p.length;
  }
  return out;
}

/** Elements [start, end) of a tensor's data as a view (typed arrays) or a copy (strings). */
export function slice(data: TensorData, start: number, end: number): TensorData {
  if (Array.isArray(data)) return data.slice(start, end);
  return data.subarray(start, end);
}
