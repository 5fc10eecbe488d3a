// Security cases for bearer-token auth and scopes: HS256 (JWT_SECRET), RS256/ES256/EdDSA (JWT_PUBLIC_KEY_FILE),
// issuer/audience, hand-crafted hostile tokens (alg none, HS/RS confusion, tampering), scope boundaries per model.
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance, type InjectOptions } from 'fastify';
import authPlugin, { addAuthEnforcement } from '../../src/http/auth.js';
import { mintToken } from '../../src/http/token.js';
import { BUNDLED_MODELS, TEST_SECRET, startServer, token, type Started } from '../helpers/server.js';

const now = () => Math.floor(Date.now() / 1000);
const b64u = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** A token built by hand, for the shapes mintToken refuses to make. */
function craft(header: object, payload: object, signWith: ((input: string) => string) | null): string {
  const input = `${b64u(header)}.${b64u(payload)}`;
  return `${input}.${signWith ? signWith(input) : ''}`;
}
const hmac = (secret: string | Buffer) => (input: string) => createHmac('sha256', secret).update(input).digest('base64url');
const claims = (extra: object = {}) => ({ sub: 'mallory', scope: 'predict admin', iat: now(), exp: now() + 600, ...extra });

const digitsBody = { inputs: [{ name: 'image', shape: [1, 1, 8, 8], datatype: 'FP32', data: new Array(64).fill(0.5) }] };
/** One digits instance for the v1 route: [1, 8, 8]. */
const digitImage = [Array.from({ length: 8 }, () => new Array(8).fill(0.5))];
const cancerBody = { inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: new Array(30).fill(1) }] };

function bearer(t: string): Record<string, string> {
  return { authorization: `Bearer ${t}` };
}

async function call(app: FastifyInstance, opts: InjectOptions) {
  const res = await app.inject(opts);
  return { status: res.statusCode, headers: res.headers, text: res.body, json: () => JSON.parse(res.body) as Record<string, unknown> };
}

/** 401, `{"error": "..."}` only, a Bearer challenge, and the token not echoed. */
function assertUnauthorized(res: Awaited<ReturnType<typeof call>>, tok?: string): void {
  assert.equal(res.status, 401, res.text);
  const body = res.json();
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(typeof body.error, 'string');
  assert.ok((body.error as string).length > 0);
  assert.match(String(res.headers['www-authenticate']), /^Bearer\b/);
  if (tok) {
    assert.ok(!res.text.includes(tok), 'the body echoes the token');
    for (const part of tok.split('.').filter((p) => p.length > 8)) assert.ok(!res.text.includes(part), 'the body echoes part of the token');
  }
}

function assertForbidden(res: Awaited<ReturnType<typeof call>>, tok: string): void {
  assert.equal(res.status, 403, res.text);
  const body = res.json();
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(typeof body.error, 'string');
  assert.ok(!res.text.includes(tok), 'the body echoes the token');
}

/** Every registered route with its methods (HEAD left out), from Fastify's own route tree. */
function registeredRoutes(app: FastifyInstance): { method: string; url: string }[] {
  const out: { method: string; url: string }[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:│   |    )*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    const url = stack.join('');
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim())) {
      if (method && method !== 'HEAD') out.push({ method, url });
    }
  }
  return out;
}

function concreteUrl(url: string): string {
  let u = url.replace(/:version/g, '1').replace(/:model/g, 'digits').replace(/\*/g, 'x');
  if (u.startsWith('/v1/')) u = `${u}:predict`;
  return u;
}

// The console's static files load without a token (its data calls are admin routes, checked like any other).
const isPublic = (url: string) => url.startsWith('/v2/health/') || url === '/docs' || url.startsWith('/docs/') || url === '/metrics' || url.startsWith('/console');

describe('HS256 tokens (JWT_SECRET)', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ MODEL_REPOSITORY: BUNDLED_MODELS, WARMUP: 'false' }, false);
  });
  after(() => s.close());

  it('serves the health routes without a token', async () => {
    for (const url of ['/v2/health/live', '/v2/health/ready']) {
      const res = await call(s.app, { method: 'GET', url });
      assert.equal(res.status, 200, `${url}: ${res.text}`);
    }
  });

  it('requires a token on every registered route except health, /docs, /metrics and the console\'s static files', async () => {
    const routes = registeredRoutes(s.app);
    assert.ok(routes.some((r) => r.url === '/v2/models/:model/infer'), 'route listing parsed');
    let guarded = 0;
    for (const r of routes) {
      if (isPublic(r.url)) continue;
      const url = concreteUrl(r.url);
      const res = await call(s.app, { method: r.method as 'GET', url, ...(r.method === 'POST' ? { payload: digitsBody } : {}) });
      assertUnauthorized(res);
      guarded++;
    }
    assert.ok(guarded >= 9, `only ${guarded} guarded routes found`);
  });

  it('answers inference, metadata and the v1 route for a valid predict token', async () => {
    const t = token('predict');
    assert.equal((await call(s.app, { method: 'POST', url: '/v2/models/digits/infer', headers: bearer(t), payload: digitsBody })).status, 200);
    assert.equal((await call(s.app, { method: 'GET', url: '/v2/models/breast_cancer', headers: bearer(t) })).status, 200);
    assert.equal((await call(s.app, { method: 'POST', url: '/v1/models/breast_cancer:predict', headers: bearer(t), payload: { instances: [new Array(30).fill(1)] } })).status, 200);
  });

  const other = 'another-secret-that-is-long-enough';
  const cases: [string, () => Record<string, string>, () => string | undefined][] = [
    ['no Authorization header', () => ({}), () => undefined],
    ['a Basic scheme', () => ({ authorization: `Basic ${Buffer.from('user:pass').toString('base64')}` }), () => undefined],
    ['Bearer with nothing after it', () => ({ authorization: 'Bearer ' }), () => undefined],
    ['a token that is not a JWT', () => bearer('not-a-jwt'), () => 'not-a-jwt'],
    ['a token of three garbage segments', () => bearer('aaaa.bbbb.cccc'), () => undefined],
    ['a header and payload that are not JSON', () => bearer(`${Buffer.from('{nope').toString('base64url')}.${Buffer.from('nope}').toString('base64url')}.abc`), () => undefined],
  ];
  for (const [name, headers] of cases) {
    it(`rejects a request with ${name} with 401 and a Bearer challenge`, async () => {
      const res = await call(s.app, { method: 'POST', url: '/v2/models/digits/infer', headers: headers(), payload: digitsBody });
      assertUnauthorized(res);
    });
  }

  const hostile: [string, () => string][] = [
    ['a token signed with another secret', () => mintToken({ secret: other }, { sub: 'mallory', scope: 'predict', expiresInSeconds: 600 })],
    ['a token whose payload was changed after signing', () => {
      const [h, , sig] = token('predict:breast_cancer', 'mallory').split('.');
      return `${h}.${b64u(claims({ scope: 'predict' }))}.${sig}`;
    }],
    ['a token whose signature was removed', () => token('predict').split('.').slice(0, 2).join('.') + '.'],
    ['an expired token', () => mintToken({ secret: TEST_SECRET }, { sub: 'mallory', scope: 'predict', expiresInSeconds: 60 }, now() - 3600)],
    ['a token without exp', () => craft({ alg: 'HS256', typ: 'JWT' }, { sub: 'mallory', scope: 'predict', iat: now() }, hmac(TEST_SECRET))],
    ['a token that is not valid yet (nbf)', () => craft({ alg: 'HS256', typ: 'JWT' }, claims({ nbf: now() + 3600 }), hmac(TEST_SECRET))],
    ['a token without sub', () => craft({ alg: 'HS256', typ: 'JWT' }, { scope: 'predict', iat: now(), exp: now() + 600 }, hmac(TEST_SECRET))],
    ['an alg "none" token', () => craft({ alg: 'none', typ: 'JWT' }, claims(), null)],
    ['an alg "none" token with a signature', () => craft({ alg: 'none', typ: 'JWT' }, claims(), hmac(TEST_SECRET))],
    ['an HS512 token signed with the right secret', () => craft({ alg: 'HS512', typ: 'JWT' }, claims(), (i) => createHmac('sha512', TEST_SECRET).update(i).digest('base64url'))],
  ];
  for (const [name, make] of hostile) {
    it(`rejects ${name} with 401 without echoing it`, async () => {
      const t = make();
      const res = await call(s.app, { method: 'POST', url: '/v2/models/digits/infer', headers: bearer(t), payload: digitsBody });
      assertUnauthorized(res, t);
    });
  }

  it('explains an expired token as expired', async () => {
    const t = mintToken({ secret: TEST_SECRET }, { sub: 'mallory', scope: 'predict', expiresInSeconds: 60 }, now() - 3600);
    const res = await call(s.app, { method: 'GET', url: '/v2/models/digits', headers: bearer(t) });
    assertUnauthorized(res, t);
    assert.match(String(res.json().error), /expired/);
  });

  it('does not accept a valid token passed as ?access_token= instead of the header', async () => {
    const t = token('predict');
    assertUnauthorized(await call(s.app, { method: 'GET', url: `/v2/models/digits?access_token=${t}` }), t);
    assertUnauthorized(await call(s.app, { method: 'POST', url: `/v2/models/digits/infer?access_token=${t}`, payload: digitsBody }), t);
  });

  it('refuses inference to a token that holds only admin (scopes do not imply each other)', async () => {
    const t = token('admin');
    assertForbidden(await call(s.app, { method: 'POST', url: '/v2/models/digits/infer', headers: bearer(t), payload: digitsBody }), t);
    assertForbidden(await call(s.app, { method: 'GET', url: '/v2/models/digits', headers: bearer(t) }), t);
  });

  it('refuses a token with no scope claim with 403', async () => {
    const t = craft({ alg: 'HS256', typ: 'JWT' }, { sub: 'noscope', iat: now(), exp: now() + 600 }, hmac(TEST_SECRET));
    assertForbidden(await call(s.app, { method: 'POST', url: '/v2/models/digits/infer', headers: bearer(t), payload: digitsBody }), t);
  });

  it('lets predict:<model> use that model only, on every route family', async () => {
    const t = token('predict:digits', 'digits-only');
    const h = bearer(t);
    assert.equal((await call(s.app, { method: 'POST', url: '/v2/models/digits/infer', headers: h, payload: digitsBody })).status, 200);
    assert.equal((await call(s.app, { method: 'POST', url: '/v2/models/digits/versions/1/infer', headers: h, payload: digitsBody })).status, 200);
    assert.equal((await call(s.app, { method: 'GET', url: '/v2/models/digits', headers: h })).status, 200);
    assert.equal((await call(s.app, { method: 'GET', url: '/v2/models/digits/ready', headers: h })).status, 200);
    assert.equal((await call(s.app, { method: 'POST', url: '/v1/models/digits:predict', headers: h, payload: { instances: [digitImage] } })).status, 200);
    assert.equal((await call(s.app, { method: 'POST', url: '/v1/models/digits/versions/1:predict', headers: h, payload: { instances: [digitImage] } })).status, 200);

    assertForbidden(await call(s.app, { method: 'POST', url: '/v2/models/breast_cancer/infer', headers: h, payload: cancerBody }), t);
    assertForbidden(await call(s.app, { method: 'POST', url: '/v2/models/breast_cancer/versions/1/infer', headers: h, payload: cancerBody }), t);
    assertForbidden(await call(s.app, { method: 'GET', url: '/v2/models/breast_cancer', headers: h }), t);
    assertForbidden(await call(s.app, { method: 'GET', url: '/v2/models/breast_cancer/versions/2', headers: h }), t);
    assertForbidden(await call(s.app, { method: 'GET', url: '/v2/models/breast_cancer/ready', headers: h }), t);
    assertForbidden(await call(s.app, { method: 'POST', url: '/v1/models/breast_cancer:predict', headers: h, payload: { instances: [new Array(30).fill(1)] } }), t);
    assertForbidden(await call(s.app, { method: 'POST', url: '/v1/models/breast_cancer/versions/1:predict', headers: h, payload: { instances: [new Array(30).fill(1)] } }), t);
  });

  it('does not let a model scope reach another model through an encoded or look-alike name', async () => {
    const t = token('predict:digits', 'digits-only');
    const h = bearer(t);
    for (const url of ['/v2/models/breast%5Fcancer', '/v2/models/digits%2F..%2Fbreast_cancer']) {
      const res = await call(s.app, { method: 'GET', url, headers: h });
      assert.ok(res.status === 403 || res.status === 404, `${url}: ${res.status} ${res.text}`);
    }
    const v1 = await call(s.app, { method: 'POST', url: '/v1/models/breast_cancer:digits:predict', headers: h, payload: { instances: [new Array(30).fill(1)] } });
    assert.ok(v1.status === 403 || v1.status === 404, `${v1.status} ${v1.text}`);
  });

  for (const scope of ['predictor', 'predict:digit', 'predict:digits2', 'PREDICT', 'predict:*', 'predict,admin', 'predict:']) {
    it(`matches scopes as whole words: '${scope}' does not grant digits`, async () => {
      const t = token(scope);
      assertForbidden(await call(s.app, { method: 'POST', url: '/v2/models/digits/infer', headers: bearer(t), payload: digitsBody }), t);
    });
  }

  it('reads several space-separated scopes', async () => {
    const t = token('admin predict:breast_cancer  predict:digits');
    assert.equal((await call(s.app, { method: 'POST', url: '/v2/models/digits/infer', headers: bearer(t), payload: digitsBody })).status, 200);
    assert.equal((await call(s.app, { method: 'POST', url: '/v2/models/breast_cancer/infer', headers: bearer(t), payload: cancerBody })).status, 200);
  });
});

describe('issuer and audience (JWT_ISSUER, JWT_AUDIENCE)', () => {
  let s: Started;
  const iss = 'https://issuer.example';
  const aud = 'ortserve';
  before(async () => {
    s = await startServer({ MODEL_REPOSITORY: BUNDLED_MODELS, WARMUP: 'false', JWT_ISSUER: iss, JWT_AUDIENCE: aud }, false);
  });
  after(() => s.close());

  const mint = (issuer?: string, audience?: string) => mintToken({ secret: TEST_SECRET }, { sub: 'svc', scope: 'predict', expiresInSeconds: 600, issuer, audience });
  const get = (t: string) => call(s.app, { method: 'GET', url: '/v2/models/digits', headers: bearer(t) });

  it('accepts a token with the configured issuer and audience', async () => {
    assert.equal((await get(mint(iss, aud))).status, 200);
  });

  it('accepts an audience array that contains the configured audience', async () => {
    const t = craft({ alg: 'HS256', typ: 'JWT' }, claims({ iss, aud: ['other', aud] }), hmac(TEST_SECRET));
    assert.equal((await get(t)).status, 200);
  });

  it('rejects a wrong issuer with 401', async () => {
    const t = mint('https://evil.example', aud);
    assertUnauthorized(await get(t), t);
  });

  it('rejects a wrong audience with 401', async () => {
    const t = mint(iss, 'someone-else');
    assertUnauthorized(await get(t), t);
  });

  it('rejects a token without iss when JWT_ISSUER is set', async () => {
    const t = mint(undefined, aud);
    assertUnauthorized(await get(t), t);
  });

  it('rejects a token without aud when JWT_AUDIENCE is set', async () => {
    const t = mint(iss, undefined);
    assertUnauthorized(await get(t), t);
  });
});

describe('public-key verification (JWT_PUBLIC_KEY_FILE)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ortserve-auth-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const pem = (k: { export(o: object): string | Buffer }, type: 'spki' | 'pkcs8') => String(k.export({ type, format: 'pem' }));
  const keyTypes = [
    ['RS256', () => generateKeyPairSync('rsa', { modulusLength: 2048 })],
    ['ES256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' })],
    ['ES384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' })],
    ['ES512', () => generateKeyPairSync('ec', { namedCurve: 'P-521' })],
    ['EdDSA', () => generateKeyPairSync('ed25519')],
  ] as const;

  for (const [alg, generate] of keyTypes) {
    describe(`${alg}`, () => {
      const pair = generate();
      const stranger = generate();
      const publicPem = pem(pair.publicKey, 'spki');
      const keyFile = path.join(dir, `${alg}.pem`);
      let s: Started;
      before(async () => {
        fs.writeFileSync(keyFile, publicPem);
        s = await startServer({ MODEL_REPOSITORY: BUNDLED_MODELS, WARMUP: 'false', JWT_SECRET: '', JWT_PUBLIC_KEY_FILE: keyFile }, false);
      });
      after(() => s.close());
      const get = (t: string) => call(s.app, { method: 'GET', url: '/v2/models/digits', headers: bearer(t) });

      it(`accepts a token signed with the matching private key`, async () => {
        const t = mintToken({ privateKeyPem: pem(pair.privateKey, 'pkcs8') }, { sub: 'svc', scope: 'predict', expiresInSeconds: 600 });
        assert.equal(JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString()).alg, alg);
        const res = await get(t);
        assert.equal(res.status, 200, res.text);
      });

      it('rejects a token signed with another private key', async () => {
        const t = mintToken({ privateKeyPem: pem(stranger.privateKey, 'pkcs8') }, { sub: 'svc', scope: 'predict', expiresInSeconds: 600 });
        assertUnauthorized(await get(t), t);
      });

      it('rejects an HS256 token whose HMAC secret is the public key PEM (algorithm confusion)', async () => {
        for (const secret of [publicPem, publicPem.trim(), Buffer.from(publicPem)]) {
          const t = craft({ alg: 'HS256', typ: 'JWT' }, claims(), hmac(secret));
          assertUnauthorized(await get(t), t);
        }
      });

      it('rejects an HS256 token signed with the test secret', async () => {
        const t = token('predict');
        assertUnauthorized(await get(t), t);
      });

      it('rejects an alg "none" token', async () => {
        const t = craft({ alg: 'none', typ: 'JWT' }, claims(), null);
        assertUnauthorized(await get(t), t);
      });

      it('rejects an expired token signed with the right key', async () => {
        const t = mintToken({ privateKeyPem: pem(pair.privateKey, 'pkcs8') }, { sub: 'svc', scope: 'predict', expiresInSeconds: 60 }, now() - 3600);
        assertUnauthorized(await get(t), t);
      });
    });
  }

  it('rejects an RS256 header on a token signed by an ES256 key (algorithm pinned to the key type)', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keyFile = path.join(dir, 'ec-pinned.pem');
    fs.writeFileSync(keyFile, pem(ec.publicKey, 'spki'));
    const s = await startServer({ MODEL_REPOSITORY: BUNDLED_MODELS, WARMUP: 'false', JWT_SECRET: '', JWT_PUBLIC_KEY_FILE: keyFile }, false);
    try {
      const t = craft({ alg: 'RS256', typ: 'JWT' }, claims(), (i) => sign('sha256', Buffer.from(i), ec.privateKey).toString('base64url'));
      assertUnauthorized(await call(s.app, { method: 'GET', url: '/v2/models/digits', headers: bearer(t) }), t);
    } finally {
      await s.close();
    }
  });
});

describe('the auth plugin on its own', () => {
  let app: FastifyInstance;
  before(async () => {
    app = Fastify();
    await app.register(authPlugin, { secret: TEST_SECRET });
    app.get('/early', { config: { auth: 'predict' } }, async () => ({ ok: true }));
    addAuthEnforcement(app);
    app.get('/late', { config: { auth: 'predict' } }, async () => ({ ok: true }));
    app.get('/undeclared', async () => ({ ok: true }));
    app.get('/open', { config: { auth: 'public' } }, async () => ({ ok: true }));
    await app.ready();
  });
  after(() => app.close());

  it('enforces a route registered before the enforcement hook was added', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/early' })).statusCode, 401);
    assert.equal((await app.inject({ method: 'GET', url: '/early', headers: bearer(token('predict')) })).statusCode, 200);
  });

  it('enforces a route registered after the enforcement hook was added', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/late' })).statusCode, 401);
    assert.equal((await app.inject({ method: 'GET', url: '/late', headers: bearer(token('predict')) })).statusCode, 200);
  });

  it('fails closed for a route that declares no auth: it needs admin', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/undeclared' })).statusCode, 401);
    assert.equal((await app.inject({ method: 'GET', url: '/undeclared', headers: bearer(token('predict')) })).statusCode, 403);
    assert.equal((await app.inject({ method: 'GET', url: '/undeclared', headers: bearer(token('admin')) })).statusCode, 200);
  });

  it('leaves public routes and unknown URLs to answer without a token', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/open' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/nowhere' })).statusCode, 404);
  });
});
