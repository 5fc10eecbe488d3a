// JWT hardening (RFC 8725) beyond auth.test.ts: a bounded clock skew for exp and nbf (JWT_CLOCK_SKEW_SECONDS, in
// seconds, handed to fast-jwt in milliseconds), caches that neither outlive exp nor keep refusing a token whose
// nbf has passed, and tokens taken from the Authorization header only (never a query string, cookie or body).
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import { loadConfig } from '../../src/config/env.js';
import authPlugin from '../../src/http/auth.js';
import { mintToken } from '../../src/http/token.js';
import { TEST_SECRET, startServer, type Started } from '../helpers/server.js';

const now = () => Math.floor(Date.now() / 1000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const b64u = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** An HS256 token with exactly these claims (mintToken sets no nbf). */
function hs256(payload: object): string {
  const input = `${b64u({ alg: 'HS256', typ: 'JWT' })}.${b64u(payload)}`;
  return `${input}.${createHmac('sha256', TEST_SECRET).update(input).digest('base64url')}`;
}
const claims = (extra: object = {}) => ({ sub: 'svc', scope: 'predict', iat: now(), exp: now() + 600, ...extra });

/** An empty model repository starts fast; GET /v2 needs any valid token. */
const emptyRepository = fs.mkdtempSync(path.join(os.tmpdir(), 'ortserve-hardening-'));
after(() => fs.rmSync(emptyRepository, { recursive: true, force: true }));
const env = (extra: Record<string, string> = {}) => ({ MODEL_REPOSITORY: emptyRepository, WORKER_THREADS: '1', ...extra });

async function status(s: Started, token: string): Promise<{ status: number; error: string; challenge: string }> {
  const res = await s.app.inject({ method: 'GET', url: '/v2', headers: { authorization: `Bearer ${token}` } });
  return { status: res.statusCode, error: res.statusCode >= 400 ? String((JSON.parse(res.body) as { error: unknown }).error) : '', challenge: String(res.headers['www-authenticate']) };
}

describe('clock skew JWT_CLOCK_SKEW_SECONDS=60', () => {
  let s: Started;
  before(async () => {
    s = await startServer(env({ JWT_CLOCK_SKEW_SECONDS: '60' }), false);
  });
  after(() => s.close());

  it('accepts a token whose nbf is 30 s ahead (within the skew)', async () => {
    assert.equal((await status(s, hs256(claims({ nbf: now() + 30 })))).status, 200);
  });

  it('rejects a token whose nbf is 120 s ahead (beyond the skew) with 401', async () => {
    const res = await status(s, hs256(claims({ nbf: now() + 120 })));
    assert.equal(res.status, 401);
    assert.match(res.error, /not yet valid/);
    assert.match(res.challenge, /^Bearer\b/);
  });

  it('accepts a token that expired 30 s ago (within the skew)', async () => {
    assert.equal((await status(s, hs256(claims({ exp: now() - 30 })))).status, 200);
  });

  it('rejects a token that expired 120 s ago (beyond the skew) with 401', async () => {
    const res = await status(s, hs256(claims({ exp: now() - 120 })));
    assert.equal(res.status, 401);
    assert.match(res.error, /expired/);
  });

  it('accepts a token as soon as nbf minus the skew has passed, after refusing it (no cached refusal)', async () => {
    const nbf = now() + 62;
    const t = hs256(claims({ nbf }));
    assert.equal((await status(s, t)).status, 401);
    await sleep((nbf - 60) * 1000 - Date.now() + 50);
    assert.equal((await status(s, t)).status, 200);
  });
});

describe('clock skew with a public key (JWT_PUBLIC_KEY_FILE, JWT_CLOCK_SKEW_SECONDS=60)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ortserve-hardening-key-'));
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const privateKeyPem = String(pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  let s: Started;
  before(async () => {
    const file = path.join(dir, 'public.pem');
    fs.writeFileSync(file, String(pair.publicKey.export({ type: 'spki', format: 'pem' })));
    s = await startServer(env({ JWT_SECRET: '', JWT_PUBLIC_KEY_FILE: file, JWT_CLOCK_SKEW_SECONDS: '60' }), false);
  });
  after(async () => {
    await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('accepts a token that expired 30 s ago and rejects one that expired 120 s ago', async () => {
    const mint = (issuedAgo: number) => mintToken({ privateKeyPem }, { sub: 'svc', scope: 'predict', expiresInSeconds: 60 }, now() - issuedAgo);
    assert.equal((await status(s, mint(90))).status, 200);
    assert.equal((await status(s, mint(180))).status, 401);
  });
});

describe('clock skew JWT_CLOCK_SKEW_SECONDS=0', () => {
  let s: Started;
  before(async () => {
    s = await startServer(env({ JWT_CLOCK_SKEW_SECONDS: '0' }), false);
  });
  after(() => s.close());

  it('rejects a token that expired 2 s ago', async () => {
    assert.equal((await status(s, hs256(claims({ exp: now() - 2 })))).status, 401);
  });

  it('rejects a token whose nbf is 2 s ahead', async () => {
    assert.equal((await status(s, hs256(claims({ nbf: now() + 2 })))).status, 401);
  });

  it('stops accepting a verified (cached) token once its exp has passed', async () => {
    const exp = now() + 2;
    const t = hs256(claims({ exp }));
    assert.equal((await status(s, t)).status, 200);
    assert.equal((await status(s, t)).status, 200);
    await sleep(exp * 1000 - Date.now() + 50);
    const res = await status(s, t);
    assert.equal(res.status, 401);
    assert.match(res.error, /expired/);
  });
});

describe('clock skew by default', () => {
  let s: Started;
  before(async () => {
    s = await startServer(env(), false);
  });
  after(() => s.close());

  it('is 30 s: a token that expired 10 s ago is accepted, one that expired 45 s ago is not', async () => {
    assert.equal((await status(s, hs256(claims({ exp: now() - 10 })))).status, 200);
    assert.equal((await status(s, hs256(claims({ exp: now() - 45 })))).status, 401);
  });
});

describe('JWT_CLOCK_SKEW_SECONDS bounds', () => {
  it('defaults to 30 and accepts 0 to 300', () => {
    assert.equal(loadConfig({}).jwt.clockSkewSeconds, 30);
    assert.equal(loadConfig({ JWT_CLOCK_SKEW_SECONDS: '0' }).jwt.clockSkewSeconds, 0);
    assert.equal(loadConfig({ JWT_CLOCK_SKEW_SECONDS: '300' }).jwt.clockSkewSeconds, 300);
  });

  it('refuses more than 300, negative and non-integer values in the environment', () => {
    for (const v of ['301', '-1', '1.5', 'soon']) assert.throws(() => loadConfig({ JWT_CLOCK_SKEW_SECONDS: v }), /JWT_CLOCK_SKEW_SECONDS/, v);
  });

  it('refuses an out-of-range clockSkewSeconds when the auth plugin registers', async () => {
    for (const clockSkewSeconds of [301, -1, 0.5]) {
      const app = Fastify();
      await assert.rejects(async () => {
        await app.register(authPlugin, { secret: TEST_SECRET, clockSkewSeconds });
        await app.ready();
      }, /clockSkewSeconds/);
      await app.close();
    }
  });
});

describe('tokens only in the Authorization header', () => {
  let s: Started;
  const t = hs256(claims({ scope: 'predict admin' }));
  before(async () => {
    s = await startServer(env(), false);
  });
  after(() => s.close());

  const attempts: [string, { url: string; method?: 'GET' | 'POST'; headers?: Record<string, string>; payload?: object }][] = [
    ['?access_token=', { url: `/v2?access_token=${t}` }],
    ['?token=', { url: `/v2?token=${t}` }],
    ['?jwt= on an admin route', { url: `/admin/models?jwt=${t}` }],
    ['a cookie', { url: '/v2', headers: { cookie: `token=${t}; access_token=${t}; jwt=${t}; authorization=Bearer%20${t}` } }],
    ['an X-Access-Token header', { url: '/v2', headers: { 'x-access-token': t } }],
    ['a JSON body field', { url: '/v2/models/digits/infer', method: 'POST', payload: { access_token: t, inputs: [] } }],
    ['the Authorization header without the Bearer scheme', { url: '/v2', headers: { authorization: t } }],
    ['the Authorization header with the Token scheme', { url: '/v2', headers: { authorization: `Token ${t}` } }],
    ['the Authorization header with the Basic scheme', { url: '/v2', headers: { authorization: `Basic ${Buffer.from(`${t}:`).toString('base64')}` } }],
  ];
  for (const [where, req] of attempts) {
    it(`does not accept a valid token sent in ${where}: 401`, async () => {
      const res = await s.app.inject({ method: req.method ?? 'GET', url: req.url, headers: req.headers ?? {}, ...(req.payload ? { payload: req.payload } : {}) });
      assert.equal(res.statusCode, 401, res.body);
      assert.match(String(res.headers['www-authenticate']), /^Bearer\b/);
    });
  }

  it('accepts the same token in the Authorization header (the cases above would fail for the right reason)', async () => {
    assert.equal((await status(s, t)).status, 200);
    assert.equal((await s.app.inject({ method: 'GET', url: '/v2', headers: { authorization: `bearer ${t}` } })).statusCode, 200);
  });
});
