// Shared generators and checks for the property-based fuzz tests (fast-check): the fixture models' signatures with
// what each computes, valid V2 bodies built from them, mutations of those bodies (structural edits and text edits),
// hostile JSON values, and the one answer check every fuzz test applies: no 5xx, and a 4xx body that is exactly
// {"error": string} without a stack trace or a source path. Seeds are fixed (FUZZ_SEED overrides, FUZZ_SCALE
// multiplies the run counts) so a CI failure replays with the seed and path that fast-check prints.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { BUNDLED_MODELS, FIXTURE_MODELS, ROOT, tempRepo } from '../helpers/repo.js';

// ---------------------------------------------------------------------------------------------- run settings

/**
 * fast-check options: a fixed seed per property (or FUZZ_SEED), `runs` times FUZZ_SCALE runs, and the failing
 * assertion's message in the report next to the seed, path and counterexample.
 */
export function fuzzOptions(seed: number, runs: number): { seed: number; numRuns: number; includeErrorInReport: boolean } {
  const scale = Number(process.env.FUZZ_SCALE ?? '1');
  return {
    seed: process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : seed,
    numRuns: Math.max(1, Math.round(runs * (Number.isFinite(scale) ? scale : 1))),
    includeErrorInReport: true,
  };
}

/** Counts generated cases and answers by status, for the test's diagnostics. */
export class Tally {
  cases = 0;
  readonly byStatus = new Map<number, number>();
  add(status: number): void {
    this.cases++;
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
  }
  toString(): string {
    return `${this.cases} cases, statuses ${[...this.byStatus.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}:${n}`).join(' ')}`;
  }
}

// ---------------------------------------------------------------------------------------------- answers

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  raw: Buffer;
}

export async function injectAnswer(app: FastifyInstance, opts: InjectOptions): Promise<Answer> {
  const res = await app.inject(opts);
  return { status: res.statusCode, headers: res.headers, raw: res.rawPayload };
}

interface AnswerRules {
  /** A positive timeout was asked for: 504 (deadline passed before the batch ran) is a fair answer. */
  allowDeadline?: boolean;
  /** gather_fail with an index out of range: its documented 500 ("inference failed ...") is a fair answer. */
  allowInferenceFailure?: boolean;
}

const STACK_LINE = /\n\s+at\s/;
const SOURCE_POSITION = /\.(?:ts|js|mjs|cjs):\d+:\d+/;

/** The error message of a 4xx/5xx answer, after checking its body is exactly {"error": string} with no internals. */
export function errorMessage(a: Answer): string {
  const text = a.raw.toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`a ${a.status} answer must be JSON, got ${JSON.stringify(text.slice(0, 200))}`);
  }
  assert.ok(typeof body === 'object' && body !== null && !Array.isArray(body), `a ${a.status} body is an object`);
  assert.deepEqual(Object.keys(body), ['error'], `a ${a.status} body has exactly the key "error": ${text.slice(0, 200)}`);
  const error = (body as { error: unknown }).error;
  assert.equal(typeof error, 'string', 'error is a string');
  const message = error as string;
  assert.ok(!STACK_LINE.test(message), `no stack trace in the error: ${message.slice(0, 300)}`);
  assert.ok(!message.includes(ROOT) && !message.includes('node_modules') && !SOURCE_POSITION.test(message), `no source path in the error: ${message.slice(0, 300)}`);
  return message;
}

/** No 5xx (beyond what `rules` allow) and a clean error body for every 4xx/5xx. */
export function checkAnswer(a: Answer, rules: AnswerRules = {}): void {
  if (a.status >= 500) {
    const message = errorMessage(a);
    const fair =
      (a.status === 504 && rules.allowDeadline === true) ||
      (a.status === 500 && rules.allowInferenceFailure === true && message.startsWith("inference failed for version '1' of model 'gather_fail'"));
    assert.ok(fair, `no 5xx: got ${a.status} ${message.slice(0, 300)}`);
  } else if (a.status >= 400) {
    errorMessage(a);
  }
  assert.ok(a.status >= 200, `a final status, got ${a.status}`);
}

export async function workerRestarts(app: FastifyInstance): Promise<number> {
  return (await app.ortserve.metrics.workerRestarts.get()).values[0]?.value ?? 0;
}

// ---------------------------------------------------------------------------------------------- memory

// The same trick jest's leak detector uses: turn the flag on, then take `gc` from a fresh context. Without it the
// heap figures below are before/after samples of a heap with garbage in it, so the bound has to be looser.
v8.setFlagsFromString('--expose-gc');
const collect = vm.runInNewContext('gc') as (() => void) | undefined;

/** Main-thread V8 heap in use after a full collection (when available) and the worker threads' heaps. */
export async function heapSnapshot(app: FastifyInstance): Promise<{ mainBytes: number; workerBytes: number[]; collected: boolean }> {
  if (typeof collect === 'function') {
    collect();
    await new Promise((r) => setImmediate(r));
    collect();
  }
  return { mainBytes: process.memoryUsage().heapUsed, workerBytes: await app.ortserve.pool.heapUsedBytes(), collected: typeof collect === 'function' };
}

export const MiB = 1024 * 1024;

/**
 * Runs `work` (more fuzzing) between two heap snapshots and asserts that neither the main thread's heap nor a
 * worker's grew beyond generous bounds (tighter when a full GC could be forced). `label` prefixes the diagnostic.
 */
export async function assertHeapFlat(t: { diagnostic(message: string): void }, app: FastifyInstance, label: () => string, work: () => Promise<void>): Promise<void> {
  const before = await heapSnapshot(app);
  await work();
  const afterwards = await heapSnapshot(app);
  const growth = afterwards.mainBytes - before.mainBytes;
  const workerGrowth = Math.max(...afterwards.workerBytes.map((b, i) => b - (before.workerBytes[i] ?? 0)));
  t.diagnostic(`${label()}; main heap ${(before.mainBytes / MiB).toFixed(1)} -> ${(afterwards.mainBytes / MiB).toFixed(1)} MiB (gc: ${afterwards.collected}); worker heap growth ${(workerGrowth / MiB).toFixed(1)} MiB`);
  assert.ok(growth < (afterwards.collected ? 16 : 64) * MiB, `main heap grew by ${(growth / MiB).toFixed(1)} MiB`);
  assert.ok(workerGrowth < 64 * MiB, `a worker heap grew by ${(workerGrowth / MiB).toFixed(1)} MiB`);
}

/** `arb` in one case out of `1 + absentWeight`, undefined otherwise (fc.option's freq counts the other way). */
export function rarely<T>(arb: fc.Arbitrary<T>, absentWeight: number): fc.Arbitrary<T | undefined> {
  return fc.oneof({ arbitrary: fc.constant(undefined), weight: absentWeight }, { arbitrary: arb, weight: 1 });
}

// ---------------------------------------------------------------------------------------------- repositories

/** A private copy of the fixture models and the bundled models in one temporary repository. */
export function combinedRepo(prefix: string): string {
  const dir = tempRepo(prefix, FIXTURE_MODELS);
  fs.cpSync(BUNDLED_MODELS, dir, { recursive: true });
  return dir;
}

// ---------------------------------------------------------------------------------------------- models

export type Datatype = 'BOOL' | 'UINT8' | 'INT8' | 'INT32' | 'INT64' | 'FP32' | 'FP64';
export type Scalar = number | boolean;

interface TensorSig {
  name: string;
  datatype: Datatype;
  /** -1 is the batch dimension. */
  dims: number[];
  /** Valid element values (the model may narrow them, e.g. gather_fail's indices). */
  values: fc.Arbitrary<Scalar>;
}

export interface ModelSig {
  name: string;
  inputs: TensorSig[];
  outputs: { name: string; datatype: Datatype; dims: number[] }[];
  /** Output name -> flat data, from flat input data and the number of rows. */
  compute(x: Record<string, Scalar[]>, rows: number): Record<string, Scalar[]>;
}

const f32 = Math.fround;
/** float32 values well inside the range, so 2x and a + b stay finite (subnormals and -0 included). */
const fp32Values = fc.oneof(fc.float({ noNaN: true, noDefaultInfinity: true, min: f32(-1e38), max: f32(1e38) }), fc.integer({ min: -1000, max: 1000 }));
/** Multiples of 1/64 below 2^14: exact in float32 and so are their sums (no double rounding to argue about). */
const gridValues = fc.integer({ min: -(2 ** 20), max: 2 ** 20 }).map((n) => n / 64);
const valuesOf: Record<Datatype, fc.Arbitrary<Scalar>> = {
  FP32: fp32Values,
  FP64: fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e307, max: 1e307 }),
  INT32: fc.integer(),
  INT64: fc.oneof(fc.integer(), fc.maxSafeInteger()),
  UINT8: fc.integer({ min: 0, max: 255 }),
  INT8: fc.integer({ min: -128, max: 127 }),
  BOOL: fc.oneof(fc.boolean(), fc.constantFrom(0, 1)),
};

const num = (v: Scalar) => Number(v);
const doubled: Record<Datatype, (v: Scalar) => Scalar> = {
  FP32: (v) => f32(2 * f32(num(v))),
  FP64: (v) => 2 * num(v),
  INT32: (v) => (2 * num(v)) | 0,
  INT64: (v) => Number(2n * BigInt(num(v))),
  UINT8: (v) => (2 * num(v)) & 255,
  INT8: (v) => ((2 * num(v)) << 24) >> 24,
  BOOL: (v) => !(v === true || v === 1),
};

function dtypeModel(dt: Datatype): ModelSig {
  return {
    name: `dtype_${dt === 'BOOL' ? 'bool' : dt.toLowerCase()}`,
    inputs: [{ name: 'x', datatype: dt, dims: [-1, 3], values: valuesOf[dt] }],
    outputs: [{ name: 'y', datatype: dt, dims: [-1, 3] }],
    compute: (x) => ({ y: x.x!.map(doubled[dt]) }),
  };
}

export const FIXTURE_SIGS: ModelSig[] = [
  ...(['FP32', 'FP64', 'INT32', 'INT64', 'UINT8', 'INT8', 'BOOL'] as const).map(dtypeModel),
  {
    name: 'fixed_shape',
    inputs: [{ name: 'x', datatype: 'FP32', dims: [2, 3], values: fp32Values }],
    outputs: [{ name: 'y', datatype: 'FP32', dims: [2, 3] }],
    compute: (x) => ({ y: x.x!.map(doubled.FP32) }),
  },
  {
    name: 'multi_io',
    inputs: [
      { name: 'a', datatype: 'FP32', dims: [-1, 4], values: gridValues },
      { name: 'b', datatype: 'FP32', dims: [-1, 4], values: gridValues },
    ],
    outputs: [
      { name: 'sum', datatype: 'FP32', dims: [-1, 4] },
      { name: 'argmax', datatype: 'INT64', dims: [-1] },
    ],
    compute: (x, rows) => {
      const a = x.a!.map(num);
      const b = x.b!.map(num);
      const argmax: number[] = [];
      for (let r = 0; r < rows; r++) {
        let best = 0;
        for (let k = 1; k < 4; k++) if (a[r * 4 + k]! > a[r * 4 + best]!) best = k;
        argmax.push(best);
      }
      return { sum: a.map((v, i) => f32(f32(v) + f32(b[i]!))), argmax };
    },
  },
  {
    name: 'unknown_batch',
    inputs: [{ name: 'x', datatype: 'FP32', dims: [-1, 2], values: fp32Values }],
    outputs: [{ name: 'y', datatype: 'FP32', dims: [-1, 2] }],
    compute: (x) => ({ y: x.x!.map((v) => f32(num(v))) }),
  },
  {
    name: 'gather_fail',
    inputs: [
      { name: 'data', datatype: 'FP32', dims: [-1, 4], values: gridValues },
      { name: 'idx', datatype: 'INT64', dims: [-1, 1], values: fc.integer({ min: -4, max: 3 }) },
    ],
    outputs: [{ name: 'y', datatype: 'FP32', dims: [-1, 1] }],
    compute: (x, rows) => {
      const y: number[] = [];
      for (let r = 0; r < rows; r++) y.push(num(x.data![r * 4 + ((num(x.idx![r]!) + 4) % 4)]!));
      return { y };
    },
  },
];

const ALL_DATATYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'BF16', 'FP32', 'FP64', 'BYTES'];

export const concreteDims = (dims: number[], rows: number): number[] => dims.map((d) => (d === -1 ? rows : d));
const product = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

/** Row-major flat data as nested arrays of `dims`. */
export function nest(flat: readonly unknown[], dims: number[]): unknown[] {
  if (dims.length <= 1) return [...flat];
  const stride = product(dims.slice(1));
  return Array.from({ length: dims[0]! }, (_, i) => nest(flat.slice(i * stride, (i + 1) * stride), dims.slice(1)));
}

/** Flat data of every input for `rows` rows. */
export function flatInputs(sig: ModelSig, rows: number): fc.Arbitrary<Record<string, Scalar[]>> {
  const parts: Record<string, fc.Arbitrary<Scalar[]>> = {};
  for (const t of sig.inputs) {
    const n = product(concreteDims(t.dims, rows));
    parts[t.name] = fc.array(t.values, { minLength: n, maxLength: n });
  }
  return fc.record(parts);
}

/** Rows for a model: 1..8 with a batch dimension, the fixed first dimension otherwise. */
export const rowsOf = (sig: ModelSig): fc.Arbitrary<number> => (sig.inputs[0]!.dims[0] === -1 ? fc.integer({ min: 1, max: 8 }) : fc.constant(sig.inputs[0]!.dims[0]!));

// ---------------------------------------------------------------------------------------------- valid V2 bodies

const RESERVED = new Set(['timeout_ms', 'binary_data_output', 'binary_data', 'binary_data_size', '__proto__', 'constructor', 'prototype']);
/** Extra parameters of every JSON type under names the server does not interpret (they must be ignored). */
const extraParameters = fc.dictionary(
  fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !RESERVED.has(k)),
  fc.jsonValue({ maxDepth: 3 }),
  { maxKeys: 4 },
);

export interface ValidInfer {
  sig: ModelSig;
  rows: number;
  flat: Record<string, Scalar[]>;
  /** Output names the answer must hold, in the model's order. */
  outputs: string[];
  id: string | undefined;
  body: Record<string, unknown>;
  url: string;
}

/** A correct V2 request for `sig`: flat or nested data, any input order, maybe an id, outputs subset, parameters. */
export function validInfer(sig: ModelSig): fc.Arbitrary<ValidInfer> {
  return rowsOf(sig).chain((rows) =>
    fc
      .record({
        flat: flatInputs(sig, rows),
        nested: fc.array(fc.boolean(), { minLength: sig.inputs.length, maxLength: sig.inputs.length }),
        order: fc.shuffledSubarray(sig.inputs.map((_, i) => i), { minLength: sig.inputs.length, maxLength: sig.inputs.length }),
        id: fc.option(fc.string({ unit: 'binary', maxLength: 60 }), { nil: undefined }),
        outputs: fc.option(fc.subarray(sig.outputs.map((o) => o.name), { minLength: 1 }), { nil: undefined }),
        parameters: fc.option(extraParameters, { nil: undefined }),
        inputParameters: fc.option(extraParameters, { nil: undefined }),
        timeout: fc.option(fc.constantFrom(60_000, '60000', '120000.5'), { nil: undefined }),
        versioned: fc.boolean(),
      })
      .map((g) => {
        const inputs = g.order.map((i) => {
          const t = sig.inputs[i]!;
          const dims = concreteDims(t.dims, rows);
          return {
            name: t.name,
            shape: dims,
            datatype: t.datatype,
            data: g.nested[i] ? nest(g.flat[t.name]!, dims) : g.flat[t.name],
            ...(g.inputParameters ? { parameters: g.inputParameters } : {}),
          };
        });
        const parameters = g.parameters || g.timeout !== undefined ? { ...g.parameters, ...(g.timeout !== undefined ? { timeout_ms: g.timeout } : {}) } : undefined;
        const body: Record<string, unknown> = {
          ...(g.id !== undefined ? { id: g.id } : {}),
          ...(parameters ? { parameters } : {}),
          inputs,
          ...(g.outputs ? { outputs: g.outputs.map((name) => ({ name })) } : {}),
        };
        const wanted = g.outputs ? new Set(g.outputs) : undefined;
        return {
          sig,
          rows,
          flat: g.flat,
          outputs: sig.outputs.map((o) => o.name).filter((n) => !wanted || wanted.has(n)),
          id: g.id,
          body,
          url: g.versioned ? `/v2/models/${sig.name}/versions/1/infer` : `/v2/models/${sig.name}/infer`,
        };
      }),
  );
}

/** The outputs a valid request must get back (JSON -0 reads as 0, so the expectation goes through JSON too). */
export function expectedOutputs(v: Pick<ValidInfer, 'sig' | 'rows' | 'flat' | 'outputs'>): { name: string; datatype: string; shape: number[]; data: unknown[] }[] {
  const computed = v.sig.compute(v.flat, v.rows);
  return JSON.parse(
    JSON.stringify(
      v.outputs.map((name) => {
        const o = v.sig.outputs.find((x) => x.name === name)!;
        return { name, datatype: o.datatype, shape: concreteDims(o.dims, v.rows), data: computed[name]! };
      }),
    ),
  ) as { name: string; datatype: string; shape: number[]; data: unknown[] }[];
}

// ---------------------------------------------------------------------------------------------- hostile values

/** Text placeholders that serialise() turns into JSON that JSON.stringify cannot write (deep nesting, 1e999). */
const DEEP = '\u0001deep';
const RAW = '\u0001raw';
const deepArray = (depth: number): string => `${DEEP}:${depth}:[`;
const deepObject = (depth: number): string => `${DEEP}:${depth}:{`;
const rawJson = (text: string): string => `${RAW}:${text}`;

/** JSON.stringify, then placeholders replaced: deep nesting up to thousands of levels, numbers that overflow. */
export function serialise(value: unknown): string {
  return JSON.stringify(value).replace(/"\\u0001(deep:(\d+):([[{])|raw:((?:[^"\\]|\\.)*))"/g, (_m, _all, depth?: string, open?: string, raw?: string) => {
    if (raw !== undefined) return JSON.parse(`"${raw}"`) as string;
    const n = Number(depth);
    return open === '[' ? `${'['.repeat(n)}${']'.repeat(n)}` : `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
  });
}

/** Values that fit no tensor element, or only some: every JSON type, edge numbers, long and odd strings, nesting. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.constantFrom<unknown>(null, true, false, 0, -0, -1, 0.5, 1.5, 256, -129, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 53, 2 ** 53 + 2, -(2 ** 53) - 2, 2 ** 64, 1e308, -1e308, 5e-324, '', '1', 'NaN', 'true', [], {}, [[]], [null], { '': null }), weight: 6 },
  { arbitrary: fc.constantFrom(rawJson('1e999'), rawJson('-1e999'), rawJson('1e-999'), rawJson('-0.0'), rawJson('123456789012345678901234567890')), weight: 2 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 3 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 2 },
  { arbitrary: fc.tuple(fc.integer({ min: 257, max: 100_000 }), fc.constantFrom('x', 'é', '😀', '\u0000', '"', '\\')).map(([n, c]) => c.repeat(n)), weight: 1 },
  { arbitrary: fc.integer({ min: 30, max: 3000 }).chain((n) => fc.constantFrom(deepArray(n), deepObject(n))), weight: 1 },
);

/** Shapes that are wrong in every way the schema or the model can see. */
export const hostileShape: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>([], [0], [0, 3], [1], [1, 3, 1], [2 ** 31, 2 ** 31], [2 ** 31, 3], [2 ** 31 + 1, 3], [2 ** 32, 3], [1e6, 3], [-1, 3], [-(2 ** 31), 3], [1.5, 3], ['1', 3], [null, 3], [1, -3], 3, '[1,3]', null, {}, new Array(17).fill(1)),
  fc.array(fc.oneof(fc.integer({ min: -2, max: 9 }), fc.constantFrom(2 ** 31, 2 ** 31 - 1, 2 ** 53)), { maxLength: 18 }),
);

// ---------------------------------------------------------------------------------------------- mutations

/** A JSON path into a body: keys and array indices. */
type Path = (string | number)[];

/** Paths of every value in `v` (arrays: at most their first 6 entries), root excluded. */
function pathsOf(v: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  if (Array.isArray(v)) {
    v.slice(0, 6).forEach((x, i) => {
      out.push([...prefix, i]);
      pathsOf(x, [...prefix, i], out);
    });
  } else if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      out.push([...prefix, k]);
      pathsOf(x, [...prefix, k], out);
    }
  }
  return out;
}

type Edit =
  | { op: 'replace' | 'delete' | 'wrap' | 'duplicate'; at: number; value: unknown }
  | { op: 'datatype'; input: number; datatype: string }
  | { op: 'shape'; input: number; shape: unknown }
  | { op: 'rows'; input: number; delta: number }
  | { op: 'depth'; input: number; levels: number }
  | { op: 'elements'; input: number; delta: number }
  | { op: 'duplicateInput'; input: number }
  | { op: 'extraInput'; name: string }
  | { op: 'output'; name: string; parameters: unknown }
  | { op: 'parameter'; level: 'request' | 'input' | 'output'; key: string; value: unknown };

/** Any value anywhere in a body replaced by a hostile one, deleted, wrapped in an array or duplicated. */
export const pathEdit = fc.record({ op: fc.constantFrom('replace', 'delete', 'wrap', 'duplicate'), at: fc.nat(), value: hostileValue }) as fc.Arbitrary<Edit>;

/** Structural edits of a valid V2 body: path edits, and the targeted ones a model check must catch. */
export const edit: fc.Arbitrary<Edit> = fc.oneof(
  { arbitrary: pathEdit, weight: 6 },
  { arbitrary: fc.record({ op: fc.constant('datatype'), input: fc.nat(), datatype: fc.oneof(fc.constantFrom(...ALL_DATATYPES, 'fp32', 'FLOAT', 'float32', ''), fc.string({ maxLength: 20 })) }) as fc.Arbitrary<Edit>, weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('shape'), input: fc.nat(), shape: hostileShape }) as fc.Arbitrary<Edit>, weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('rows'), input: fc.nat(), delta: fc.integer({ min: -3, max: 3 }) }) as fc.Arbitrary<Edit>, weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('depth'), input: fc.nat(), levels: fc.oneof(fc.integer({ min: -2, max: 3 }), fc.integer({ min: 28, max: 40 }), fc.constant(2000)) }) as fc.Arbitrary<Edit>, weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('elements'), input: fc.nat(), delta: fc.integer({ min: -5, max: 5 }) }) as fc.Arbitrary<Edit>, weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('duplicateInput'), input: fc.nat() }) as fc.Arbitrary<Edit>, weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('extraInput'), name: fc.oneof(fc.string({ unit: 'binary', maxLength: 30 }), fc.constantFrom('constructor', 'toString', 'hasOwnProperty', 'x ', 'X')) }) as fc.Arbitrary<Edit>, weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('output'), name: fc.oneof(fc.string({ unit: 'binary', maxLength: 30 }), fc.constantFrom('y', 'sum', 'argmax', 'constructor', '')), parameters: fc.option(hostileValue, { nil: undefined }) }) as fc.Arbitrary<Edit>, weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant('parameter'),
      level: fc.constantFrom('request', 'input', 'output'),
      key: fc.constantFrom('timeout_ms', 'binary_data_output', 'binary_data', 'binary_data_size', 'shared_memory_region', 'classification'),
      value: hostileValue,
    }) as fc.Arbitrary<Edit>,
    weight: 3,
  },
);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function inputAt(body: Record<string, unknown>, i: number): Record<string, unknown> | undefined {
  const inputs = body.inputs;
  if (!Array.isArray(inputs) || inputs.length === 0) return undefined;
  const t = inputs[i % inputs.length] as unknown;
  return isObject(t) ? t : undefined;
}

function wrapDepth(data: unknown, levels: number): unknown {
  let d = data;
  if (levels >= 0) for (let i = 0; i < levels; i++) d = [d];
  else for (let i = 0; i < -levels && Array.isArray(d); i++) d = d.flat();
  return d;
}

/** Applies one edit to a deep copy of a body (JSON-shaped), returning the new body. */
export function applyEdit(body: unknown, e: Edit): unknown {
  const copy = structuredClone(body) as Record<string, unknown>;
  if (e.op === 'replace' || e.op === 'delete' || e.op === 'wrap' || e.op === 'duplicate') {
    const all = pathsOf(copy);
    if (all.length === 0) return e.op === 'replace' ? e.value : copy;
    const p = all[e.at % all.length]!;
    let parent: unknown = copy;
    for (const k of p.slice(0, -1)) parent = (parent as Record<string | number, unknown>)[k];
    const key = p[p.length - 1]!;
    const box = parent as Record<string | number, unknown>;
    if (e.op === 'replace') box[key] = e.value;
    else if (e.op === 'wrap') box[key] = [box[key]];
    else if (e.op === 'duplicate' && Array.isArray(box)) box.splice(Number(key), 0, structuredClone(box[Number(key)]));
    else if (e.op === 'duplicate') box[key] = [box[key], box[key]];
    else if (Array.isArray(box)) box.splice(Number(key), 1);
    else delete box[key];
    return copy;
  }
  const t = 'input' in e ? inputAt(copy, e.input) : undefined;
  switch (e.op) {
    case 'datatype':
      if (t) t.datatype = e.datatype;
      break;
    case 'shape':
      if (t) t.shape = e.shape;
      break;
    case 'rows':
      if (t && Array.isArray(t.shape) && typeof t.shape[0] === 'number') t.shape[0] = Math.max(0, t.shape[0] + e.delta);
      break;
    case 'depth':
      if (t) t.data = e.levels === 2000 ? [deepArray(2000)] : wrapDepth(t.data, e.levels);
      break;
    case 'elements':
      if (t && Array.isArray(t.data)) {
        const flat = (t.data as unknown[]).flat(40);
        t.data = e.delta >= 0 ? [...flat, ...new Array<unknown>(e.delta).fill(flat[0] ?? 1)] : flat.slice(0, Math.max(0, flat.length + e.delta));
      }
      break;
    case 'duplicateInput':
      if (t) (copy.inputs as unknown[]).push(structuredClone(t));
      break;
    case 'extraInput':
      if (Array.isArray(copy.inputs)) (copy.inputs as unknown[]).push({ name: e.name, shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] });
      break;
    case 'output':
      copy.outputs = [...(Array.isArray(copy.outputs) ? copy.outputs : []), { name: e.name, ...(e.parameters !== undefined ? { parameters: e.parameters } : {}) }];
      break;
    case 'parameter': {
      const holder = e.level === 'request' ? copy : e.level === 'input' ? inputAt(copy, 0) : Array.isArray(copy.outputs) && isObject(copy.outputs[0]) ? copy.outputs[0] : undefined;
      if (holder) holder.parameters = { ...(isObject(holder.parameters) ? holder.parameters : {}), [e.key]: e.value };
      break;
    }
  }
  return copy;
}

type TextEdit =
  | { op: 'truncate'; fraction: number }
  | { op: 'append'; text: string }
  | { op: 'proto'; key: '__proto__' | 'constructor'; where: 'top' | 'input' }
  | { op: 'bytes'; bytes: number[] }
  | { op: 'bom' }
  | { op: 'token'; text: string };

/** Edits of the serialised text: cut short, trailing garbage, prototype keys, bytes that are not UTF-8, a BOM. */
export const textEdit: fc.Arbitrary<TextEdit> = fc.oneof(
  fc.record({ op: fc.constant('truncate' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ op: fc.constant('append' as const), text: fc.oneof(fc.constantFrom(',', '}', ']', ' {}', '\u0000', 'NaN', '//'), fc.string({ unit: 'binary', maxLength: 10 })) }),
  fc.record({ op: fc.constant('proto' as const), key: fc.constantFrom('__proto__' as const, 'constructor' as const), where: fc.constantFrom('top' as const, 'input' as const) }),
  fc.record({ op: fc.constant('bytes' as const), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 }) }),
  fc.constant({ op: 'bom' as const }),
  fc.record({ op: fc.constant('token' as const), text: fc.constantFrom('NaN', 'Infinity', '-Infinity', 'undefined', "'x'", '0x10', '01', '.5', '1.', '+1', '1e', '"\\u12"', '"\t"') }),
);

/** Applies a text edit to a serialised body; the result may be any bytes. */
export function applyTextEdit(text: string, e: TextEdit): Buffer {
  switch (e.op) {
    case 'truncate':
      return Buffer.from(text).subarray(0, Math.floor(Buffer.byteLength(text) * e.fraction));
    case 'append':
      return Buffer.from(text + e.text);
    case 'proto': {
      const inject = e.key === '__proto__' ? '"__proto__":{"polluted":true},' : '"constructor":{"prototype":{"polluted":true}},';
      const at = e.where === 'top' ? text.indexOf('{') : text.indexOf('{"name"');
      return Buffer.from(at < 0 ? text : `${text.slice(0, at + 1)}${inject}${text.slice(at + 1)}`);
    }
    case 'bytes': {
      const b = Buffer.from(text);
      const at = Math.floor(b.length / 2);
      return Buffer.concat([b.subarray(0, at), Buffer.from(e.bytes), b.subarray(at)]);
    }
    case 'bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]);
    case 'token': {
      // In place of the first number in the body, or appended as a value.
      const m = /-?\d+(\.\d+)?(e[+-]?\d+)?/i.exec(text);
      return Buffer.from(m ? text.slice(0, m.index) + e.text + text.slice(m.index + m[0].length) : text + e.text);
    }
  }
}

/** Bodies that are not a request at all: empty, whitespace, random bytes, other JSON types, deep nesting. */
export const junkBody: fc.Arbitrary<Buffer> = fc.oneof(
  fc.constantFrom('', ' ', '\n', 'null', 'true', '0', '"inputs"', '[]', '{}', '[{}]', '{"inputs":null}', '{"inputs":{}}', '{"inputs":[]}', '{"inputs":[null]}', '{"inputs":[[]]}', '{"inputs":"x"}').map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  fc.string({ unit: 'binary', maxLength: 100 }).map((s) => Buffer.from(s)),
  fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  fc.tuple(fc.integer({ min: 100, max: 5000 }), fc.constantFrom('[', '{"a":', '{"inputs":', '{"inputs":[{"data":')).map(([n, open]) => Buffer.from(open.repeat(n))),
  fc.integer({ min: 100, max: 4000 }).map((n) => Buffer.from(serialise({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }], parameters: { deep: deepObject(n) } }))),
  fc.integer({ min: 1000, max: 200_000 }).map((n) => Buffer.from('9'.repeat(n))),
);

/** Content types: mostly JSON (with odd parameters and case), sometimes anything. */
export const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { arbitrary: fc.constant('application/json'), weight: 24 },
  {
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'application/json;charset=latin1',
      'application/json; charset="utf-8"',
      'application/json ; foo=bar',
      'application/jsonx',
      'text/plain',
      'application/octet-stream',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      '*/*',
      ';',
      '',
      'application/',
      'json',
    ),
    weight: 3,
  },
  { arbitrary: fc.constant(undefined), weight: 1 },
  { arbitrary: fc.string({ maxLength: 40 }), weight: 1 },
);
