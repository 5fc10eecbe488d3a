// Decodes a V2 inference request body against a version's signature: the envelope is checked by a zod schema
// (without walking `data`), then each input is matched to the model's input by name, datatype and shape, and its
// data is filled into a typed array once, from JSON `data` or, for an input with `parameters.binary_data_size`,
// from the binary part of the body (Triton's binary tensor extension). Every problem is a 400 naming the input.
import { z } from 'zod';
import { formatIssues } from '../../config/format-issues.js';
import { ERR_BAD_REQUEST, ERR_INVALID_TENSOR } from '../../errors.js';
import type { ModelSignature, TensorSpec } from '../../lifecycle/signature.js';
import { elementCount } from '../../runtime/datatypes.js';
import type { RequestInput } from '../../scheduler/dynamic-batcher.js';
import { ScannedData } from './json-scan.js';
import { fillFromScanned } from './scanned-fill.js';
import { checkInputCount, checkJsonDepth, checkRows, ElementBudget, type RequestLimits } from './limits.js';
import { BinaryReader } from './v2-binary.js';
import { fillTensor } from './tensor-fill.js';

const parameters = z.record(z.string(), z.unknown()).optional();

/** The envelope's bounds, read by the schema and by the direct check below alike. */
const MAX_ID = 256;
const MAX_NAME = 256;
const MAX_TENSORS = 256;
const MAX_RANK = 16;
const MAX_DIM = 2 ** 31;
const MAX_DATATYPE = 16;

export const inferRequestSchema = z.object({
  id: z.string().max(MAX_ID).optional(),
  parameters,
  inputs: z
    .array(
      z.object({
        name: z.string().min(1).max(MAX_NAME),
        shape: z.array(z.number().int().min(0).max(MAX_DIM)).max(MAX_RANK),
        datatype: z.string().max(MAX_DATATYPE),
        parameters,
        data: z.unknown().optional(),
      }),
    )
    .min(1)
    .max(MAX_TENSORS),
  outputs: z.array(z.object({ name: z.string().min(1).max(MAX_NAME), parameters })).max(MAX_TENSORS).optional(),
});

export type InferRequestBody = z.infer<typeof inferRequestSchema>;

export interface RawInput {
  name: string;
  shape: number[];
  datatype: string;
}

export interface DecodedRequest {
  /** In the model's input order. */
  inputs: RequestInput[];
  /** Rows along the batch dimension (1 for models without one). */
  rows: number;
  /** Names of the outputs to return, in the model's order. */
  outputNames: string[];
  id: string | undefined;
  timeoutMs: number | undefined;
  /** Outputs to send as raw bytes after the JSON header (binary tensor extension); absent or empty: all JSON. */
  binaryOutputs?: ReadonlySet<string>;
}

/** The bytes after the JSON header of a binary-extension body. */
export interface BinaryPart {
  bytes: Uint8Array;
  /** Where the tensor bytes start (the JSON header's length). */
  start: number;
  /**
   * `bytes` is a view of an ArrayBuffer that only this request uses (src/http/body-reader.ts): tensors whose bytes
   * are aligned for their type are read as views of it, without a copy. Otherwise every tensor is copied out.
   */
  ownBuffer?: boolean;
}

export function parseEnvelope(body: unknown): InferRequestBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ERR_BAD_REQUEST('request body must be a JSON object with an "inputs" array');
  // A well-formed envelope (nearly every request) is accepted by a direct check that costs a fraction of the
  // schema's walk on the main thread; anything else goes through the schema, which words the 400.
  if (isWellFormedEnvelope(body as Record<string, unknown>)) return body as InferRequestBody;
  const parsed = inferRequestSchema.safeParse(body);
  if (!parsed.success) throw new ERR_BAD_REQUEST(`invalid inference request: ${formatIssues(parsed.error.issues).join('; ')}`);
  return parsed.data;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
};
const isName = (v: unknown): boolean => typeof v === 'string' && v.length >= 1 && v.length <= MAX_NAME;
const isParameters = (v: unknown): boolean => v === undefined || isPlainObject(v);

/**
 * True only for bodies that inferRequestSchema accepts (a differential test holds it to that); false sends the body
 * to the schema. Never looks at `data`.
 */
export function isWellFormedEnvelope(b: Record<string, unknown>): boolean {
  if (b.id !== undefined && (typeof b.id !== 'string' || b.id.length > MAX_ID)) return false;
  if (!isParameters(b.parameters)) return false;
  const inputs = b.inputs;
  if (!Array.isArray(inputs) || inputs.length < 1 || inputs.length > MAX_TENSORS) return false;
  for (const input of inputs as unknown[]) {
    if (!isPlainObject(input) || !isName(input.name) || !isParameters(input.parameters)) return false;
    if (typeof input.datatype !== 'string' || input.datatype.length > MAX_DATATYPE) return false;
    const shape = input.shape;
    if (!Array.isArray(shape) || shape.length > MAX_RANK) return false;
    for (const d of shape as unknown[]) if (typeof d !== 'number' || !Number.isInteger(d) || d < 0 || d > MAX_DIM) return false;
  }
  const outputs = b.outputs;
  if (outputs !== undefined) {
    if (!Array.isArray(outputs) || outputs.length > MAX_TENSORS) return false;
    for (const o of outputs as unknown[]) if (!isPlainObject(o) || !isName(o.name) || !isParameters(o.parameters)) return false;
  }
  return true;
}

/** Checks one input's name, datatype and shape against the model's; returns the model's spec. */
export function matchInput(sig: ModelSignature, input: RawInput): TensorSpec {
  const spec = sig.inputsByName.get(input.name);
  if (!spec) throw new ERR_INVALID_TENSOR(input.name, `unknown input; the model's inputs are ${sig.inputs.map((i) => `'${i.name}'`).join(', ')}`);
  if (input.datatype !== spec.info.v2) throw new ERR_INVALID_TENSOR(input.name, `datatype ${input.datatype} does not match the model's ${spec.info.v2}`);
  const expected = spec.shape;
  const shapeText = () => `shape [${input.shape.join(', ')}] does not fit the model's [${expected.join(', ')}]`;
  if (input.shape.length !== expected.length) throw new ERR_INVALID_TENSOR(input.name, shapeText());
  for (let d = 0; d < expected.length; d++) if (expected[d]! >= 0 && expected[d] !== input.shape[d]) throw new ERR_INVALID_TENSOR(input.name, shapeText());
  if (sig.batched && input.shape[0] === 0) throw new ERR_INVALID_TENSOR(input.name, 'the batch dimension must be at least 1');
  return spec;
}

/** Puts decoded inputs in model order, checks presence and a common batch size; returns the rows. */
export function assembleInputs(sig: ModelSignature, byName: Map<string, RequestInput>): { inputs: RequestInput[]; rows: number } {
  const inputs: RequestInput[] = [];
  for (const spec of sig.inputs) {
    const t = byName.get(spec.name);
    if (!t) throw new ERR_INVALID_TENSOR(spec.name, 'missing; the request must give every model input');
    inputs.push(t);
  }
  let rows = 1;
  if (sig.batched) {
    rows = inputs[0]!.dims[0]!;
    for (const t of inputs) if (t.dims[0] !== rows) throw new ERR_INVALID_TENSOR(t.name, `batch dimension ${t.dims[0]} differs from input '${inputs[0]!.name}' (${rows})`);
  }
  return { inputs, rows };
}

export function selectOutputs(sig: ModelSignature, requested: { name: string }[] | undefined): string[] {
  if (!requested || requested.length === 0) return sig.outputs.map((o) => o.name);
  const known = new Set(sig.outputs.map((o) => o.name));
  const wanted = new Set<string>();
  for (const r of requested) {
    if (!known.has(r.name)) throw new ERR_BAD_REQUEST(`unknown output '${r.name}'; the model's outputs are ${[...known].map((n) => `'${n}'`).join(', ')}`);
    wanted.add(r.name);
  }
  return sig.outputs.map((o) => o.name).filter((n) => wanted.has(n));
}

/** `parameters.timeout_ms` or the X-Request-Timeout-Ms header, in milliseconds. */
export function requestTimeoutMs(params: Record<string, unknown> | undefined, header: string | string[] | undefined): number | undefined {
  const raw = params?.timeout_ms ?? (typeof header === 'string' ? header : undefined);
  if (raw === undefined) return undefined;
  const ms = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isFinite(ms) || ms <= 0) throw new ERR_BAD_REQUEST('timeout_ms must be a positive number of milliseconds');
  return ms;
}

/**
 * Which of `names` go back as raw bytes: per output `parameters.binary_data`, else the request's
 * `parameters.binary_data_output` (Triton's defaults: an output's own setting wins). Undefined when none.
 */
export function selectBinaryOutputs(env: InferRequestBody, names: string[]): Set<string> | undefined {
  const all = flag(env.parameters?.binary_data_output, 'parameters.binary_data_output') ?? false;
  const own = new Map<string, boolean>();
  for (const o of env.outputs ?? []) {
    const b = flag(o.parameters?.binary_data, `output '${o.name}': parameters.binary_data`);
    if (b !== undefined) own.set(o.name, b);
  }
  if (!all && own.size === 0) return undefined;
  const binary = new Set<string>();
  for (const n of names) if (own.get(n) ?? all) binary.add(n);
  return binary;
}

function flag(v: unknown, what: string): boolean | undefined {
  if (v === undefined || typeof v === 'boolean') return v;
  throw new ERR_BAD_REQUEST(`${what} must be true or false`);
}

/** The free-form `parameters` objects of a request, checked against MAX_JSON_DEPTH (tensor data is bounded by its shape). */
function checkParameters(env: InferRequestBody, limits: RequestLimits): void {
  checkJsonDepth('parameters', env.parameters, limits);
  for (const i of env.inputs) checkJsonDepth(`input '${i.name}': parameters`, i.parameters, limits);
  for (const o of env.outputs ?? []) checkJsonDepth(`output '${o.name}': parameters`, o.parameters, limits);
}

/**
 * Decodes a V2 request: all tensor data inline (`binary` absent), or a binary-extension body's JSON header and
 * the bytes after it. `limits` bound what the request may allocate (elements, rows, inputs, BYTES element size).
 */
export function decodeInferRequest(sig: ModelSignature, body: unknown, limits: RequestLimits, timeoutHeader?: string | string[], binary?: BinaryPart): DecodedRequest {
  const env = parseEnvelope(body);
  checkInputCount(env.inputs.length, limits);
  checkParameters(env, limits);
  const reader = binary ? new BinaryReader(binary.bytes, binary.start, binary.ownBuffer === true) : undefined;
  const budget = new ElementBudget(limits);
  const byName = new Map<string, RequestInput>();
  for (const input of env.inputs) {
    if (byName.has(input.name)) throw new ERR_INVALID_TENSOR(input.name, 'given more than once');
    const spec = matchInput(sig, input);
    const n = elementCount(input.shape);
    budget.take(input.name, input.shape, n);
    const size = input.parameters?.binary_data_size;
    let data;
    if (size === undefined) {
      data =
        input.data instanceof ScannedData
          ? fillFromScanned(input.name, spec.info, input.data, n)
          : fillTensor(input.name, spec.info, input.data, n, limits.maxBytesElementBytes);
    } else {
      if (!reader) throw new ERR_INVALID_TENSOR(input.name, 'parameters.binary_data_size needs a binary body: send the JSON header length in the Inference-Header-Content-Length header');
      if (input.data !== undefined) throw new ERR_INVALID_TENSOR(input.name, 'give either "data" or parameters.binary_data_size, not both');
      data = reader.read(input.name, spec.info, size, n, limits.maxBytesElementBytes);
    }
    byName.set(input.name, { name: input.name, type: spec.info.ort, info: spec.info, dims: input.shape, data });
  }
  reader?.finish();
  const { inputs, rows } = assembleInputs(sig, byName);
  checkRows(rows, limits);
  const outputNames = selectOutputs(sig, env.outputs);
  return { inputs, rows, outputNames, id: env.id, timeoutMs: requestTimeoutMs(env.parameters, timeoutHeader), binaryOutputs: selectBinaryOutputs(env, outputNames) };
}
