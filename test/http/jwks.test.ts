// Bearer tokens verified with keys from a JSON Web Key Set (JWKS_URL) served by this test on loopback: keys chosen
// by kid with algorithms pinned per key, rotation (unknown kid refetch, cache period), a rate-limited refetch for
// unknown kids, an identity provider that is down, and the hostile tokens (alg none, HS/RS confusion, HS keys).
import assert from 'node:assert/strict';
import { constants, createHmac, generateKeyPairSync, type KeyObject, randomUUID, sign } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import authPlugin, { addAuthEnforcement } from '../../src/http/auth.js';
import { installErrorHandlers } from '../../src/http/error-handler.js';
import { buildServer } from '../../src/http/server.js';
import { BUNDLED_MODELS, startServer, testConfig, type Started } from '../helpers/server.js';

const now = () => Math.floor(Date.now() / 1000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const b64u = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

interface Pair {
  kid: string;
  alg: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

function pair(kind: 'rsa' | 'P-256' | 'P-384' | 'P-521' | 'ed25519', kid = `${kind}-${randomUUID().slice(0, 8)}`): Pair {
  if (kind === 'rsa') return { kid, alg: 'RS256', ...generateKeyPairSync('rsa', { modulusLength: 2048 }) };
  if (kind === 'ed25519') return { kid, alg: 'EdDSA', ...generateKeyPairSync('ed25519') };
  const alg = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }[kind];
  return { kid, alg, ...generateKeyPairSync('ec', { namedCurve: kind }) };
}

/** The public JWK of a pair, with its kid (and more members, e.g. alg or use, when given). */
const jwk = (p: Pair, extra: object = {}) => ({ ...p.publicKey.export({ format: 'jwk' }), kid: p.kid, ...extra });

const claims = (extra: object = {}) => ({ sub: 'svc', scope: 'predict', iat: now(), exp: now() + 600, ...extra });

/** A JWS signed with node's crypto for the header's alg (RS*, ES* as r||s, EdDSA); header members as given. */
function signed(p: Pair, header: Record<string, unknown> = {}, payload: object = claims()): string {
  const h = { alg: p.alg, typ: 'JWT', kid: p.kid, ...header };
  const alg = String(h.alg);
  const input = `${b64u(h)}.${b64u(payload)}`;
  const hash = alg === 'EdDSA' ? null : `sha${alg.slice(2)}`;
  const key = alg.startsWith('ES') ? { key: p.privateKey, dsaEncoding: 'ieee-p1363' as const } : p.privateKey;
  return `${input}.${sign(hash, Buffer.from(input), key).toString('base64url')}`;
}

/** The same without a kid header. */
function withoutKid(p: Pair, payload: object = claims()): string {
  const input = `${b64u({ alg: p.alg, typ: 'JWT' })}.${b64u(payload)}`;
  return `${input}.${sign(p.alg === 'EdDSA' ? null : 'sha256', Buffer.from(input), p.alg.startsWith('ES') ? { key: p.privateKey, dsaEncoding: 'ieee-p1363' } : p.privateKey).toString('base64url')}`;
}

function crafted(header: object, payload: object, sig: (input: string) => string): string {
  const input = `${b64u(header)}.${b64u(payload)}`;
  return `${input}.${sig(input)}`;
}

/** A JWKS endpoint on 127.0.0.1: serves `keys` (or `status`/`raw`), counts the fetches. */
class JwksServer {
  keys: object[] = [];
  status = 200;
  raw: string | undefined;
  fetches = 0;
  private readonly server = http.createServer((_req, res) => {
    this.fetches++;
    if (this.status !== 200) {
      res.writeHead(this.status).end('unavailable');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(this.raw ?? JSON.stringify({ keys: this.keys }));
  });
  url = '';
  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/.well-known/jwks.json`;
    return this;
  }
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function get(app: FastifyInstance, token: string | undefined, url = '/v2') {
  const res = await app.inject({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.statusCode, headers: res.headers, text: res.body, error: res.statusCode >= 400 ? String((JSON.parse(res.body) as { error: unknown }).error) : '' };
}

function assertUnauthorized(res: Awaited<ReturnType<typeof get>>, reason?: RegExp): void {
  assert.equal(res.status, 401, res.text);
  assert.match(String(res.headers['www-authenticate']), /^Bearer\b/);
  if (reason) assert.match(res.error, reason);
}

/** An empty model repository starts in under a second; these tests probe GET /v2, which needs any valid token. */
const emptyRepository = fs.mkdtempSync(path.join(os.tmpdir(), 'ortserve-jwks-'));
after(() => fs.rmSync(emptyRepository, { recursive: true, force: true }));
const jwksEnv = (url: string, extra: Record<string, string> = {}) => ({ MODEL_REPOSITORY: emptyRepository, WARMUP: 'false', WORKER_THREADS: '1', JWT_SECRET: '', JWKS_URL: url, ...extra });

describe('a JWKS with RSA, EC P-256/P-384/P-521 and Ed25519 keys', () => {
  const rsa = pair('rsa');
  const p256 = pair('P-256');
  const p384 = pair('P-384');
  const p521 = pair('P-521');
  const ed = pair('ed25519');
  const rs384Only = pair('rsa');
  const stranger = pair('rsa');
  const hmacSecret = 'a-shared-secret-an-idp-should-never-publish';
  let jwks: JwksServer;
  let s: Started;
  before(async () => {
    jwks = await new JwksServer().start();
    jwks.keys = [
      jwk(rsa),
      jwk(p256),
      jwk(p384),
      jwk(p521),
      jwk(ed),
      jwk(rs384Only, { alg: 'RS384', use: 'sig' }),
      { kty: 'oct', kid: 'hs', k: Buffer.from(hmacSecret).toString('base64url'), alg: 'HS256' },
      jwk(pair('rsa', 'enc-key'), { use: 'enc' }),
    ];
    s = await startServer(jwksEnv(jwks.url), false);
  });
  after(async () => {
    await s.close();
    await jwks.close();
  });

  for (const [name, p] of [['RS256', rsa], ['ES256', p256], ['ES384', p384], ['ES512', p521], ['EdDSA', ed]] as const) {
    it(`accepts an ${name} token signed by the key its kid names`, async () => {
      const res = await get(s.app, signed(p));
      assert.equal(res.status, 200, res.text);
    });
  }

  it('accepts RS384 and RS512 from an RSA key whose JWK sets no alg', async () => {
    assert.equal((await get(s.app, signed(rsa, { alg: 'RS384' }))).status, 200);
    assert.equal((await get(s.app, signed(rsa, { alg: 'RS512' }))).status, 200);
  });

  it('pins a key whose JWK sets alg to exactly that algorithm', async () => {
    assert.equal((await get(s.app, signed(rs384Only, { alg: 'RS384' }))).status, 200);
    assertUnauthorized(await get(s.app, signed(rs384Only, { alg: 'RS256' })), /algorithm/);
    assertUnauthorized(await get(s.app, signed(rs384Only, { alg: 'RS512' })), /algorithm/);
  });

  it('rejects RSA-PSS (PS256) from an RSA key: RSA keys verify RS256/384/512 only', async () => {
    const t = crafted({ alg: 'PS256', typ: 'JWT', kid: rsa.kid }, claims(), (i) =>
      sign('sha256', Buffer.from(i), { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING }).toString('base64url'),
    );
    assertUnauthorized(await get(s.app, t), /algorithm/);
  });

  it('rejects a token whose kid names another key of the set', async () => {
    assertUnauthorized(await get(s.app, signed(p256, { kid: rsa.kid, alg: 'RS256' })));
    assertUnauthorized(await get(s.app, signed({ ...p256, kid: ed.kid })));
  });

  it('rejects an algorithm that does not fit the key its kid names (ES256 header on the P-384 key)', async () => {
    assertUnauthorized(await get(s.app, signed(p384, { alg: 'ES256' })), /algorithm/);
  });

  it('rejects an alg "none" token naming a key of the set, with or without a signature', async () => {
    assertUnauthorized(await get(s.app, crafted({ alg: 'none', typ: 'JWT', kid: rsa.kid }, claims(), () => '')));
    assertUnauthorized(await get(s.app, crafted({ alg: 'none', kid: rsa.kid }, claims(), () => 'c2ln')));
    assertUnauthorized(await get(s.app, crafted({ alg: 'none' }, claims(), () => '')));
  });

  it('rejects HS256 tokens whose HMAC secret is the RSA public key as PEM or as JWK JSON (algorithm confusion)', async () => {
    const pem = String(rsa.publicKey.export({ type: 'spki', format: 'pem' }));
    const pkcs1 = String(rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }));
    for (const secret of [pem, pem.trim(), pkcs1, JSON.stringify(jwk(rsa))]) {
      const t = crafted({ alg: 'HS256', typ: 'JWT', kid: rsa.kid }, claims(), (i) => createHmac('sha256', secret).update(i).digest('base64url'));
      assertUnauthorized(await get(s.app, t), /algorithm/);
    }
  });

  it('never uses a symmetric (kty "oct") key of the set, nor one published for encryption', async () => {
    const hs = crafted({ alg: 'HS256', typ: 'JWT', kid: 'hs' }, claims(), (i) => createHmac('sha256', hmacSecret).update(i).digest('base64url'));
    assertUnauthorized(await get(s.app, hs), /kid/);
  });

  it('rejects a key published with use "enc"', async () => {
    // The 'enc-key' JWK is ignored, so its kid is unknown (its private key is not at hand; any signature will do).
    assertUnauthorized(await get(s.app, signed({ ...stranger, kid: 'enc-key' })), /kid/);
  });

  it('rejects a token signed by a key outside the set', async () => {
    assertUnauthorized(await get(s.app, signed(stranger)), /kid/);
    assertUnauthorized(await get(s.app, signed({ ...stranger, kid: rsa.kid })), /signature/);
  });

  it('rejects a token without kid when the set holds several keys', async () => {
    assertUnauthorized(await get(s.app, withoutKid(rsa)), /no kid/);
  });

  it('rejects expired, not-yet-valid and exp-less tokens signed by a key of the set', async () => {
    assertUnauthorized(await get(s.app, signed(rsa, {}, claims({ exp: now() - 3600 }))), /expired/);
    assertUnauthorized(await get(s.app, signed(rsa, {}, claims({ nbf: now() + 3600 }))), /not yet valid/);
    const { exp: _exp, ...noExp } = claims();
    assertUnauthorized(await get(s.app, signed(rsa, {}, noExp)), /exp/);
  });

  it('honours the default clock skew of 30 s for exp and nbf', async () => {
    assert.equal((await get(s.app, signed(p256, {}, claims({ exp: now() - 10, nbf: now() + 10 })))).status, 200);
    assertUnauthorized(await get(s.app, signed(p256, {}, claims({ exp: now() - 60 }))), /expired/);
    assertUnauthorized(await get(s.app, signed(p256, {}, claims({ nbf: now() + 60 }))), /not yet valid/);
  });

  it('does not take the token from ?access_token=, ?token= or a cookie', async () => {
    const t = signed(rsa);
    assertUnauthorized(await get(s.app, undefined, `/v2?access_token=${t}`));
    assertUnauthorized(await get(s.app, undefined, `/v2?token=${t}`));
    const res = await s.app.inject({ method: 'GET', url: '/v2', headers: { cookie: `token=${t}; access_token=${t}; authorization=Bearer%20${t}` } });
    assert.equal(res.statusCode, 401);
  });

  it('refetches at most once for a flood of unknown kids (the identity provider is not hammered)', async () => {
    const before = jwks.fetches;
    for (let i = 0; i < 30; i++) assertUnauthorized(await get(s.app, signed({ ...stranger, kid: randomUUID() })), /kid/);
    await Promise.all(Array.from({ length: 30 }, async () => assertUnauthorized(await get(s.app, signed({ ...stranger, kid: randomUUID() })))));
    assert.ok(jwks.fetches - before <= 1, `${jwks.fetches - before} fetches`);
  });

  it('keeps answering tokens of known keys during the flood of unknown kids', async () => {
    assert.equal((await get(s.app, signed(ed))).status, 200);
  });
});

describe('a JWKS of one key', () => {
  const only = pair('P-256');
  let jwks: JwksServer;
  let s: Started;
  before(async () => {
    jwks = await new JwksServer().start();
    jwks.keys = [jwk(only)];
    s = await startServer(jwksEnv(jwks.url), false);
  });
  after(async () => {
    await s.close();
    await jwks.close();
  });

  it('accepts a token without kid signed by that key', async () => {
    assert.equal((await get(s.app, withoutKid(only))).status, 200);
  });

  it('still rejects a token without kid signed by another key', async () => {
    assertUnauthorized(await get(s.app, withoutKid(pair('P-256'))), /signature/);
  });
});

describe('key rotation', () => {
  let jwks: JwksServer;
  const a = pair('rsa', 'a');
  const b = pair('P-256', 'b');
  const c = pair('ed25519', 'c');
  before(async () => {
    jwks = await new JwksServer().start();
  });
  after(() => jwks.close());

  /** Runs `test` against a server started on the current key set, and closes it whatever happens. */
  async function withServer(extra: Record<string, string>, test: (s: Started) => Promise<void>): Promise<void> {
    const s = await startServer(jwksEnv(jwks.url, extra), false);
    try {
      await test(s);
    } finally {
      await s.close();
    }
  }

  it('verifies a new kid at once by refetching, and the old kid stops working after that refresh (cached or not)', async () => {
    jwks.keys = [jwk(a)];
    await withServer({}, async (s) => {
      const tokenA = signed(a);
      assert.equal((await get(s.app, tokenA)).status, 200);
      assert.equal((await get(s.app, tokenA)).status, 200, 'the verified token, from the cache');
      const fetched = jwks.fetches;
      jwks.keys = [jwk(b)];
      assert.equal((await get(s.app, signed(b))).status, 200, 'new kid before the cache period ends');
      assert.equal(jwks.fetches, fetched + 1);
      assertUnauthorized(await get(s.app, tokenA), /kid/);
      assertUnauthorized(await get(s.app, signed(a)), /kid/);
    });
  });

  it('stops accepting a key removed from the set once the cache period (JWKS_CACHE_MS) is over, cached tokens included', async () => {
    jwks.keys = [jwk(a), jwk(c)];
    await withServer({ JWKS_CACHE_MS: '1000' }, async (s) => {
      const tokenA = signed(a);
      const tokenC = signed(c);
      assert.equal((await get(s.app, tokenA)).status, 200);
      assert.equal((await get(s.app, tokenC)).status, 200);
      jwks.keys = [jwk(c)];
      assert.equal((await get(s.app, tokenA)).status, 200, 'within the cache period the set is not refetched');
      const fetched = jwks.fetches;
      await sleep(1100);
      assertUnauthorized(await get(s.app, tokenA), /kid/);
      assert.equal(jwks.fetches, fetched + 1, 'one refetch when the cache period was over');
      assert.equal((await get(s.app, tokenC)).status, 200);
    });
  });

  it('verifies with the new key material when a kid is reused for another key', async () => {
    jwks.keys = [jwk(a)];
    await withServer({ JWKS_CACHE_MS: '1000' }, async (s) => {
      const oldToken = signed(a);
      assert.equal((await get(s.app, oldToken)).status, 200);
      const a2 = pair('rsa', 'a');
      jwks.keys = [jwk(a2)];
      await sleep(1100);
      assertUnauthorized(await get(s.app, oldToken), /signature/);
      assert.equal((await get(s.app, signed(a2))).status, 200);
    });
  });
});

describe('an identity provider that does not answer', () => {
  it('lets the server start and be ready, answers 401 "cannot fetch signing keys" and logs why', async () => {
    const closed = await new JwksServer().start();
    const url = closed.url;
    await closed.close();
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    // The bundled models: readiness is about models, and they load whatever the identity provider does.
    const app = await buildServer(testConfig(jwksEnv(url, { MODEL_REPOSITORY: BUNDLED_MODELS })), { logger: pino({ level: 'info' }, stream) });
    try {
      await app.ortserve.loaded;
      const ready = await app.inject({ method: 'GET', url: '/v2/health/ready' });
      assert.equal(ready.statusCode, 200, ready.body);
      assert.equal((await app.inject({ method: 'GET', url: '/v2/models/digits/ready', headers: { authorization: `Bearer ${signed(pair('rsa'))}` } })).statusCode, 401);
      const res = await get(app, signed(pair('rsa')));
      assertUnauthorized(res, /cannot fetch signing keys/);
      assert.ok(!res.text.includes('127.0.0.1'), 'the body names no internal address');
      const logged = lines.map((l) => JSON.parse(l) as { level: number; msg: string; url?: string; err?: string });
      const failure = logged.find((l) => /cannot fetch the JWT signing keys/.test(l.msg));
      assert.ok(failure, lines.join(''));
      assert.equal(failure.level, 50);
      assert.equal(failure.url, url);
      assert.ok(failure.err);
    } finally {
      await app.close();
    }
  });

  for (const [name, setUp] of [
    ['answers 503', (j: JwksServer) => void (j.status = 503)],
    ['answers something that is not JSON', (j: JwksServer) => void (j.raw = '<html>login</html>')],
    ['answers JSON that is not a key set', (j: JwksServer) => void (j.raw = '{"issuer":"x"}')],
  ] as const) {
    it(`answers 401 "cannot fetch signing keys" (not 500) when the JWKS endpoint ${name}`, async () => {
      const jwks = await new JwksServer().start();
      setUp(jwks);
      const s = await startServer(jwksEnv(jwks.url), false);
      try {
        assertUnauthorized(await get(s.app, signed(pair('P-256'))), /cannot fetch signing keys/);
        assert.equal((await s.app.inject({ method: 'GET', url: '/v2/health/ready' })).statusCode, 200);
      } finally {
        await s.close();
        await jwks.close();
      }
    });
  }
});

describe('the JWKS source recovering and riding out an outage (auth plugin alone, short cooldown)', () => {
  const k = pair('ed25519');
  let jwks: JwksServer;
  let app: FastifyInstance;
  before(async () => {
    jwks = await new JwksServer().start();
    jwks.status = 503;
    app = Fastify();
    installErrorHandlers(app, 1024 * 1024);
    await app.register(authPlugin, { jwksUrl: jwks.url, jwksCacheMs: 600, jwksCooldownMs: 300 });
    addAuthEnforcement(app);
    app.get('/v2', { config: { auth: 'token' } }, async () => ({ ok: true }));
    await app.ready();
  });
  after(async () => {
    await app.close();
    await jwks.close();
  });

  it('answers 401 while the endpoint fails, and does not retry it on every request', async () => {
    assertUnauthorized(await get(app, signed(k)), /cannot fetch signing keys/);
    const fetched = jwks.fetches;
    for (let i = 0; i < 20; i++) assertUnauthorized(await get(app, signed(k)), /cannot fetch signing keys/);
    assert.ok(jwks.fetches - fetched <= 1, `${jwks.fetches - fetched} fetches`);
  });

  it('accepts tokens once the endpoint answers again, after the cooldown', async () => {
    jwks.status = 200;
    jwks.keys = [jwk(k)];
    await sleep(350);
    assert.equal((await get(app, signed(k))).status, 200);
  });

  it('keeps the last key set when a refresh fails, and retries', async () => {
    jwks.status = 500;
    await sleep(650);
    const fetched = jwks.fetches;
    assert.equal((await get(app, signed(k))).status, 200);
    assert.equal(jwks.fetches, fetched + 1, 'the refresh was attempted');
    jwks.status = 200;
    jwks.keys = [];
    await sleep(350);
    assertUnauthorized(await get(app, signed(k)), /kid/);
  });
});

describe('the auth plugin options', () => {
  it('refuses more than one key source and an out-of-range clock skew at registration', async () => {
    for (const opts of [{ secret: 'x'.repeat(32), jwksUrl: 'http://127.0.0.1:9/jwks' }, { jwksUrl: 'http://127.0.0.1:9/jwks', clockSkewSeconds: 301 }, {}]) {
      const app = Fastify();
      await assert.rejects(async () => {
        await app.register(authPlugin, opts);
        await app.ready();
      });
      await app.close();
    }
  });
});
