// Triton's binary tensor extension, the bytes part: input tensors read from the raw little-endian bytes that
// follow the JSON header (in header order), and outputs written as raw bytes after the response's JSON header.
// Invariant: a tensor read here is a view of the body only when the reader was told the body's ArrayBuffer is the
// request's own (src/http/body-reader.ts reads it so) and its bytes are aligned for its type; otherwise it owns its
// ArrayBuffer whole (one copy), so it never aliases someone else's memory (such as Node's shared 8 KB pool slab).
// Nothing transfers a request's tensors: the batcher copies every run's data into a buffer of the run's own.
// BYTES use Triton's layout: per element a 4-byte little-endian length, then that many UTF-8 bytes.
import os from 'node:os';
import { ERR_BAD_REQUEST, ERR_INVALID_TENSOR } from '../../errors.js';
import type { DatatypeInfo, NumericArray, TensorData } from '../../runtime/datatypes.js';

/** The binary extension's byte order is little-endian; typed arrays use the host's, so the two must agree. */
export const HOST_IS_LITTLE_ENDIAN = os.endianness() === 'LE';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes per element in the binary layout; undefined for BYTES (variable length). BOOL is one byte. */
export function elementBytes(info: DatatypeInfo): number | undefined {
  return info.array?.BYTES_PER_ELEMENT;
}

/** Reads consecutive tensors from `bytes[start..]`; `finish()` checks that nothing was left over. */
export class BinaryReader {
  private offset: number;
  /** With `views`, aligned tensors are views of `bytes` (whose ArrayBuffer must be the request's own). */
  constructor(
    private readonly bytes: Uint8Array,
    private readonly start: number,
    private readonly views = false,
  ) {
    this.offset = start;
  }

  /** The next `size` bytes as `count` elements of `info`'s type: a view of the body when allowed and aligned, else a copy. */
  read(name: string, info: DatatypeInfo, size: unknown, count: number, maxStringBytes = Number.POSITIVE_INFINITY): TensorData {
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      throw new ERR_INVALID_TENSOR(name, 'parameters.binary_data_size must be a non-negative integer number of bytes');
    }
    const per = elementBytes(info);
    if (per !== undefined && size !== count * per) {
      throw new ERR_INVALID_TENSOR(name, `binary_data_size is ${size} bytes but ${count} ${info.v2} elements take ${count * per} bytes (${per} each)`);
    }
    const left = this.bytes.length - this.offset;
    if (size > left) throw new ERR_INVALID_TENSOR(name, `binary_data_size is ${size} bytes but only ${left} bytes of binary data are left in the body`);
    const from = this.offset;
    this.offset += size;
    if (per === undefined) return readStrings(name, this.bytes.subarray(from, from + size), count, maxStringBytes);
    const at = this.bytes.byteOffset + from;
    let out: NumericArray;
    if (this.views && at % per === 0) {
      out = new info.array!(this.bytes.buffer, at, count);
    } else {
      out = new info.array!(count);
      // One copy, byte-wise, so any alignment works (a Float32 tensor may start at an odd offset in the body).
      new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(this.bytes.subarray(from, from + size));
    }
    if (info.kind === 'bool') checkBools(name, out as Uint8Array);
    return out;
  }

  /** Throws when the binary part holds more bytes than the inputs declared. */
  finish(): void {
    if (this.offset !== this.bytes.length) {
      const total = this.bytes.length - this.start;
      throw new ERR_BAD_REQUEST(`the binary part of the body has ${total} bytes but the inputs' binary_data_size add up to ${this.offset - this.start}`);
    }
  }
}

function checkBools(name: string, a: Uint8Array): void {
  for (let i = 0; i < a.length; i++) {
    if (a[i]! > 1) throw new ERR_INVALID_TENSOR(name, `element ${i} is the byte ${a[i]}; binary BOOL needs 0 or 1`);
  }
}

function readStrings(name: string, b: Uint8Array, count: number, maxStringBytes: number): string[] {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = new Array<string>(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 4 > b.length) throw new ERR_INVALID_TENSOR(name, `binary BYTES data ends before element ${i} of ${count} (each element is a 4-byte little-endian length, then the bytes)`);
    const len = view.getUint32(at, true);
    at += 4;
    if (at + len > b.length) throw new ERR_INVALID_TENSOR(name, `element ${i} claims ${len} bytes but only ${b.length - at} are left in its binary_data_size`);
    if (len > maxStringBytes) throw new ERR_INVALID_TENSOR(name, `element ${i} has ${len} bytes, more than MAX_BYTES_ELEMENT_BYTES (${maxStringBytes})`);
    try {
      out[i] = utf8.decode(b.subarray(at, at + len));
    } catch {
      throw new ERR_INVALID_TENSOR(name, `element ${i} is not valid UTF-8 (strings are passed to onnxruntime as text)`);
    }
    at += len;
  }
  if (at !== b.length) throw new ERR_INVALID_TENSOR(name, `binary_data_size is ${b.length} bytes but its ${count} elements take ${at}`);
  return out;
}

/** An output's data as raw bytes: a view for numeric types (no copy), length-prefixed UTF-8 for strings. */
export function tensorBytes(data: TensorData): Uint8Array {
  if (!Array.isArray(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const encoded = data.map((s) => Buffer.from(s, 'utf8'));
  let total = 0;
  for (const e of encoded) total += 4 + e.length;
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const e of encoded) {
    out.writeUInt32LE(e.length, at);
    out.set(e, at + 4);
    at += 4 + e.length;
  }
  return out;
}
