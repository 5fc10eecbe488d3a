// A version's inputs and outputs in protocol terms, derived from what onnxruntime reports for the file:
// V2 datatypes, -1 for every variable dimension, and whether requests can be batched along the first one.
import { datatypeFromOrt, type DatatypeInfo } from '../runtime/datatypes.js';
import type { TensorMetadata } from '../runtime/protocol.js';
import type { SessionSignature } from '../runtime/worker-pool.js';

export interface TensorSpec {
  name: string;
  info: DatatypeInfo;
  /** Declared shape, -1 where variable (including the batch dimension). */
  shape: number[];
}

export interface ModelSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  inputsByName: Map<string, TensorSpec>;
  /** True when every input's first dimension is variable: requests concatenate along it. */
  batched: boolean;
}

export class SignatureError extends Error {}

function spec(kind: string, m: TensorMetadata): TensorSpec {
  if (!m.isTensor) throw new SignatureError(`${kind} '${m.name}' is not a tensor (${m.type}); only tensors are supported`);
  const info = datatypeFromOrt(m.type);
  if (!info) throw new SignatureError(`${kind} '${m.name}' has element type ${m.type}, which is not supported`);
  return { name: m.name, info, shape: m.shape };
}

export function toModelSignature(sig: SessionSignature): ModelSignature {
  const inputs = sig.inputs.map((m) => spec('input', m));
  // Non-tensor outputs (e.g. a ZipMap of class probabilities) are left out; tensor outputs must be supported.
  const outputs = sig.outputs.filter((m) => m.isTensor).map((m) => spec('output', m));
  if (outputs.length === 0) throw new SignatureError('the model has no tensor output');
  const batched = inputs.length > 0 && inputs.every((t) => t.shape.length > 0 && t.shape[0] === -1);
  return { inputs, outputs, inputsByName: new Map(inputs.map((t) => [t.name, t])), batched };
}
