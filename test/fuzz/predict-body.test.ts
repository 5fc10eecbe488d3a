// Property-based fuzzing of POST /v1/models/{m}:predict bodies (TF-Serving / KServe v1: "instances" rows or
// "inputs" columns), with app.inject on one server over a temporary copy of the fixture and bundled models: valid
// bodies generated from the signatures get the predictions the model computes (bundled models: the right shape,
// probabilities summing to 1), mutated and junk bodies never get a 5xx, and the heap stays flat.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { removeRepo } from '../helpers/repo.js';
import { auth, startServer, type Started } from '../helpers/server.js';
import {
  type Answer,
  applyEdit,
  applyTextEdit,
  checkAnswer,
  combinedRepo,
  concreteDims,
  contentType,
  FIXTURE_SIGS,
  flatInputs,
  fuzzOptions,
  hostileValue,
  injectAnswer,
  junkBody,
  type ModelSig,
  nest,
  pathEdit,
  rarely,
  rowsOf,
  type Scalar,
  serialise,
  Tally,
  textEdit,
  workerRestarts, assertHeapFlat } from './arbitraries.js';

const AUTH = auth();

interface PredictCase {
  sig: ModelSig;
  url: string;
  body: Record<string, unknown>;
  /** The predictions the answer must hold, through JSON (so -0 reads as 0). */
  predictions: unknown;
}

const batched = (sig: ModelSig) => sig.inputs[0]!.dims[0] === -1;

/** Per row, the row's slice of every output (a scalar for rank-1 outputs); one entry for unbatched models. */
function predictionsOf(sig: ModelSig, flat: Record<string, Scalar[]>, rows: number): unknown {
  const out = sig.compute(flat, rows);
  const nested = sig.outputs.map((o) => ({ name: o.name, value: nest(out[o.name]!, concreteDims(o.dims, rows)) }));
  let predictions: unknown[];
  if (!batched(sig)) predictions = sig.outputs.length === 1 ? [nested[0]!.value] : [Object.fromEntries(nested.map((n) => [n.name, n.value]))];
  else if (sig.outputs.length === 1) predictions = nested[0]!.value;
  else predictions = Array.from({ length: rows }, (_, r) => Object.fromEntries(nested.map((n) => [n.name, n.value[r]])));
  return JSON.parse(JSON.stringify(predictions));
}

/** A correct v1 body: rows ("instances", as arrays or objects keyed by input) or columns ("inputs"). */
function validPredict(sig: ModelSig): fc.Arbitrary<PredictCase> {
  return rowsOf(sig).chain((rows) =>
    fc.record({ flat: flatInputs(sig, rows), form: fc.constantFrom('instances', 'inputs'), keyed: fc.boolean(), versioned: fc.boolean() }).map((g) => {
      const tensors = Object.fromEntries(sig.inputs.map((t) => [t.name, nest(g.flat[t.name]!, concreteDims(t.dims, rows))]));
      const keyed = g.keyed || sig.inputs.length > 1;
      let body: Record<string, unknown>;
      if (g.form === 'instances' && batched(sig)) {
        const instances = Array.from({ length: rows }, (_, r) =>
          keyed ? Object.fromEntries(sig.inputs.map((t) => [t.name, tensors[t.name]![r]])) : tensors[sig.inputs[0]!.name]![r],
        );
        body = { instances };
      } else {
        body = { inputs: keyed ? tensors : tensors[sig.inputs[0]!.name] };
      }
      return {
        sig,
        url: g.versioned ? `/v1/models/${sig.name}/versions/1:predict` : `/v1/models/${sig.name}:predict`,
        body,
        predictions: predictionsOf(sig, g.flat, rows),
      };
    }),
  );
}

/** The bundled models: shapes and the invariants of their answers (their weights are not ours to recompute). */
const BUNDLED = [
  { name: 'breast_cancer', input: 'input', row: [30], width: 2, probabilities: true },
  { name: 'digits', input: 'image', row: [1, 8, 8], width: 10, probabilities: false },
];
const bundledCase = fc.constantFrom(...BUNDLED).chain((m) =>
  fc
    .record({
      rows: fc.array(fc.array(fc.float({ noNaN: true, noDefaultInfinity: true, min: -1000, max: 1000 }), { minLength: m.row.reduce((a, b) => a * b), maxLength: m.row.reduce((a, b) => a * b) }), { minLength: 1, maxLength: 6 }),
      form: fc.constantFrom('instances', 'inputs', 'keyed'),
      version: fc.constantFrom(undefined, '1', ...(m.name === 'breast_cancer' ? ['2'] : [])),
    })
    .map((g) => {
      const rows = g.rows.map((r) => nest(r, m.row));
      const body = g.form === 'instances' ? { instances: rows } : g.form === 'inputs' ? { inputs: rows } : { inputs: { [m.input]: rows } };
      return { m, rows: rows.length, body, url: g.version ? `/v1/models/${m.name}/versions/${g.version}:predict` : `/v1/models/${m.name}:predict` };
    }),
);

/** v1-specific damage: both forms at once, empty or non-array rows, rows keyed by unknown or missing inputs. */
type V1Edit = { op: 'both' } | { op: 'emptyRows' } | { op: 'rowsNotArray'; value: unknown } | { op: 'renameKey'; name: string } | { op: 'dropForm' };
const v1Edit: fc.Arbitrary<V1Edit> = fc.oneof(
  fc.constant({ op: 'both' as const }),
  fc.constant({ op: 'emptyRows' as const }),
  fc.constant({ op: 'dropForm' as const }),
  fc.record({ op: fc.constant('rowsNotArray' as const), value: hostileValue }),
  fc.record({ op: fc.constant('renameKey' as const), name: fc.oneof(fc.constantFrom('constructor', 'toString', 'hasOwnProperty', 'valueOf', 'X', ''), fc.string({ unit: 'binary', maxLength: 20 })) }),
);

function applyV1Edit(body: Record<string, unknown>, e: V1Edit): Record<string, unknown> {
  const copy = structuredClone(body);
  const form = 'instances' in copy ? 'instances' : 'inputs';
  switch (e.op) {
    case 'both':
      return { instances: copy[form], inputs: copy[form] };
    case 'emptyRows':
      return { [form]: [] };
    case 'dropForm':
      return {};
    case 'rowsNotArray':
      return { [form]: e.value };
    case 'renameKey': {
      const target = form === 'instances' && Array.isArray(copy.instances) ? (copy.instances as unknown[])[0] : copy.inputs;
      if (typeof target === 'object' && target !== null && !Array.isArray(target)) {
        const box = target as Record<string, unknown>;
        const [first] = Object.keys(box);
        if (first !== undefined) {
          box[e.name] = box[first];
          if (e.name !== first) delete box[first];
        }
      } else {
        copy[form] = [{ [e.name]: target }];
      }
      return copy;
    }
  }
}

const anyModel = fc.constantFrom(...FIXTURE_SIGS);
const mutated = anyModel.chain((sig) =>
  fc.record({
    valid: validPredict(sig),
    edits: fc.array(fc.oneof({ arbitrary: pathEdit.map((e) => ({ path: e })), weight: 3 }, { arbitrary: v1Edit.map((e) => ({ v1: e })), weight: 1 }), { minLength: 1, maxLength: 3 }),
    text: rarely(textEdit, 4),
    type: contentType,
    url: rarely(
      fc.oneof(
        fc.constantFrom(':predict', ':explain', ':', '::predict', ':predict:predict', '%3Apredict', '/versions/0:predict', '/versions/abc:predict', '/versions/1', '/versions/:predict').map((suffix) => `/v1/models/${sig.name}${suffix}`),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }).map((m) => `/v1/models/${encodeURIComponent(m)}:predict`),
      ),
      12,
    ),
  }),
);

async function send(s: Started, url: string, payload: Buffer | string, type: string | undefined = 'application/json'): Promise<Answer> {
  return injectAnswer(s.app, { method: 'POST', url, payload, headers: { ...AUTH, ...(type === undefined ? {} : { 'content-type': type }) } });
}

describe('fuzzing v1 predict bodies', () => {
  let s: Started;
  let dir: string;
  before(async () => {
    dir = combinedRepo('ortserve-fuzz-predict-');
    s = await startServer({ MODEL_REPOSITORY: dir, REPOSITORY_POLL_INTERVAL_MS: '0' }, false);
  });
  after(async () => {
    await s.close();
    removeRepo(dir);
  });

  it('answers every valid instances or inputs body generated from a fixture model signature with the predictions the model computes', async (t) => {
    const tally = new Tally();
    await fc.assert(
      fc.asyncProperty(anyModel.chain(validPredict), async (c) => {
        const a = await send(s, c.url, serialise(c.body));
        tally.add(a.status);
        assert.equal(a.status, 200, `valid body answered: ${a.raw.toString('utf8').slice(0, 300)}`);
        assert.equal(a.headers['x-model-version'], '1');
        assert.deepEqual((JSON.parse(a.raw.toString('utf8')) as { predictions: unknown }).predictions, c.predictions);
      }),
      fuzzOptions(0x9e1d, 600),
    );
    t.diagnostic(tally.toString());
  });

  it('answers valid rows for the bundled models with one prediction of the right width per row', async (t) => {
    const tally = new Tally();
    await fc.assert(
      fc.asyncProperty(bundledCase, async (c) => {
        const a = await send(s, c.url, serialise(c.body));
        tally.add(a.status);
        assert.equal(a.status, 200, `valid body answered: ${a.raw.toString('utf8').slice(0, 300)}`);
        const { predictions } = JSON.parse(a.raw.toString('utf8')) as { predictions: number[][] };
        assert.equal(predictions.length, c.rows, 'one prediction per row');
        for (const p of predictions) {
          assert.equal(p.length, c.m.width);
          assert.ok(p.every((v) => typeof v === 'number' && Number.isFinite(v)), `finite outputs: ${JSON.stringify(p)}`);
          if (c.m.probabilities) assert.ok(Math.abs(p[0]! + p[1]! - 1) < 1e-4 && p.every((v) => v >= 0 && v <= 1), `probabilities: ${JSON.stringify(p)}`);
        }
      }),
      fuzzOptions(0xb0d1e5, 300),
    );
    t.diagnostic(tally.toString());
  });

  const mutatedProperty = (tally: Tally) =>
    fc.asyncProperty(mutated, async (c) => {
      const body = c.edits.reduce<unknown>((b, e) => ('path' in e ? applyEdit(b, e.path) : typeof b === 'object' && b !== null && !Array.isArray(b) ? applyV1Edit(b as Record<string, unknown>, e.v1) : b), c.valid.body);
      const text = serialise(body);
      const a = await send(s, c.url ?? c.valid.url, c.text ? applyTextEdit(text, c.text) : Buffer.from(text), c.type);
      tally.add(a.status);
      checkAnswer(a, { allowInferenceFailure: c.valid.sig.name === 'gather_fail' });
      if (a.status === 200) assert.ok(Array.isArray((JSON.parse(a.raw.toString('utf8')) as { predictions: unknown }).predictions), 'a 200 holds predictions');
    });

  it('never answers a mutated body with a 5xx, and refuses with a plain {"error": string} body', async (t) => {
    const tally = new Tally();
    await fc.assert(mutatedProperty(tally), fuzzOptions(0x51ced, 1500));
    t.diagnostic(tally.toString());
    assert.ok((tally.byStatus.get(400) ?? 0) > tally.cases / 3, 'most mutations are refused as bad requests (the generator reaches the checks)');
  });

  it('never answers a body that is not a request with a 5xx, on the fixture and the bundled models', async (t) => {
    const tally = new Tally();
    const model = fc.constantFrom(...FIXTURE_SIGS.map((m) => m.name), 'breast_cancer', 'digits');
    await fc.assert(
      fc.asyncProperty(junkBody, contentType, model, async (payload, type, name) => {
        const a = await send(s, `/v1/models/${name}:predict`, payload, type);
        tally.add(a.status);
        checkAnswer(a);
      }),
      fuzzOptions(0x1ee7, 600),
    );
    t.diagnostic(tally.toString());
  });

  it('keeps the heap flat over another 1,000 mutated bodies and still predicts right afterwards', async (t) => {
    const tally = new Tally();
    await assertHeapFlat(t, s.app, () => String(tally), () => fc.assert(mutatedProperty(tally), fuzzOptions(0xf1a7, 1000)));

    const a = await send(s, '/v1/models/multi_io:predict', JSON.stringify({ instances: [{ a: [1, 5, 2, 0], b: [0.5, 0.5, 0.5, 0.5] }] }));
    assert.equal(a.status, 200);
    assert.deepEqual(JSON.parse(a.raw.toString('utf8')), { predictions: [{ sum: [1.5, 5.5, 2.5, 0.5], argmax: 1 }] });
    assert.equal(await workerRestarts(s.app), 0, 'no worker thread died');
  });
});
