// Property-based fuzzing of POST /v2/models/{m}/infer bodies (fast-check, app.inject on one server over the fixture
// repository): valid requests generated from every fixture model's signature get the outputs the model computes;
// mutations of valid requests (structure and text) and bodies that are not requests never get a 5xx and are refused
// with a plain {"error"} body; the server computes right afterwards and its heap stays flat.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { auth, startServer, type Started } from '../helpers/server.js';
import {
  type Answer,
  applyEdit,
  applyTextEdit,
  checkAnswer,
  contentType,
  edit,
  errorMessage,
  expectedOutputs,
  FIXTURE_SIGS,
  fuzzOptions,
  injectAnswer,
  junkBody,
  rarely,
  serialise,
  Tally,
  textEdit,
  validInfer,
  type ValidInfer,
  workerRestarts, assertHeapFlat } from './arbitraries.js';

const AUTH = auth();

interface InferAnswer {
  model_name: string;
  model_version: string;
  id: string;
  outputs: { name: string; datatype: string; shape: number[]; data: unknown[] }[];
}

/** A 200 is a complete answer: JSON with outputs, or a binary-extension header that fits the body. */
function checkSuccess(a: Answer): void {
  const type = String(a.headers['content-type'] ?? '');
  if (type.startsWith('application/octet-stream')) {
    const headerBytes = Number(a.headers['inference-header-content-length']);
    assert.ok(Number.isInteger(headerBytes) && headerBytes <= a.raw.length, 'binary answer header length fits the body');
    assert.ok(Array.isArray((JSON.parse(a.raw.subarray(0, headerBytes).toString('utf8')) as InferAnswer).outputs), 'binary answer lists outputs');
    return;
  }
  assert.ok(Array.isArray((JSON.parse(a.raw.toString('utf8')) as InferAnswer).outputs), 'answer lists outputs');
}

async function send(s: Started, url: string, payload: Buffer | string, type: string | undefined = 'application/json', headers: Record<string, string> = {}): Promise<Answer> {
  return injectAnswer(s.app, { method: 'POST', url, payload, headers: { ...AUTH, ...(type === undefined ? {} : { 'content-type': type }), ...headers } });
}

async function checkValid(s: Started, v: ValidInfer): Promise<void> {
  const a = await send(s, v.url, serialise(v.body));
  assert.equal(a.status, 200, `valid request answered: ${a.raw.toString('utf8').slice(0, 300)}`);
  const body = JSON.parse(a.raw.toString('utf8')) as InferAnswer;
  assert.equal(body.model_name, v.sig.name);
  assert.equal(body.model_version, '1');
  if (v.id !== undefined) assert.equal(body.id, v.id, 'the request id is echoed');
  assert.deepEqual(body.outputs, expectedOutputs(v), 'outputs are what the model computes');
}

const anyModel = fc.constantFrom(...FIXTURE_SIGS);

/** A valid request, 1-3 structural edits, maybe a text edit, maybe another URL: the fuzz case. */
const mutated = anyModel.chain((sig) =>
  fc.record({
    valid: validInfer(sig),
    edits: fc.array(edit, { minLength: 1, maxLength: 3 }),
    text: rarely(textEdit, 4),
    type: contentType,
    url: rarely(
      fc.oneof(
        fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).map((m) => `/v2/models/${encodeURIComponent(m)}/infer`),
        fc.oneof(fc.constantFrom('0', '2', '-1', '01', '1.0', '999999999', '99999999999999999999', '%00', 'latest'), fc.string({ minLength: 1, maxLength: 12 })).map((v) => `/v2/models/${sig.name}/versions/${encodeURIComponent(v)}/infer`),
      ),
      12,
    ),
  }),
);

describe('fuzzing V2 infer bodies', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ REPOSITORY_POLL_INTERVAL_MS: '0' }, false);
  });
  after(() => s.close());

  it('answers every valid request generated from a fixture model signature with the outputs the model computes', async (t) => {
    const tally = new Tally();
    await fc.assert(
      fc.asyncProperty(anyModel.chain(validInfer), async (v) => {
        await checkValid(s, v);
        tally.add(200);
      }),
      fuzzOptions(0x1f2e3d, 600),
    );
    t.diagnostic(tally.toString());
  });

  it('gives each of many concurrent valid requests exactly its own outputs (batched together or not)', async (t) => {
    let requests = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(anyModel.chain(validInfer), { minLength: 2, maxLength: 16 }), async (batch) => {
        await Promise.all(batch.map((v) => checkValid(s, v)));
        requests += batch.length;
      }),
      fuzzOptions(0xba7c4, 120),
    );
    t.diagnostic(`120 batches, ${requests} requests`);
  });

  it('fails only the gather_fail request whose index is out of range when it runs among valid ones', async (t) => {
    const gather = FIXTURE_SIGS.find((m) => m.name === 'gather_fail')!;
    let requests = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(validInfer(gather), { minLength: 1, maxLength: 10 }), fc.nat(), fc.oneof(fc.integer({ min: 4, max: 2 ** 40 }), fc.integer({ min: -(2 ** 40), max: -5 })), async (good, at, badIndex) => {
        const bad = { inputs: [{ name: 'data', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }, { name: 'idx', shape: [1, 1], datatype: 'INT64', data: [badIndex] }] };
        const sends: Promise<unknown>[] = good.map((v) => checkValid(s, v));
        sends.splice(at % (good.length + 1), 0, send(s, '/v2/models/gather_fail/infer', JSON.stringify(bad)).then((a) => {
          assert.equal(a.status, 500, 'the bad request fails');
          assert.match(errorMessage(a), /^inference failed for version '1' of model 'gather_fail'/);
        }));
        await Promise.all(sends);
        requests += sends.length;
      }),
      fuzzOptions(0x6a7, 30),
    );
    t.diagnostic(`30 batches, ${requests} requests`);
  });

  const mutatedProperty = (tally: Tally) =>
    fc.asyncProperty(mutated, async (c) => {
      const body = c.edits.reduce<unknown>((b, e) => applyEdit(b, e), c.valid.body);
      const text = serialise(body);
      const payload = c.text ? applyTextEdit(text, c.text) : Buffer.from(text);
      const a = await send(s, c.url ?? c.valid.url, payload, c.type);
      tally.add(a.status);
      checkAnswer(a, { allowDeadline: text.includes('timeout_ms'), allowInferenceFailure: c.valid.sig.name === 'gather_fail' });
      if (a.status === 200) checkSuccess(a);
    });

  it('never answers a mutated request with a 5xx, and refuses with a plain {"error": string} body', async (t) => {
    const tally = new Tally();
    await fc.assert(mutatedProperty(tally), fuzzOptions(0x5eed01, 1500));
    t.diagnostic(tally.toString());
    assert.ok((tally.byStatus.get(400) ?? 0) > tally.cases / 3, 'most mutations are refused as bad requests (the generator reaches the checks)');
  });

  it('never answers a body that is not a request (junk bytes, other JSON types, deep nesting, huge numbers) with a 5xx', async (t) => {
    const tally = new Tally();
    await fc.assert(
      fc.asyncProperty(junkBody, contentType, anyModel, async (payload, type, sig) => {
        const a = await send(s, `/v2/models/${sig.name}/infer`, payload, type);
        tally.add(a.status);
        checkAnswer(a);
        if (a.status === 200) checkSuccess(a);
      }),
      fuzzOptions(0x7a11, 600),
    );
    t.diagnostic(tally.toString());
  });

  it('never answers a generated request path (raw segments, dot segments, percent escapes, long names) with a 5xx', async (t) => {
    const tally = new Tally();
    const segment = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 30 }).map(encodeURIComponent),
      fc.stringMatching(/^[A-Za-z0-9._~:@!$&'()*+,;=-]{0,30}$/),
      fc.constantFrom('', '.', '..', '%2e%2e', '%2F', '%00', '%25', 'dtype_fp32', 'multi_io', 'versions', 'infer', '1', '%20'),
    );
    const url = fc.oneof(
      fc.tuple(segment, segment).map(([m, v]) => `/v2/models/${m}/versions/${v}/infer`),
      segment.map((m) => `/v2/models/${m}/infer`),
      fc.array(segment, { maxLength: 6 }).map((parts) => `/v2/${parts.join('/')}`),
      fc.tuple(segment, fc.string({ maxLength: 20 })).map(([m, q]) => `/v2/models/${m}/infer?${encodeURIComponent(q)}`),
    );
    await fc.assert(
      fc.asyncProperty(url, async (u) => {
        const a = await send(s, u, JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] }));
        tally.add(a.status);
        checkAnswer(a);
      }),
      fuzzOptions(0x0421, 500),
    );
    t.diagnostic(tally.toString());
  });

  it(
    'answers an over-long or malformed path parameter with the plain {"error": string} body of every other error',
    async () => {
      for (const model of ['x'.repeat(101), '%E0%A4%A', '%']) {
        const a = await send(s, `/v2/models/${model}/infer`, '{}');
        assert.ok(a.status >= 400 && a.status < 500, `a 4xx for ${model.slice(0, 20)}`);
        errorMessage(a);
        assert.ok(a.headers['x-request-id'], 'the request id header is set');
      }
    },
  );

  it('answers every fixture model right after the fuzzing, with no worker thread lost', async () => {
    for (const sig of FIXTURE_SIGS) {
      const [v] = fc.sample(validInfer(sig), { numRuns: 1, seed: 42 });
      await checkValid(s, v!);
    }
    assert.equal(await workerRestarts(s.app), 0, 'no worker thread died');
  });

  it('keeps the main-thread and worker heaps flat over another 1,000 mutated requests', async (t) => {
    const tally = new Tally();
    await assertHeapFlat(t, s.app, () => String(tally), () => fc.assert(mutatedProperty(tally), fuzzOptions(0x3e3041, 1000)));
  });
});
