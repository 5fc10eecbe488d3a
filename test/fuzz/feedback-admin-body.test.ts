// Property-based fuzzing of the feedback and admin bodies, with app.inject on one server over a temporary copy of
// the fixture and bundled models (admin writes go there, never into the checkout): POST /v2/models/{m}/feedback
// against an oracle that knows which response ids are pending; PUT /admin/models/{m}/traffic against an oracle of
// which tables are acceptable (and the table in force afterwards); rollbacks; and PUT uploads of random, truncated,
// bit-flipped or mismatched bytes, which must be refused with a 4xx and leave nothing in the repository.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { removeRepo } from '../helpers/repo.js';
import { auth, BUNDLED_MODELS, FIXTURE_MODELS, startServer, type Started } from '../helpers/server.js';
import {
  type Answer,
  applyEdit,
  applyTextEdit,
  checkAnswer,
  combinedRepo,
  contentType,
  fuzzOptions,
  heapSnapshot,
  hostileValue,
  injectAnswer,
  junkBody,
  MiB,
  pathEdit,
  rarely,
  serialise,
  Tally,
  textEdit,
  workerRestarts,
} from './arbitraries.js';

const PREDICT = auth('predict', 'fuzzer');
const ADMIN = auth('admin', 'fuzzer');
const MAX_UPLOAD_BYTES = 64 * 1024;
const CANCER_LABELS = ['malignant', 'benign'];
const VERSION = /^[1-9][0-9]{0,8}$/;
/** Ready versions per model in this repository (nothing in this file unloads one). */
const READY: Record<string, string[]> = { breast_cancer: ['1', '2'], digits: ['1'], multi_io: ['1'], dtype_fp32: ['1'] };

const cancerRow = (k: number) => Array.from({ length: 30 }, (_, j) => ((j * 7 + k * 13) % 50) / 10);

// ---------------------------------------------------------------------------------------------- feedback

/**
 * The statuses the route may give a JSON body that reached it unchanged: one, except for class indices beyond the
 * model's two classes, which are accepted today (see the todo test below) and should be a 400.
 */
function feedbackOracle(model: string, body: unknown, pending: Map<string, number>): number[] {
  if (model !== 'breast_cancer' && !['digits', 'multi_io', 'dtype_fp32'].includes(model)) return [404];
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return [400];
  const { id, labels } = body as { id?: unknown; labels?: unknown };
  if (typeof id !== 'string' || id.length < 1 || id.length > 256) return [400];
  if (!Array.isArray(labels) || labels.length < 1) return [400];
  if (!labels.every((l) => (typeof l === 'number' && Number.isFinite(l)) || (typeof l === 'string' && l.length <= 256))) return [400];
  const rows = model === 'breast_cancer' ? pending.get(id) : undefined;
  if (rows === undefined) return [404];
  if (labels.length !== rows) return [400];
  const known = (l: unknown) => (typeof l === 'number' ? Number.isInteger(l) && l >= 0 && l < CANCER_LABELS.length : CANCER_LABELS.includes(l as string));
  if (labels.every(known)) return [202];
  return labels.every((l) => known(l) || (typeof l === 'number' && Number.isInteger(l) && l >= CANCER_LABELS.length)) ? [202, 400] : [400];
}

const label = fc.oneof({ arbitrary: fc.constantFrom<unknown>(0, 1, 'malignant', 'benign'), weight: 6 }, { arbitrary: hostileValue, weight: 1 });

// ---------------------------------------------------------------------------------------------- traffic

const versionKey = fc.oneof({ arbitrary: fc.constantFrom('1', '2'), weight: 6 }, { arbitrary: fc.constantFrom('3', '0', '01', '1.0', '-1', 'abc', '', '999999999', '1000000000', ' 1', 'constructor'), weight: 1 });
const weight = fc.oneof({ arbitrary: fc.constantFrom(0, 50, 100, 25, 75), weight: 4 }, { arbitrary: fc.integer({ min: -5, max: 105 }), weight: 2 }, { arbitrary: hostileValue, weight: 1 });
const shadow = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 4 },
  { arbitrary: fc.constant(null), weight: 1 },
  { arbitrary: fc.record({ version: versionKey, fraction: fc.oneof(fc.constantFrom(0, 0.5, 1, 1.5, -0.1), fc.double({ noNaN: true }), hostileValue) }), weight: 2 },
  { arbitrary: hostileValue, weight: 1 },
);

interface TrafficCase {
  model: string;
  body: unknown;
  revision: 'current' | 'stale' | 'absent' | { value: unknown };
}

const trafficCase: fc.Arbitrary<TrafficCase> = fc.record({
  model: fc.oneof({ arbitrary: fc.constantFrom('breast_cancer', 'digits', 'multi_io'), weight: 8 }, { arbitrary: fc.constantFrom('nope', 'dtype_fp32'), weight: 1 }),
  body: fc.oneof(
    {
      arbitrary: fc.record({
        weights: fc.oneof(fc.constant({ '1': 100 }), fc.constant({ '2': 100 }), fc.integer({ min: 0, max: 100 }).map((w) => ({ '1': w, '2': 100 - w }))),
        shadow: fc.option(fc.record({ version: fc.constantFrom('1', '2'), fraction: fc.double({ min: 0, max: 1, noNaN: true }) })),
      }),
      weight: 4,
    },
    { arbitrary: fc.record({ weights: fc.dictionary(versionKey, weight, { minKeys: 0, maxKeys: 3 }), shadow }, { requiredKeys: ['weights'] }), weight: 4 },
    { arbitrary: fc.tuple(fc.record({ weights: fc.constant({ '1': 100 }) }), pathEdit).map(([b, e]) => applyEdit(b, e)), weight: 2 },
    { arbitrary: fc.record({ weights: fc.constant({ '1': 100 }), extra: hostileValue }), weight: 1 },
    { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 1 },
  ),
  revision: fc.oneof(
    { arbitrary: fc.constantFrom('current' as const, 'absent' as const), weight: 6 },
    { arbitrary: fc.constant('stale' as const), weight: 1 },
    { arbitrary: hostileValue.map((value) => ({ value })), weight: 1 },
  ),
});

/** Whether PUT traffic must accept the body (a strict table of ready versions at the current revision). */
function trafficAcceptable(model: string, body: unknown, sentRevision: unknown, current: number): boolean {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const b = body as Record<string, unknown>;
  if (Object.keys(b).some((k) => !['weights', 'shadow', 'revision'].includes(k))) return false;
  const weights = b.weights;
  if (typeof weights !== 'object' || weights === null || Array.isArray(weights)) return false;
  const entries = Object.entries(weights);
  if (entries.length === 0 || entries.some(([v, w]) => !VERSION.test(v) || typeof w !== 'number' || !Number.isInteger(w) || w < 0 || w > 100)) return false;
  if (entries.reduce((sum, [, w]) => sum + (w as number), 0) !== 100) return false;
  const ready = READY[model] ?? [];
  if (entries.some(([v, w]) => (w as number) > 0 && !ready.includes(v))) return false;
  if (b.shadow !== undefined && b.shadow !== null) {
    const sh = b.shadow as Record<string, unknown>;
    if (typeof sh !== 'object' || Array.isArray(sh) || Object.keys(sh).some((k) => k !== 'version' && k !== 'fraction')) return false;
    if (typeof sh.version !== 'string' || !VERSION.test(sh.version) || !ready.includes(sh.version)) return false;
    if (typeof sh.fraction !== 'number' || !(sh.fraction > 0 && sh.fraction <= 1)) return false;
  }
  if (sentRevision !== undefined && sentRevision !== current) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------- uploads

const MODEL_BYTES = {
  cancer1: fs.readFileSync(path.join(BUNDLED_MODELS, 'breast_cancer/1/model.onnx')),
  digits: fs.readFileSync(path.join(BUNDLED_MODELS, 'digits/1/model.onnx')),
  fp32: fs.readFileSync(path.join(FIXTURE_MODELS, 'dtype_fp32/1/model.onnx')),
  multi: fs.readFileSync(path.join(FIXTURE_MODELS, 'multi_io/1/model.onnx')),
};

type UploadBytes =
  | { kind: 'random'; bytes: Uint8Array }
  | { kind: 'empty' }
  | { kind: 'truncated'; model: keyof typeof MODEL_BYTES; fraction: number }
  | { kind: 'flipped'; model: keyof typeof MODEL_BYTES; flips: [number, number][] }
  | { kind: 'whole'; model: keyof typeof MODEL_BYTES }
  | { kind: 'tooBig' }
  | { kind: 'json' };

const uploadBytes: fc.Arbitrary<UploadBytes> = fc.oneof(
  fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 2000 }) }),
  fc.constant({ kind: 'empty' as const }),
  fc.record({ kind: fc.constant('truncated' as const), model: fc.constantFrom<keyof typeof MODEL_BYTES>('cancer1', 'digits', 'fp32', 'multi'), fraction: fc.double({ min: 0.01, max: 0.999, noNaN: true }) }),
  fc.record({ kind: fc.constant('flipped' as const), model: fc.constantFrom<keyof typeof MODEL_BYTES>('cancer1', 'fp32', 'multi'), flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('whole' as const), model: fc.constantFrom<keyof typeof MODEL_BYTES>('cancer1', 'digits', 'fp32', 'multi') }),
  fc.constant({ kind: 'tooBig' as const }),
  fc.constant({ kind: 'json' as const }),
);

function bytesOf(u: UploadBytes): Buffer {
  switch (u.kind) {
    case 'random':
      return Buffer.from(u.bytes);
    case 'empty':
      return Buffer.alloc(0);
    case 'truncated': {
      const b = MODEL_BYTES[u.model];
      return b.subarray(0, Math.max(1, Math.floor(b.length * u.fraction)));
    }
    case 'flipped': {
      const b = Buffer.from(MODEL_BYTES[u.model]);
      for (const [at, byte] of u.flips) b[at % b.length] = byte;
      return b;
    }
    case 'whole':
      return MODEL_BYTES[u.model];
    case 'tooBig':
      return Buffer.alloc(MAX_UPLOAD_BYTES + 1024, 7);
    case 'json':
      return Buffer.from('{"model":"not onnx"}');
  }
}

const uploadCase = fc.record({
  model: fc.oneof(
    { arbitrary: fc.constantFrom('breast_cancer', 'digits', 'dtype_fp32', 'multi_io', 'fuzz_new'), weight: 6 },
    { arbitrary: fc.constantFrom('..', '.', '.hidden', '../../escape', 'a/b', 'a b', '%2e%2e', 'x'.repeat(100), 'é', '.tmp-upload-1'), weight: 2 },
  ),
  version: fc.oneof(
    { arbitrary: fc.integer({ min: 10, max: 99_999 }).map(String), weight: 6 },
    { arbitrary: fc.constantFrom('1', '2', '0', '-1', '01', '1.5', 'abc', '9999999999', '', ' 7'), weight: 2 },
  ),
  bytes: uploadBytes,
  type: fc.oneof({ arbitrary: fc.constant<string | undefined>('application/octet-stream'), weight: 8 }, { arbitrary: contentType, weight: 1 }),
  sha: fc.oneof(
    { arbitrary: fc.constant<'right' | 'absent' | { value: string }>('absent'), weight: 4 },
    { arbitrary: fc.constant<'right' | 'absent' | { value: string }>('right'), weight: 2 },
    { arbitrary: fc.oneof(fc.constantFrom('', '0'.repeat(64), 'zz', 'A'.repeat(64)), fc.string({ maxLength: 70 })).map((value) => ({ value })), weight: 1 },
  ),
  force: fc.oneof({ arbitrary: fc.constant<string | undefined>(undefined), weight: 4 }, { arbitrary: fc.constantFrom('true', '1', 'false', 'yes', '', 'true&force=false'), weight: 1 }),
});

/** Folders in the repository, to check that a refused upload left nothing behind. */
function listing(root: string): string[] {
  const out: string[] = [];
  for (const m of fs.readdirSync(root, { withFileTypes: true })) {
    if (!m.isDirectory()) continue;
    out.push(m.name);
    for (const v of fs.readdirSync(path.join(root, m.name), { withFileTypes: true })) if (v.isDirectory()) out.push(`${m.name}/${v.name}`);
  }
  return out.sort();
}

// ---------------------------------------------------------------------------------------------- tests

describe('fuzzing feedback and admin bodies', () => {
  let s: Started;
  let dir: string;
  /** Response id -> rows, for predictions the server still remembers for breast_cancer. */
  const pending = new Map<string, number>();
  let nextId = 0;

  const call = (method: 'GET' | 'POST' | 'PUT', url: string, headers: Record<string, string | undefined>, payload?: Buffer | string): Promise<Answer> =>
    injectAnswer(s.app, { method, url, headers: Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)) as Record<string, string>, ...(payload === undefined ? {} : { payload }) });

  /** One breast_cancer prediction with a fresh id (on version 1, whatever the traffic table says). */
  async function predict(rows: number): Promise<string> {
    const id = `fuzz-${nextId++}`;
    const data = Array.from({ length: rows }, (_, r) => cancerRow(nextId + r));
    const a = await call('POST', '/v2/models/breast_cancer/versions/1/infer', { ...PREDICT, 'content-type': 'application/json' }, JSON.stringify({ id, inputs: [{ name: 'input', shape: [rows, 30], datatype: 'FP32', data }] }));
    assert.equal(a.status, 200, a.raw.toString('utf8'));
    pending.set(id, rows);
    return id;
  }

  before(async () => {
    dir = combinedRepo('ortserve-fuzz-admin-');
    s = await startServer({ MODEL_REPOSITORY: dir, REPOSITORY_POLL_INTERVAL_MS: '0', MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES) }, false);
  });
  after(async () => {
    await s.close();
    removeRepo(dir);
  });

  it('accepts feedback with one valid label per row exactly once for every generated prediction', async (t) => {
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }).chain((rows) => fc.tuple(fc.constant(rows), fc.array(fc.constantFrom<number | string>(0, 1, 'malignant', 'benign'), { minLength: rows, maxLength: rows }))), async ([rows, labels]) => {
        const id = await predict(rows);
        const first = await call('POST', '/v2/models/breast_cancer/feedback', { ...PREDICT, 'content-type': 'application/json' }, JSON.stringify({ id, labels }));
        assert.equal(first.status, 202, first.raw.toString('utf8'));
        assert.deepEqual(JSON.parse(first.raw.toString('utf8')), { id, rows });
        const again = await call('POST', '/v2/models/breast_cancer/feedback', { ...PREDICT, 'content-type': 'application/json' }, JSON.stringify({ id, labels }));
        assert.equal(again.status, 404, 'one response counts once');
        pending.delete(id);
        cases++;
      }),
      fuzzOptions(0xfeed, 150),
    );
    t.diagnostic(`${cases} cases (each: an inference, a feedback, a repeated feedback)`);
  });

  it('answers generated feedback bodies with exactly the status the pending ids imply, never a 5xx', async (t) => {
    for (let i = 0; i < 40; i++) await predict(1 + (i % 4));
    const tally = new Tally();
    const feedbackBody = fc.oneof(
      { arbitrary: fc.record({ id: fc.oneof(fc.constantFrom(...pending.keys()), fc.string({ maxLength: 300 })), labels: fc.array(label, { minLength: 0, maxLength: 6 }) }), weight: 5 },
      { arbitrary: fc.tuple(fc.record({ id: fc.constantFrom(...pending.keys()), labels: fc.array(label, { minLength: 1, maxLength: 4 }) }), pathEdit).map(([b, e]) => applyEdit(b, e)), weight: 3 },
      { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 1 },
    );
    const model = fc.oneof({ arbitrary: fc.constant('breast_cancer'), weight: 8 }, { arbitrary: fc.constantFrom('digits', 'dtype_fp32', 'nope', '%F0%9F%98%80'), weight: 1 });
    await fc.assert(
      fc.asyncProperty(feedbackBody, model, rarely(textEdit, 6), rarely(contentType, 8), async (body, m, text, type) => {
        const serialised = serialise(body);
        const a = await call('POST', `/v2/models/${m}/feedback`, { ...PREDICT, 'content-type': type ?? 'application/json' }, text ? applyTextEdit(serialised, text) : serialised);
        tally.add(a.status);
        checkAnswer(a);
        if (text === undefined && type === undefined) {
          const expected = feedbackOracle(decodeURIComponent(m), JSON.parse(serialised), pending);
          assert.ok(expected.includes(a.status), `${a.status} is not ${expected.join(' or ')}: feedback ${serialised.slice(0, 200)} for ${m}: ${a.raw.toString('utf8').slice(0, 200)}`);
        } else {
          assert.ok([202, 400, 404, 415].includes(a.status), `a feedback status, got ${a.status}`);
        }
        if (a.status === 202) pending.delete((body as { id: string }).id);
      }),
      fuzzOptions(0xfeedb, 1000),
    );
    t.diagnostic(tally.toString());
    assert.ok((tally.byStatus.get(202) ?? 0) > 5, 'some generated feedback is accepted');
  });

  it('refuses a class index beyond the model\'s classes', async () => {
    const id = await predict(1);
    const a = await call('POST', '/v2/models/breast_cancer/feedback', { ...PREDICT, 'content-type': 'application/json' }, JSON.stringify({ id, labels: [7] }));
    assert.equal(a.status, 400, 'breast_cancer has the classes 0 (malignant) and 1 (benign)');
  });

  it('never answers junk feedback bodies with a 5xx', async (t) => {
    const tally = new Tally();
    await fc.assert(
      fc.asyncProperty(junkBody, rarely(contentType, 3), async (payload, type) => {
        const a = await call('POST', '/v2/models/breast_cancer/feedback', { ...PREDICT, 'content-type': type ?? 'application/json' }, payload);
        tally.add(a.status);
        checkAnswer(a);
        assert.ok(a.status >= 400, 'junk is refused');
      }),
      fuzzOptions(0x7eed, 400),
    );
    t.diagnostic(tally.toString());
  });

  it('sets exactly the acceptable traffic tables, refuses the rest with a 4xx, and rolls back without a 5xx', async (t) => {
    const tally = new Tally();
    await fc.assert(
      fc.asyncProperty(trafficCase, rarely(fc.constantFrom('rollback', 'junk'), 6), junkBody, async (c, other, junk) => {
        const before = await call('GET', `/admin/models/${c.model}/traffic`, ADMIN);
        if (c.model === 'nope') assert.equal(before.status, 404);
        const current = before.status === 200 ? (JSON.parse(before.raw.toString('utf8')) as { revision: number }).revision : 0;
        if (other === 'rollback') {
          const a = await call('POST', `/admin/models/${c.model}/traffic/rollback`, ADMIN);
          tally.add(a.status);
          checkAnswer(a);
          assert.ok([200, 404, 409].includes(a.status), `rollback: ${a.status}`);
          return;
        }
        if (other === 'junk') {
          const a = await call('PUT', `/admin/models/${c.model}/traffic`, { ...ADMIN, 'content-type': 'application/json' }, junk);
          tally.add(a.status);
          checkAnswer(a);
          assert.ok(a.status >= 400, 'junk is refused');
          return;
        }
        const sent = c.revision === 'current' ? current : c.revision === 'stale' ? current + 1 : c.revision === 'absent' ? undefined : c.revision.value;
        const body = sent === undefined || typeof c.body !== 'object' || c.body === null || Array.isArray(c.body) ? c.body : { ...c.body, revision: sent };
        const text = serialise(body);
        const a = await call('PUT', `/admin/models/${c.model}/traffic`, { ...ADMIN, 'content-type': 'application/json' }, text);
        tally.add(a.status);
        checkAnswer(a);
        // The body is checked before the model is looked up: an unknown model is a 404 only for a well-formed table.
        if (c.model === 'nope') return assert.ok([400, 404].includes(a.status), `unknown model: ${a.status}`);
        const acceptable = trafficAcceptable(c.model, JSON.parse(text), (JSON.parse(text) as { revision?: unknown } | null)?.revision, current);
        assert.equal(a.status === 200, acceptable, `table ${text.slice(0, 300)} at revision ${current}: ${a.status} ${a.raw.toString('utf8').slice(0, 300)}`);
        if (acceptable) {
          const after = JSON.parse((await call('GET', `/admin/models/${c.model}/traffic`, ADMIN)).raw.toString('utf8')) as { weights: unknown; revision: number; shadow: unknown };
          const sentTable = JSON.parse(text) as { weights: unknown; shadow?: unknown };
          assert.deepEqual(after.weights, sentTable.weights, 'the table in force is the one sent');
          assert.deepEqual(after.shadow, sentTable.shadow ?? null);
          assert.equal(after.revision, current + 1, 'the revision moved by one');
        } else {
          assert.ok([400, 409].includes(a.status), `a refused table is a 400 or a 409, got ${a.status}`);
        }
      }),
      fuzzOptions(0x7aff1c, 600),
    );
    t.diagnostic(tally.toString());
    assert.ok((tally.byStatus.get(200) ?? 0) > 20, 'some generated tables are set');
  });

  it('refuses every upload that cannot serve with a 4xx and leaves nothing behind in the repository', async (t) => {
    const tally = new Tally();
    const escapeDir = path.resolve(dir, '../../escape');
    await fc.assert(
      fc.asyncProperty(uploadCase, async (c) => {
        const bytes = bytesOf(c.bytes);
        const before = listing(dir);
        const sha = c.sha === 'absent' ? undefined : c.sha === 'right' ? createHash('sha256').update(bytes).digest('hex') : c.sha.value;
        const url = `/admin/models/${encodeURIComponent(c.model)}/versions/${encodeURIComponent(c.version)}${c.force === undefined ? '' : `?force=${c.force}`}`;
        const a = await call('PUT', url, { ...ADMIN, 'content-type': c.type, 'x-content-sha256': sha }, bytes);
        tally.add(a.status);
        checkAnswer(a);
        assert.ok([201, 400, 404, 409, 413, 415, 422].includes(a.status), `an upload status, got ${a.status}: ${a.raw.toString('utf8').slice(0, 200)}`);
        const afterwards = listing(dir);
        assert.ok(!afterwards.some((p) => p.includes('.tmp-')), `no staging folder is left: ${afterwards.filter((p) => p.includes('.tmp-')).join(', ')}`);
        assert.ok(!fs.existsSync(escapeDir), 'nothing is written outside the repository');
        if (a.status === 201) {
          const file = path.join(dir, c.model, c.version, 'model.onnx');
          assert.ok(fs.readFileSync(file).equals(bytes), 'a 201 stored exactly the bytes sent');
        } else {
          assert.deepEqual(afterwards, before, 'a refused upload leaves the repository as it was');
        }
      }),
      fuzzOptions(0x0b10ad, 160),
    );
    t.diagnostic(tally.toString());
    assert.ok((tally.byStatus.get(422) ?? 0) > 10, 'uploads reach the ONNX probe');
  });

  it('keeps the heap flat over another 1,000 feedback and traffic bodies, and still serves and lists models', async (t) => {
    for (let i = 0; i < 20; i++) await predict(2);
    const before = await heapSnapshot(s.app);
    const tally = new Tally();
    const body = fc.oneof(
      fc.record({ route: fc.constant('feedback' as const), body: fc.record({ id: fc.oneof(fc.constantFrom(...pending.keys()), fc.string({ maxLength: 40 })), labels: fc.array(label, { minLength: 1, maxLength: 3 }) }) }),
      fc.record({ route: fc.constant('traffic' as const), body: trafficCase.map((c) => c.body) }),
    );
    await fc.assert(
      fc.asyncProperty(body, async (c) => {
        const a =
          c.route === 'feedback'
            ? await call('POST', '/v2/models/breast_cancer/feedback', { ...PREDICT, 'content-type': 'application/json' }, serialise(c.body))
            : await call('PUT', '/admin/models/digits/traffic', { ...ADMIN, 'content-type': 'application/json' }, serialise(c.body));
        tally.add(a.status);
        checkAnswer(a);
      }),
      fuzzOptions(0xf1a7c, 1000),
    );
    const afterwards = await heapSnapshot(s.app);
    const growth = afterwards.mainBytes - before.mainBytes;
    t.diagnostic(`${tally}; main heap ${(before.mainBytes / MiB).toFixed(1)} -> ${(afterwards.mainBytes / MiB).toFixed(1)} MiB (gc: ${afterwards.collected})`);
    assert.ok(growth < (afterwards.collected ? 16 : 64) * MiB, `main heap grew by ${(growth / MiB).toFixed(1)} MiB`);

    const id = await predict(1);
    const fb = await call('POST', '/v2/models/breast_cancer/feedback', { ...PREDICT, 'content-type': 'application/json' }, JSON.stringify({ id, labels: ['benign'] }));
    assert.equal(fb.status, 202);
    const list = await call('GET', '/admin/models', ADMIN);
    assert.equal(list.status, 200);
    const names = (JSON.parse(list.raw.toString('utf8')) as { models: { name: string }[] }).models.map((m) => m.name);
    for (const name of ['breast_cancer', 'digits', 'multi_io', 'dtype_fp32']) assert.ok(names.includes(name), `${name} is listed`);
    assert.equal(await workerRestarts(s.app), 0, 'no worker thread died');
  });
});
