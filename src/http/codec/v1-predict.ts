// TF-Serving / KServe v1 bodies: `{"instances": [...]}` (row format; for a multi-input model each instance is an
// object keyed by input name) or `{"inputs": ...}` (columnar: the whole tensor, or an object keyed by input name).
// Rows are converted to the same RequestInputs as a V2 request; answers are `{"predictions": [...]}`, one entry
// per row (a value for single-output models, an object keyed by output name otherwise).
import { ERR_BAD_REQUEST, ERR_INVALID_TENSOR } from '../../errors.js';
import type { ModelSignature, TensorSpec } from '../../lifecycle/signature.js';
import { elementCount, type TensorData } from '../../runtime/datatypes.js';
import type { BatchTensor, RequestInput } from '../../scheduler/dynamic-batcher.js';
import { checkRows, ElementBudget, type RequestLimits } from './limits.js';
import { assembleInputs, type DecodedRequest, matchInput } from './v2-request.js';
import { fillTensor } from './tensor-fill.js';

/** Shape of nested JSON arrays, following the first element at each level. */
function nestedShape(value: unknown): number[] {
  const shape: number[] = [];
  let v = value;
  while (Array.isArray(v)) {
    shape.push(v.length);
    if (v.length === 0 || shape.length > 32) break;
    v = v[0];
  }
  return shape;
}

function buildInput(spec: TensorSpec, value: unknown, shape: number[], limits: RequestLimits, budget: ElementBudget): RequestInput {
  const raw = { name: spec.name, shape, datatype: spec.info.v2 };
  matchInput({ inputs: [spec], outputs: [], inputsByName: new Map([[spec.name, spec]]), batched: spec.shape[0] === -1 }, raw);
  const n = elementCount(shape);
  budget.take(spec.name, shape, n);
  return { name: spec.name, type: spec.info.ort, info: spec.info, dims: shape, data: fillTensor(spec.name, spec.info, value, n, limits.maxBytesElementBytes) };
}

export function decodeV1Request(sig: ModelSignature, body: unknown, limits: RequestLimits): DecodedRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ERR_BAD_REQUEST('request body must be a JSON object with "instances" or "inputs"');
  const b = body as { instances?: unknown; inputs?: unknown };
  const single = sig.inputs.length === 1 ? sig.inputs[0]! : undefined;
  const byName = new Map<string, RequestInput>();
  const budget = new ElementBudget(limits);
  if (b.instances !== undefined && b.inputs !== undefined) throw new ERR_BAD_REQUEST('give either "instances" or "inputs", not both');
  if (b.instances !== undefined) {
    if (!Array.isArray(b.instances) || b.instances.length === 0) throw new ERR_BAD_REQUEST('"instances" must be a non-empty array of rows');
    if (!sig.batched) throw new ERR_BAD_REQUEST('this model has no batch dimension; send the whole tensor as "inputs"');
    const rows = b.instances as unknown[];
    checkRows(rows.length, limits);
    if (single && !isPlainObject(rows[0])) {
      byName.set(single.name, buildInput(single, rows, [rows.length, ...nestedShape(rows[0])], limits, budget));
    } else {
      for (const spec of sig.inputs) {
        const column = rows.map((r, i) => {
          if (!isPlainObject(r)) throw new ERR_BAD_REQUEST(`instance ${i} must be an object keyed by input name (the model has inputs ${sig.inputs.map((s) => `'${s.name}'`).join(', ')})`);
          if (!(spec.name in r)) throw new ERR_INVALID_TENSOR(spec.name, `missing from instance ${i}`);
          return r[spec.name];
        });
        byName.set(spec.name, buildInput(spec, column, [rows.length, ...nestedShape(column[0])], limits, budget));
      }
      for (const r of rows) for (const k of Object.keys(r as object)) if (!sig.inputsByName.has(k)) throw new ERR_INVALID_TENSOR(k, 'unknown input');
    }
  } else if (b.inputs !== undefined) {
    if (isPlainObject(b.inputs)) {
      for (const [name, value] of Object.entries(b.inputs)) {
        const spec = sig.inputsByName.get(name);
        if (!spec) throw new ERR_INVALID_TENSOR(name, `unknown input; the model's inputs are ${sig.inputs.map((s) => `'${s.name}'`).join(', ')}`);
        byName.set(name, buildInput(spec, value, nestedShape(value), limits, budget));
      }
    } else if (single) {
      byName.set(single.name, buildInput(single, b.inputs, nestedShape(b.inputs), limits, budget));
    } else {
      throw new ERR_BAD_REQUEST('"inputs" must be an object keyed by input name for a model with several inputs');
    }
  } else {
    throw new ERR_BAD_REQUEST('request body needs "instances" (rows) or "inputs" (columns)');
  }
  const { inputs, rows } = assembleInputs(sig, byName);
  checkRows(rows, limits);
  return { inputs, rows, outputNames: sig.outputs.map((o) => o.name), id: undefined, timeoutMs: undefined };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function element(data: TensorData, i: number, kind: string): unknown {
  const v = data[i];
  if (typeof v === 'bigint') return Number(v);
  if (kind === 'bool') return v === 1;
  if (typeof v === 'number' && !Number.isFinite(v)) return null;
  return v;
}

/** Nested JS arrays for dims (row-major). */
function nest(data: TensorData, dims: number[], kind: string, offset: number, depth: number): unknown {
  if (depth === dims.length) return element(data, offset, kind);
  const size = dims[depth]!;
  let stride = 1;
  for (let d = depth + 1; d < dims.length; d++) stride *= dims[d]!;
  const out = new Array(size);
  for (let i = 0; i < size; i++) out[i] = nest(data, dims, kind, offset + i * stride, depth + 1);
  return out;
}

export function predictionsOf(outputs: BatchTensor[], kinds: Map<string, string>, batched: boolean): unknown[] {
  const nested = outputs.map((o) => ({ name: o.name, value: nest(o.data, o.dims, kinds.get(o.name) ?? 'float', 0, 0) }));
  if (!batched) return outputs.length === 1 ? [nested[0]!.value] : [Object.fromEntries(nested.map((n) => [n.name, n.value]))];
  if (outputs.length === 1) return nested[0]!.value as unknown[];
  const rows = (nested[0]!.value as unknown[]).length;
  const out: unknown[] = [];
  for (let r = 0; r < rows; r++) out.push(Object.fromEntries(nested.map((n) => [n.name, (n.value as unknown[])[r]])));
  return out;
}
