// Serialises V2 inference responses straight to JSON text: one pass over each output's typed array, no
// intermediate JS arrays (measurably cheaper than Array.from + JSON.stringify on the main thread, which is the
// bottleneck for small models). Non-finite floats become null, as JSON.stringify would write them.
// With the binary tensor extension, chosen outputs carry `parameters.binary_data_size` instead of `data` and
// their raw bytes follow the JSON header in the body.
import { datatypeFromOrt, type TensorData } from '../../runtime/datatypes.js';
import type { BatchTensor } from '../../scheduler/dynamic-batcher.js';
import { tensorBytes } from './v2-binary.js';

export function dataToJson(data: TensorData, kind: string): string {
  const n = data.length;
  if (n === 0) return '[]';
  let s = '[';
  switch (kind) {
    case 'float': {
      const a = data as Float32Array;
      for (let i = 0; i < n; i++) {
        const v = a[i]!;
        s += (i === 0 ? '' : ',') + (Number.isFinite(v) ? v : 'null');
      }
      break;
    }
    case 'bool': {
      const a = data as Uint8Array;
      for (let i = 0; i < n; i++) s += (i === 0 ? '' : ',') + (a[i] ? 'true' : 'false');
      break;
    }
    case 'string': {
      const a = data as string[];
      for (let i = 0; i < n; i++) s += (i === 0 ? '' : ',') + JSON.stringify(a[i]);
      break;
    }
    default:
      // Integers, including BigInt64Array: String() of each element is exact JSON number text.
      s += Array.prototype.join.call(data, ',');
  }
  return `${s}]`;
}

function tensorHead(t: BatchTensor): string {
  const datatype = datatypeFromOrt(t.type)?.v2 ?? t.type.toUpperCase();
  return `{"name":${JSON.stringify(t.name)},"datatype":"${datatype}","shape":[${t.dims.join(',')}]`;
}

export function tensorToJson(t: BatchTensor): string {
  return `${tensorHead(t)},"data":${dataToJson(t.data, datatypeFromOrt(t.type)?.kind ?? 'float')}}`;
}

/** Outputs as a JSON array, keeping only `names` (in that order). */
export function outputsToJson(outputs: BatchTensor[], names: string[]): string {
  const parts: string[] = [];
  for (const name of names) {
    const t = outputs.find((o) => o.name === name);
    if (t) parts.push(tensorToJson(t));
  }
  return `[${parts.join(',')}]`;
}

export function inferResponseJson(model: string, version: string, id: string, outputs: BatchTensor[], names: string[]): string {
  return `{"model_name":${JSON.stringify(model)},"model_version":${JSON.stringify(version)},"id":${JSON.stringify(id)},"outputs":${outputsToJson(outputs, names)}}`;
}

export interface BinaryResponse {
  /** JSON header followed by the binary outputs' bytes, in the header's output order. */
  body: Buffer;
  /** Length of the JSON header in bytes: the Inference-Header-Content-Length response header. */
  headerBytes: number;
}

/** A binary-extension response: outputs in `binary` are raw bytes after the header, the others inline JSON. */
export function inferResponseBinary(model: string, version: string, id: string, outputs: BatchTensor[], names: string[], binary: ReadonlySet<string>): BinaryResponse {
  const parts: string[] = [];
  const chunks: Uint8Array[] = [];
  for (const name of names) {
    const t = outputs.find((o) => o.name === name);
    if (!t) continue;
    if (!binary.has(name)) {
      parts.push(tensorToJson(t));
      continue;
    }
    const bytes = tensorBytes(t.data);
    chunks.push(bytes);
    parts.push(`${tensorHead(t)},"parameters":{"binary_data_size":${bytes.byteLength}}}`);
  }
  const header = Buffer.from(`{"model_name":${JSON.stringify(model)},"model_version":${JSON.stringify(version)},"id":${JSON.stringify(id)},"outputs":[${parts.join(',')}]}`, 'utf8');
  return { body: Buffer.concat([header, ...chunks]), headerBytes: header.byteLength };
}
