// Messages between the worker pool (main thread) and a session worker. Tensor data crosses as typed arrays
// whose buffers are transferred, not copied; model bytes are copied once per worker.
import type { SessionOptions } from '../config/model-config.js';
import type { OrtType, TensorData } from './datatypes.js';

export interface WireTensor {
  name: string;
  type: OrtType;
  dims: number[];
  data: TensorData;
}

/** A tensor's declared signature as onnxruntime reports it; -1 marks a variable dimension. */
export interface TensorMetadata {
  name: string;
  /** onnxruntime element type, or a description of a non-tensor value (e.g. "map", "sequence"). */
  type: string;
  isTensor: boolean;
  shape: number[];
  /** Symbolic names of the dimensions ("batch"), undefined where the dimension is fixed or unnamed. */
  dimNames: (string | undefined)[];
}

export type ToWorker =
  | { type: 'load'; key: string; bytes: Uint8Array; options: SessionOptions; warmup: boolean }
  | { type: 'unload'; key: string }
  | { type: 'run'; id: number; key: string; feeds: WireTensor[]; outputNames: string[] }
  | { type: 'heap'; id: number }
  | { type: 'exit' };

export type FromWorker =
  | { type: 'loaded'; key: string; inputs: TensorMetadata[]; outputs: TensorMetadata[] }
  | { type: 'load-failed'; key: string; message: string }
  | { type: 'result'; id: number; outputs: WireTensor[]; computeNs: number }
  | { type: 'run-failed'; id: number; message: string }
  | { type: 'heap'; id: number; usedBytes: number };
