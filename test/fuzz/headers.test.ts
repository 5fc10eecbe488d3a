// Property-based fuzzing of request headers on the V2 infer route: X-Request-Id, X-Request-Timeout-Ms, X-Routing-Key,
// Authorization (garbage and HS256 tokens with generated claims, against an oracle of what may pass) and
// Content-Type, through app.inject; and Content-Length / Transfer-Encoding lies and malformed header lines over a raw
// TCP socket, which inject cannot send. One server over a temporary copy of the fixture and bundled models, with a
// 50/50 traffic table on breast_cancer so that routing keys have something to stick to.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { removeRepo } from '../helpers/repo.js';
import { auth, startServer, type Started, TEST_SECRET } from '../helpers/server.js';
import { type Answer, checkAnswer, combinedRepo, contentType, errorMessage, fuzzOptions, heapSnapshot, injectAnswer, MiB, rarely, Tally, workerRestarts } from './arbitraries.js';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const FP32_BODY = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] });
const CANCER_BODY = JSON.stringify({ inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: new Array(30).fill(1) }] });

// ---------------------------------------------------------------------------------------------- tokens

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const nowSeconds = () => Math.floor(Date.now() / 1000);

interface TokenCase {
  header: Record<string, unknown>;
  /** Whether the header is the plain {alg: HS256, typ: JWT} (the positive oracle is only claimed for it). */
  plainHeader: boolean;
  claims: Record<string, unknown>;
  rightSecret: boolean;
}

/** exp / nbf: far in the past, far in the future (beyond any clock skew), or not a number. */
const time = fc.oneof(
  fc.integer({ min: 3600, max: 10 ** 8 }).map((d) => ({ kind: 'past' as const, delta: -d })),
  fc.integer({ min: 3600, max: 10 ** 8 }).map((d) => ({ kind: 'future' as const, delta: d })),
  fc.constantFrom<unknown>('9999999999', null, true, [], {}, -1, 0, 1e308, Number.MAX_SAFE_INTEGER, 1.5).map((value) => ({ kind: 'odd' as const, value })),
);
type Time = { kind: 'past' | 'future'; delta: number } | { kind: 'odd'; value: unknown };
const timeValue = (t: Time) => (t.kind === 'odd' ? t.value : nowSeconds() + t.delta);

const tokenCase: fc.Arbitrary<TokenCase> = fc
  .record({
    header: fc.oneof(
      { arbitrary: fc.constant({ alg: 'HS256', typ: 'JWT' }), weight: 6 },
      { arbitrary: fc.constantFrom<Record<string, unknown>>({ alg: 'none' }, { alg: 'HS512', typ: 'JWT' }, { alg: 'RS256' }, { alg: 'hs256' }, { alg: 'HS256', crit: ['exp'] }, { alg: 'HS256', kid: '../../etc/passwd' }, { typ: 'JWT' }, {}), weight: 2 },
      { arbitrary: fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }).map((extra) => ({ ...extra, alg: 'HS256' })), weight: 1 },
    ),
    sub: fc.oneof({ arbitrary: fc.constant('fuzzer'), weight: 4 }, { arbitrary: fc.constantFrom<unknown>('', null, 7, ['a'], { a: 1 }, undefined), weight: 1 }, { arbitrary: fc.string({ unit: 'binary', maxLength: 30 }), weight: 1 }),
    scope: fc.oneof(
      { arbitrary: fc.constantFrom<unknown>('predict', 'predict admin', 'admin predict', 'predict:dtype_fp32', 'predict:breast_cancer'), weight: 4 },
      { arbitrary: fc.constantFrom<unknown>('admin', 'Predict', 'predict:', 'predict:other', 'predictx', ' predict ', 'predict\tadmin', ['predict'], 1, null, undefined, { predict: true }), weight: 2 },
      { arbitrary: fc.string({ maxLength: 30 }), weight: 1 },
    ),
    exp: fc.oneof({ arbitrary: time.filter((x) => x.kind === 'future'), weight: 6 }, { arbitrary: time, weight: 3 }, { arbitrary: fc.constant(undefined), weight: 1 }),
    nbf: fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: time, weight: 1 }),
    extra: rarely(fc.dictionary(fc.string({ maxLength: 8 }).filter((k) => !['sub', 'scope', 'exp', 'nbf', '__proto__'].includes(k)), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }), 3),
    rightSecret: fc.oneof({ arbitrary: fc.constant(true), weight: 5 }, { arbitrary: fc.constant(false), weight: 1 }),
  })
  .map((g) => {
    const claims: Record<string, unknown> = { ...g.extra };
    if (g.sub !== undefined) claims.sub = g.sub;
    if (g.scope !== undefined) claims.scope = g.scope;
    if (g.exp !== undefined) claims.exp = timeValue(g.exp);
    if (g.nbf !== undefined) claims.nbf = timeValue(g.nbf);
    const header = g.header as Record<string, unknown>;
    return { header, plainHeader: header.alg === 'HS256' && Object.keys(header).length === 2 && header.typ === 'JWT', claims, rightSecret: g.rightSecret };
  });

function sign(c: TokenCase): string {
  const input = `${b64(c.header)}.${b64(c.claims)}`;
  return `${input}.${createHmac('sha256', c.rightSecret ? TEST_SECRET : `${TEST_SECRET}-wrong`).update(input).digest('base64url')}`;
}

/** What may pass: 'ok' (200 allowed), 'forbidden' (valid token, no predict scope: 403), 'invalid' (401). */
function tokenOracle(c: TokenCase, model: string): 'ok' | 'forbidden' | 'invalid' {
  const { sub, scope, exp, nbf } = c.claims;
  const now = nowSeconds();
  const valid =
    c.rightSecret &&
    c.header.alg === 'HS256' &&
    typeof sub === 'string' &&
    sub !== '' &&
    typeof exp === 'number' &&
    exp > now + 300 &&
    (nbf === undefined || (typeof nbf === 'number' && nbf < now - 300));
  if (!valid) return 'invalid';
  const scopes = typeof scope === 'string' ? scope.split(' ') : [];
  return scopes.includes('predict') || scopes.includes(`predict:${model}`) ? 'ok' : 'forbidden';
}

/** Authorization values that are not a token at all, or a malformed one. */
const garbageAuthorization: fc.Arbitrary<string | string[]> = fc.oneof(
  fc.constantFrom('', 'Bearer', 'Bearer ', 'Bearer  ', 'Basic dXNlcjpwYXNz', 'bearer a.b.c', 'Bearer a.b', 'Bearer ...', 'Bearer a..', 'Bearer .a.', 'Bearer a.b.c.d', 'Token a.b.c', 'Bearer\ta.b.c'),
  fc.integer({ min: 3, max: 5000 }).map((n) => `Bearer ${'a.'.repeat(n)}a`),
  fc.integer({ min: 1000, max: 200_000 }).map((n) => `Bearer ${'A'.repeat(n)}.${'B'.repeat(n)}.${'C'.repeat(10)}`),
  fc.tuple(fc.base64String({ maxLength: 40 }), fc.base64String({ maxLength: 40 }), fc.base64String({ maxLength: 40 })).map(([a, b, c]) => `Bearer ${a}.${b}.${c}`),
  fc.string({ unit: 'binary', maxLength: 60 }).map((s) => `Bearer ${s}`),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.constant<string[]>(['Bearer x.y.z', auth().authorization!]),
);

// ---------------------------------------------------------------------------------------------- other headers

const requestId: fc.Arbitrary<string | string[] | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.stringMatching(SAFE_REQUEST_ID),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer({ min: 129, max: 100_000 }).map((n) => 'r'.repeat(n)),
  fc.constantFrom('a\u0000b', 'a\r\nX-Injected: 1', 'a\tb', 'a b', 'é', '😀', '../../x', 'a/b', '<script>', ''),
  fc.constant<string[]>(['one', 'two']),
);

const timeoutHeader: fc.Arbitrary<string | string[] | undefined> = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 3 },
  { arbitrary: fc.constantFrom('60000', '120000.25', '0', '-1', '00', '0.0', '1e3', '0x10', 'NaN', 'Infinity', '', ' ', ' 60000', '60000 ', '+5', '5.', '.5', '9'.repeat(400), '1,000'), weight: 2 },
  { arbitrary: fc.string({ maxLength: 12 }), weight: 1 },
  { arbitrary: fc.constant<string[]>(['60000', '70000']), weight: 1 },
);

const routingKey: fc.Arbitrary<string | string[] | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
  fc.integer({ min: 200, max: 20_000 }).map((n) => 'k'.repeat(n)),
  fc.constantFrom('', '\u0000', 'user-1', 'user-2', '😀'),
  fc.constant<string[]>(['a', 'b']),
);

/** Undefined when absent; a repeated header arrives as one value (joined), which is not a number. */
function timeoutIsValid(header: string | string[] | undefined): boolean | undefined {
  if (header === undefined) return undefined;
  const v = Array.isArray(header) ? header.join(', ') : header;
  return /^\d+(\.\d+)?$/.test(v) && Number(v) > 0 && Number.isFinite(Number(v));
}

const isJsonType = (t: string | undefined) => t !== undefined && /^application\/json\s*(;|$)/i.test(t.trim());

// ---------------------------------------------------------------------------------------------- raw sockets

interface RawOutcome {
  statuses: number[];
  bodies: string[];
  closedWithoutAnswer: boolean;
}

/**
 * Writes `bytes` on a fresh connection. A request that may be incomplete (a lie the server must wait out) gets the
 * client's FIN after `finAfterMs` of silence; any connection is cut after 10 s. Returns every status line seen.
 */
function rawExchange(port: number, bytes: Buffer, mayBeIncomplete: boolean, finAfterMs = 300): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const fin = mayBeIncomplete ? setTimeout(() => sock.end(), finAfterMs) : undefined;
    const cut = setTimeout(() => sock.destroy(), 10_000);
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(fin);
      clearTimeout(cut);
      const text = Buffer.concat(chunks).toString('latin1');
      const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
      const bodies = text.split(/HTTP\/1\.1 \d{3} /).slice(1).map((part) => part.slice(part.indexOf('\r\n\r\n') + 4));
      resolve({ statuses, bodies, closedWithoutAnswer: statuses.length === 0 });
    });
    sock.write(bytes);
  });
}

type Framing =
  | { kind: 'exact' }
  | { kind: 'short' | 'long'; by: number }
  | { kind: 'value'; value: string }
  | { kind: 'twice'; delta: number }
  | { kind: 'none' }
  | { kind: 'chunked'; lie: number; alsoLength: boolean };
type HeaderLine = 'none' | 'control' | 'latin1' | 'utf8' | 'long' | 'noColon' | 'spaceBeforeColon' | 'folded' | 'nul';

const framing: fc.Arbitrary<Framing> = fc.oneof(
  fc.constant({ kind: 'exact' as const }),
  fc.record({ kind: fc.constantFrom('short' as const, 'long' as const), by: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('value' as const), value: fc.constantFrom('-1', 'abc', '', ' ', '1e2', '0x20', '+20', '99999999999999999999', '999999999', '12 12', '1.5') }),
  fc.record({ kind: fc.constant('twice' as const), delta: fc.integer({ min: -2, max: 2 }) }),
  fc.constant({ kind: 'none' as const }),
  fc.record({ kind: fc.constant('chunked' as const), lie: fc.integer({ min: -3, max: 3 }), alsoLength: fc.boolean() }),
);
const headerLine: fc.Arbitrary<HeaderLine> = fc.constantFrom('none', 'none', 'control', 'latin1', 'utf8', 'long', 'noColon', 'spaceBeforeColon', 'folded', 'nul');

const HEADER_LINES: Record<HeaderLine, string> = {
  none: '',
  control: 'X-Request-Id: a\x01b\r\n',
  latin1: 'X-Request-Id: caf\xe9\r\nX-Routing-Key: caf\xe9\r\n',
  utf8: 'X-Routing-Key: caf\xc3\xa9\r\n',
  long: `X-Padding: ${'p'.repeat(20_000)}\r\n`,
  noColon: 'X-Broken\r\n',
  spaceBeforeColon: 'X-Request-Id : abc\r\n',
  folded: 'X-Request-Id: abc\r\n  continued\r\n',
  nul: 'X-Request-Id: a\x00b\r\n',
};

function rawRequest(f: Framing, line: HeaderLine, token: string): { bytes: Buffer; complete: boolean; wellFormed: boolean } {
  const body = FP32_BODY;
  let framingHeaders = '';
  let payload = body;
  let complete = true;
  let wellFormed = true;
  switch (f.kind) {
    case 'exact':
      framingHeaders = `Content-Length: ${body.length}\r\n`;
      break;
    case 'short':
      framingHeaders = `Content-Length: ${Math.max(0, body.length - f.by)}\r\n`;
      wellFormed = false;
      break;
    case 'long':
      framingHeaders = `Content-Length: ${body.length + f.by}\r\n`;
      complete = false;
      wellFormed = false;
      break;
    case 'value':
      framingHeaders = `Content-Length: ${f.value}\r\n`;
      complete = false;
      wellFormed = false;
      break;
    case 'twice':
      framingHeaders = `Content-Length: ${body.length}\r\nContent-Length: ${body.length + f.delta}\r\n`;
      complete = false;
      wellFormed = false;
      break;
    case 'none':
      wellFormed = false;
      break;
    case 'chunked':
      framingHeaders = `Transfer-Encoding: chunked\r\n${f.alsoLength ? `Content-Length: ${body.length}\r\n` : ''}`;
      payload = `${(body.length + f.lie).toString(16)}\r\n${body}\r\n0\r\n\r\n`;
      complete = f.lie === 0 && !f.alsoLength;
      wellFormed = complete;
      break;
  }
  const legalLine = line === 'none' || line === 'latin1' || line === 'utf8';
  const head = `POST /v2/models/dtype_fp32/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: ${token}\r\nContent-Type: application/json\r\n${framingHeaders}${HEADER_LINES[line]}\r\n`;
  return { bytes: Buffer.from(head + payload, 'latin1'), complete: complete || !legalLine, wellFormed: wellFormed && legalLine };
}

// ---------------------------------------------------------------------------------------------- tests

describe('fuzzing request headers', () => {
  let s: Started;
  let dir: string;
  let port = 0;
  const PREDICT = auth();

  const send = (model: string, headers: Record<string, string | string[] | undefined>, payload = model === 'breast_cancer' ? CANCER_BODY : FP32_BODY): Promise<Answer> => {
    const clean = Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)) as Record<string, string>;
    return injectAnswer(s.app, { method: 'POST', url: `/v2/models/${model}/infer`, payload, headers: clean });
  };

  before(async () => {
    dir = combinedRepo('ortserve-fuzz-headers-');
    s = await startServer({ MODEL_REPOSITORY: dir, REPOSITORY_POLL_INTERVAL_MS: '0' }, true);
    port = Number(new URL(s.url).port);
    const set = await s.app.inject({ method: 'PUT', url: '/admin/models/breast_cancer/traffic', headers: auth('admin'), payload: { weights: { '1': 50, '2': 50 } } });
    assert.equal(set.statusCode, 200, set.body);
  });
  after(async () => {
    await s.close();
    removeRepo(dir);
  });

  it('echoes a safe X-Request-Id, replaces any other with a UUID, and answers whatever the id, timeout and routing key headers hold', async (t) => {
    const tally = new Tally();
    await fc.assert(
      fc.asyncProperty(requestId, timeoutHeader, routingKey, fc.constantFrom('dtype_fp32', 'breast_cancer'), async (id, timeout, key, model) => {
        const a = await send(model, { ...PREDICT, 'content-type': 'application/json', 'x-request-id': id, 'x-request-timeout-ms': timeout, 'x-routing-key': key });
        tally.add(a.status);
        const valid = timeoutIsValid(timeout);
        checkAnswer(a, { allowDeadline: valid === true });
        const echoed = String(a.headers['x-request-id']);
        if (typeof id === 'string' && SAFE_REQUEST_ID.test(id)) assert.equal(echoed, id, 'a safe request id is echoed');
        else assert.match(echoed, UUID, 'any other request id is replaced');
        if (valid === false) {
          assert.equal(a.status, 400, 'a malformed timeout is refused');
          assert.match(errorMessage(a), /timeout_ms/);
        } else if (a.status !== 504) {
          assert.equal(a.status, 200, `answered: ${a.raw.toString('utf8').slice(0, 200)}`);
          const body = JSON.parse(a.raw.toString('utf8')) as { id: string; model_version: string };
          assert.equal(body.id, echoed, 'the answer id is the request id');
        }
      }),
      fuzzOptions(0x1d, 800),
    );
    t.diagnostic(tally.toString());
  });

  it('routes a routing key to the same version every time, and spreads keys over both weighted versions', async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }).filter((k) => k.length <= 256), async (key) => {
        const versions: string[] = [];
        for (let i = 0; i < 3; i++) {
          const a = await send('breast_cancer', { ...PREDICT, 'content-type': 'application/json', 'x-routing-key': key });
          assert.equal(a.status, 200);
          versions.push((JSON.parse(a.raw.toString('utf8')) as { model_version: string }).model_version);
        }
        assert.equal(new Set(versions).size, 1, `key ${JSON.stringify(key)} stuck to one version: ${versions.join(',')}`);
        seen.add(versions[0]!);
      }),
      fuzzOptions(0x5e7, 150),
    );
    assert.deepEqual([...seen].sort(), ['1', '2'], 'both versions of the 50/50 table are reached');
  });

  it('lets a generated token through only when its signature, algorithm, sub, exp, nbf and scope all hold', async (t) => {
    const tally = new Tally();
    await fc.assert(
      fc.asyncProperty(tokenCase, fc.constantFrom('dtype_fp32', 'breast_cancer'), async (c, model) => {
        const a = await send(model, { authorization: `Bearer ${sign(c)}`, 'content-type': 'application/json' });
        tally.add(a.status);
        checkAnswer(a);
        const expected = tokenOracle(c, model);
        const wanted = expected === 'invalid' ? 401 : expected === 'forbidden' ? 403 : 200;
        // Soundness always: nothing the oracle calls invalid passes. Completeness for plain headers only (a verifier
        // may refuse a header with crit, kid or unknown fields).
        if (c.plainHeader || expected === 'invalid') assert.equal(a.status, wanted, `token ${JSON.stringify(c)}`);
        else assert.ok([wanted, 401].includes(a.status), `token ${JSON.stringify(c)}: ${a.status}`);
        if (a.status === 401) assert.equal(a.headers['www-authenticate'], 'Bearer');
      }),
      fuzzOptions(0x70c, 800),
    );
    t.diagnostic(tally.toString());
  });

  it('refuses any Authorization value that is not a token with a 401 and a Bearer challenge', async (t) => {
    const tally = new Tally();
    await fc.assert(
      fc.asyncProperty(garbageAuthorization, async (value) => {
        const a = await send('dtype_fp32', { authorization: value, 'content-type': 'application/json' });
        tally.add(a.status);
        checkAnswer(a);
        assert.equal(a.status, 401, `refused: ${JSON.stringify(value).slice(0, 100)}`);
        assert.equal(a.headers['www-authenticate'], 'Bearer');
      }),
      fuzzOptions(0xa07, 500),
    );
    t.diagnostic(tally.toString());
  });

  it('parses the body only for a JSON content type and refuses any other with a 4xx', async (t) => {
    const tally = new Tally();
    const mangled = fc.tuple(fc.constantFrom('application/json', 'Application/JSON'), fc.string({ unit: 'binary', maxLength: 20 })).map(([base, tail]) => base + tail);
    await fc.assert(
      fc.asyncProperty(fc.oneof(contentType, mangled, fc.string({ unit: 'binary', maxLength: 60 })), async (type) => {
        const a = await send('dtype_fp32', { ...PREDICT, 'content-type': type });
        tally.add(a.status);
        checkAnswer(a);
        if (a.status === 200) assert.ok(isJsonType(type), `only a JSON type reaches the model, got ${JSON.stringify(type)}`);
        else assert.ok([400, 415].includes(a.status), `refused with 400/415, got ${a.status}`);
      }),
      fuzzOptions(0xc7, 600),
    );
    t.diagnostic(tally.toString());
  });

  it('never answers Content-Length or Transfer-Encoding lies and malformed header lines on a raw socket with a 5xx', async (t) => {
    const tally = new Tally();
    const token = PREDICT.authorization!;
    await fc.assert(
      fc.asyncProperty(framing, headerLine, async (f, line) => {
        const r = rawRequest(f, line, token);
        const out = await rawExchange(port, r.bytes, !r.complete);
        for (const status of out.statuses) tally.add(status);
        if (out.closedWithoutAnswer) tally.add(0);
        for (const status of out.statuses) assert.ok(status < 500, `no 5xx on a raw socket: ${status} for ${JSON.stringify({ f, line })}`);
        if (r.wellFormed) assert.deepEqual(out.statuses, [200], `a well-formed request is answered: ${JSON.stringify({ f, line })}`);
        else assert.ok(out.statuses.length > 0 || !r.complete, `a complete request gets an answer: ${JSON.stringify({ f, line })}`);
      }),
      fuzzOptions(0x50c, 60),
    );
    t.diagnostic(`${tally} (0: closed without an answer)`);
    const res = await fetch(`${s.url}/v2/models/dtype_fp32/infer`, { method: 'POST', headers: { ...PREDICT, 'content-type': 'application/json' }, body: FP32_BODY });
    assert.equal(res.status, 200, 'the server still answers over a socket');
    assert.deepEqual(((await res.json()) as { outputs: { data: number[] }[] }).outputs[0]!.data, [2, 4, 6]);
  });

  it('answers HTTP parse errors (Content-Length lies, bad header lines) with the {"error": string} body of every other error', async () => {
    const token = PREDICT.authorization!;
    for (const [f, line] of [
      [{ kind: 'short', by: 5 }, 'none'],
      [{ kind: 'value', value: 'abc' }, 'none'],
      [{ kind: 'exact' }, 'control'],
    ] as [Framing, HeaderLine][]) {
      const out = await rawExchange(port, rawRequest(f, line, token).bytes, true);
      assert.ok(out.statuses.length > 0 && out.statuses.every((st) => st >= 400 && st < 500), `a 4xx: ${out.statuses.join(',')}`);
      for (const body of out.bodies) assert.deepEqual(Object.keys(JSON.parse(body) as object), ['error'], `body ${body}`);
    }
  });

  it('keeps the heap flat over another 1,000 requests with generated headers', async (t) => {
    const before = await heapSnapshot(s.app);
    const tally = new Tally();
    await fc.assert(
      fc.asyncProperty(requestId, timeoutHeader, routingKey, fc.oneof({ arbitrary: fc.constant(PREDICT.authorization!), weight: 4 }, { arbitrary: tokenCase.map((c) => `Bearer ${sign(c)}`), weight: 1 }, { arbitrary: garbageAuthorization, weight: 1 }), rarely(contentType, 3), async (id, timeout, key, authorization, type) => {
        const a = await send('breast_cancer', { authorization, 'content-type': type ?? 'application/json', 'x-request-id': id, 'x-request-timeout-ms': timeout, 'x-routing-key': key });
        tally.add(a.status);
        checkAnswer(a, { allowDeadline: timeoutIsValid(timeout) === true });
      }),
      fuzzOptions(0x4ea9, 1000),
    );
    const afterwards = await heapSnapshot(s.app);
    const growth = afterwards.mainBytes - before.mainBytes;
    t.diagnostic(`${tally}; main heap ${(before.mainBytes / MiB).toFixed(1)} -> ${(afterwards.mainBytes / MiB).toFixed(1)} MiB (gc: ${afterwards.collected})`);
    assert.ok(growth < (afterwards.collected ? 16 : 64) * MiB, `main heap grew by ${(growth / MiB).toFixed(1)} MiB`);
    assert.equal(await workerRestarts(s.app), 0, 'no worker thread died');
  });
});
