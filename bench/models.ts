// The two bench models (built by scripts/make_bench_models.py into bench/models) and their deterministic inputs.
// One request = one row (tabular) or one image (vision); the same values are used for the JSON body, the binary
// body and the in-process limit, so every path computes the same thing.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const MODEL_REPOSITORY = path.join(ROOT, 'bench', 'models');

export interface BenchModel {
  name: 'tabular' | 'vision';
  label: string;
  input: string;
  /** Shape of one row, without the batch dimension. */
  rowShape: number[];
  output: string;
  /** Elements of the output per row. */
  outputPerRow: number;
}

export const MODELS: readonly BenchModel[] = [
  { name: 'tabular', label: 'MLP 30-256-256-2', input: 'input', rowShape: [30], output: 'probabilities', outputPerRow: 2 },
  { name: 'vision', label: 'ResNet-like CNN 3x64x64', input: 'image', rowShape: [3, 64, 64], output: 'logits', outputPerRow: 100 },
];

export const modelPath = (m: BenchModel) => path.join(MODEL_REPOSITORY, m.name, '1', 'model.onnx');
export const rowElements = (m: BenchModel) => m.rowShape.reduce((a, b) => a * b, 1);

/**
 * One row's values as decimal strings with 4 significant decimals (a fixed linear congruential generator, so
 * every run sends the same bytes): tabular values in [0, 10), image values in [0, 1), about 6-7 characters each
 * in JSON (a 3x64x64 image is about 85 KB of JSON).
 */
export function rowText(m: BenchModel): string[] {
  let s = m.name === 'tabular' ? 12345 : 67890;
  const scale = m.name === 'tabular' ? 10 : 1;
  const out: string[] = [];
  for (let i = 0; i < rowElements(m); i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out.push(((s / 2 ** 32) * scale).toFixed(4));
  }
  return out;
}

/** The same row as float32 (what a JSON parser that rounds to FP32 produces from rowText). */
export function rowFloat32(m: BenchModel): Float32Array {
  return Float32Array.from(rowText(m), Number);
}

/** V2 JSON body: one request of one row. */
export function jsonBody(m: BenchModel): Buffer {
  return Buffer.from(`{"inputs":[{"name":"${m.input}","shape":[1,${m.rowShape.join(',')}],"datatype":"FP32","data":[${rowText(m).join(',')}]}]}`);
}

/** V2 binary tensor body: JSON header (length returned), then the row as little-endian float32 bytes. */
export function binaryBody(m: BenchModel): { body: Buffer; headerLength: number } {
  const data = rowFloat32(m);
  const header = Buffer.from(
    JSON.stringify({ inputs: [{ name: m.input, shape: [1, ...m.rowShape], datatype: 'FP32', parameters: { binary_data_size: data.byteLength } }] }),
  );
  const bytes = Buffer.alloc(data.byteLength);
  for (let i = 0; i < data.length; i++) bytes.writeFloatLE(data[i]!, i * 4);
  return { body: Buffer.concat([header, bytes]), headerLength: header.length };
}
