// Serialises V2 inference responses straight to JSON text: one pass over each output's typed array, no
// intermediate JS arrays (measurably cheaper than Array.from + JSON.stringify on the main thread, which is the
// bottleneck for small models). Non-finite floats become null, as JSON.stringify would write them.
import { datatypeFromOrt, type TensorData } from '../../runtime/datatypes.js';
import type { BatchTensor } from '../../scheduler/dynamic-batcher.js';

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

export function tensorToJson(t: BatchTensor): string {
  const info = datatypeFromOrt(t.type);
  const datatype = info?.v2 ?? t.type.toUpperCase();
  return `{"name":${JSON.stringify(t.name)},"datatype":"${datatype}","shape":[${t.dims.join(',')}],"data":${dataToJson(t.data, info?.kind ?? 'float')}}`;
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
