// Bearer-token authentication (@fastify/jwt) and OAuth 2.0 scopes. A route declares what it needs in its config:
// `auth: 'public'` (no token), `'token'` (any valid token), `'predict'` (scope `predict` or `predict:<model>` for the route's model), or
// `'admin'`. Scopes do not imply each other. Missing/invalid/expired token -> 401; valid token lacking the scope -> 403.
// Verification and enforcement are two hooks so that the rate limiter between them can key on the token's `sub`.
// Tokens (RFC 8725): only from the Authorization header; algorithms pinned to the key (no `none`, no HS/RS confusion);
// exp required, nbf honoured, both with a bounded clock skew; iss/aud required when configured.
import { createPublicKey } from 'node:crypto';
import fs from 'node:fs';
import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ERR_FORBIDDEN, ERR_UNAUTHORIZED } from '../errors.js';
import { algorithmsOfKey, JwksError, JwksKeySource, type SigningKey } from './jwks.js';
import { BoundedMap } from '../bounded-map.js';

export type RouteAuth = 'public' | 'token' | 'predict' | 'admin';

export interface Principal {
  sub: string;
  scopes: ReadonlySet<string>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
    /** Which model a `predict` route addresses, when it is not simply the `model` path parameter. */
    modelOf?: (params: Record<string, string | undefined>) => string | undefined;
  }
  interface FastifyRequest {
    principal: Principal | null;
    authFailure: string | null;
  }
}

/** Exactly one key source: `secret`, `publicKeyFile` or `jwksUrl`. */
export interface AuthOptions {
  /** HS256 secret. */
  secret?: string;
  /** PEM public key for RS256, ES256 or EdDSA verification. */
  publicKeyFile?: string;
  /** JSON Web Key Set URL (JWKS_URL): RSA, EC and Ed25519 keys chosen by the token's `kid`. */
  jwksUrl?: string;
  /** How long a fetched key set is used before a request refetches it (JWKS_CACHE_MS); default 10 minutes. */
  jwksCacheMs?: number;
  /** Minimum time between key set fetches that tokens trigger (unknown kid, retry after a failure); default 5 s. */
  jwksCooldownMs?: number;
  /** Leeway for exp and nbf, 0-300 (JWT_CLOCK_SKEW_SECONDS); default 30. */
  clockSkewSeconds?: number;
  issuer?: string;
  audience?: string;
}

const DEFAULT_JWKS_CACHE_MS = 10 * 60 * 1000;
const DEFAULT_JWKS_COOLDOWN_MS = 5000;
const JWKS_FETCH_TIMEOUT_MS = 5000;
const DEFAULT_CLOCK_SKEW_SECONDS = 30;
const MAX_CLOCK_SKEW_SECONDS = 300;

/** Reads and parses the key at start, so that a bad file stops the start with a reason naming the variable. */
function readPublicKey(file: string): string {
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read JWT_PUBLIC_KEY_FILE '${file}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    createPublicKey(pem);
  } catch {
    throw new Error(`JWT_PUBLIC_KEY_FILE '${file}' does not hold a PEM public key (RSA, EC or Ed25519, "-----BEGIN PUBLIC KEY-----")`);
  }
  try {
    algorithmsFor(pem);
  } catch (err) {
    throw new Error(`JWT_PUBLIC_KEY_FILE '${file}': ${(err as Error).message} (use RSA, EC P-256/P-384/P-521 or Ed25519)`);
  }
  return pem;
}

/** The algorithms a key may verify, pinned to its type (no `none`, no HS/RS confusion). */
export function algorithmsFor(publicKeyPem: string): string[] {
  return algorithmsOfKey(createPublicKey(publicKeyPem));
}

/** What a route needs; a route that declares nothing needs `admin` (fail closed), an unknown URL is a plain 404. */
function routeAuth(req: FastifyRequest): RouteAuth {
  if (req.is404) return 'public';
  return req.routeOptions.config.auth ?? 'admin';
}

function bearerToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer[ ]+([A-Za-z0-9\-_=]+\.[A-Za-z0-9\-_=]*\.[A-Za-z0-9\-_.+/=]*)\s*$/i.exec(h);
  return m?.[1];
}

/** True when the principal may call a route of this kind for this model. */
export function allows(p: Principal, auth: RouteAuth, model: string | undefined): boolean {
  if (auth === 'public' || auth === 'token') return true;
  if (auth === 'admin') return p.scopes.has('admin');
  return p.scopes.has('predict') || (model !== undefined && p.scopes.has(`predict:${model}`));
}

interface Claims {
  sub?: unknown;
  scope?: unknown;
  exp?: unknown;
}

/** A token that passed every check; `key` (JWKS only) is the key that verified it, for a token with that `kid`. */
interface Verified {
  principal: Principal;
  expiresAtMs: number;
  kid?: string | undefined;
  key?: SigningKey;
}

function checkOptions(opts: AuthOptions): void {
  const sources = [opts.secret && 'secret', opts.publicKeyFile && 'publicKeyFile', opts.jwksUrl && 'jwksUrl'].filter(Boolean);
  if (sources.length === 0) throw new Error('auth needs a secret, a public key file or a JWKS URL');
  if (sources.length > 1) throw new Error(`auth needs exactly one key source, got ${sources.join(' and ')}`);
  const skew = opts.clockSkewSeconds;
  if (skew !== undefined && !(Number.isInteger(skew) && skew >= 0 && skew <= MAX_CLOCK_SKEW_SECONDS)) {
    throw new Error(`clockSkewSeconds must be an integer from 0 to ${MAX_CLOCK_SKEW_SECONDS}, got ${skew}`);
  }
  for (const name of ['jwksCacheMs', 'jwksCooldownMs'] as const) {
    const v = opts[name];
    if (v !== undefined && !(Number.isInteger(v) && v >= 0)) throw new Error(`${name} must be a non-negative integer, got ${v}`);
  }
}

async function authPlugin(app: FastifyInstance, opts: AuthOptions): Promise<void> {
  checkOptions(opts);
  const clockToleranceMs = (opts.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS) * 1000;
  const verifyOptions = {
    // fast-jwt checks iss/aud only when present; a configured issuer or audience must be required too.
    requiredClaims: ['exp', ...(opts.issuer ? ['iss'] : []), ...(opts.audience ? ['aud'] : [])],
    // In milliseconds (fast-jwt adds it to exp*1000 and subtracts it from nbf*1000; @fastify/jwt passes it through).
    clockTolerance: clockToleranceMs,
    // Off: the `verified` map below caches successes, and fast-jwt would cache failures for clockTolerance ms
    // (its error entries live now + clockTolerance + errorCacheTTL), keeping a token whose nbf just passed refused.
    cache: false,
    ...(opts.issuer ? { allowedIss: opts.issuer } : {}),
    ...(opts.audience ? { allowedAud: opts.audience } : {}),
  };

  let jwks: JwksKeySource | undefined;
  /** The key and kid a request's token was verified with (JWKS only), from the key function to the hook. */
  const verifiedWith = new WeakMap<FastifyRequest, { kid: string | undefined; key: SigningKey }>();
  if (opts.jwksUrl) {
    const source = new JwksKeySource({
      url: opts.jwksUrl,
      cacheMs: opts.jwksCacheMs ?? DEFAULT_JWKS_CACHE_MS,
      cooldownMs: opts.jwksCooldownMs ?? DEFAULT_JWKS_COOLDOWN_MS,
      timeoutMs: JWKS_FETCH_TIMEOUT_MS,
      log: app.log,
    });
    jwks = source;
    await app.register(fastifyJwt, {
      // Called per verification with the decoded header; the returned PEM's own type pins fast-jwt's algorithms
      // too (its verifier per key is cached by @fastify/jwt), and keyFor pins them to the JWK (`alg`, curve).
      secret: async (req: FastifyRequest, decoded: { header?: { kid?: unknown; alg?: unknown } } | object) => {
        const header = 'header' in decoded && decoded.header ? decoded.header : {};
        const key = await source.keyFor(header);
        verifiedWith.set(req, { kid: header.kid as string | undefined, key });
        return key.pem;
      },
      decode: { complete: true },
      verify: { ...verifyOptions, extractToken: bearerToken } as never,
    });
    // Not awaited: the server starts whether or not the identity provider answers (readiness is about models);
    // requests wait for a fetch in flight, and get 401 "cannot fetch signing keys" while there is no key set.
    void source.start();
    app.addHook('onClose', async () => source.close());
  } else {
    let key: string | { public: string };
    let algorithms: string[];
    if (opts.publicKeyFile) {
      const pem = readPublicKey(opts.publicKeyFile);
      algorithms = algorithmsFor(pem);
      key = { public: pem };
    } else {
      key = opts.secret!;
      algorithms = ['HS256'];
    }
    await app.register(fastifyJwt, { secret: key, verify: { ...verifyOptions, algorithms: algorithms as never } });
  }

  // Verified tokens by their exact text, until their exp: a client sends the same token on every request, and
  // fast-jwt's own cache hashes the token each time (its docs: ~10x slower than an identity key). Only tokens that
  // passed every check are kept, and nbf has passed for them (it was checked), so exp is all that can change; with
  // a JWKS also the key set: an entry counts only while the current set (within JWKS_CACHE_MS of its fetch) still
  // picks the same key for the token's kid, so a key removed from the set stops working at the same refresh for
  // cached tokens as for new ones.
  const verified = new BoundedMap<string, Verified>(10_000);

  app.decorateRequest('principal', null);
  app.decorateRequest('authFailure', null);

  /** Records verified claims on the request (principal, or the reason in authFailure) and caches the token. */
  const accept = (req: FastifyRequest, token: string, claims: Claims): void => {
    const sub = typeof claims.sub === 'string' && claims.sub !== '' ? claims.sub : undefined;
    if (!sub) {
      req.authFailure = 'token has no sub claim';
      return;
    }
    const scopes = new Set(typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : []);
    req.principal = { sub, scopes };
    const usedKey = jwks ? verifiedWith.get(req) : undefined;
    if (typeof claims.exp === 'number' && (!jwks || usedKey)) {
      verified.set(token, { principal: req.principal, expiresAtMs: claims.exp * 1000 + clockToleranceMs, ...usedKey });
    }
  };

  // 1. Verify: who is calling (no rejection yet, so the rate limiter can key on it). Callback-style: a cached
  // token (nearly every request) is accepted without a promise; only a JWKS verification waits.
  app.addHook('onRequest', (req, _reply, done) => {
    if (routeAuth(req) === 'public') return done();
    const token = bearerToken(req);
    if (!token) {
      req.authFailure = 'missing bearer token: send Authorization: Bearer <JWT>';
      return done();
    }
    const cached = verified.get(token);
    if (cached && cached.expiresAtMs > Date.now() && (cached.key === undefined || jwks!.holds(cached.kid, cached.key))) {
      req.principal = cached.principal;
      return done();
    }
    if (jwks) {
      req.jwtVerify<Claims>().then(
        (claims) => {
          try {
            accept(req, token, claims);
          } catch (err) {
            req.authFailure = describeJwtError(err);
          }
          done();
        },
        (err: unknown) => {
          req.authFailure = describeJwtError(err);
          done();
        },
      );
      return;
    }
    try {
      accept(req, token, app.jwt.verify<Claims>(token));
    } catch (err) {
      req.authFailure = describeJwtError(err);
    }
    done();
  });
}

/** The refusal for this request (401 or 403), or undefined when its token may use the route. */
function refusal(req: FastifyRequest, reply: FastifyReply): Error | undefined {
  const auth = routeAuth(req);
  if (auth === 'public') return undefined;
  if (!req.principal) {
    reply.header('WWW-Authenticate', 'Bearer');
    return new ERR_UNAUTHORIZED(req.authFailure ?? 'unauthorized');
  }
  const params = (req.params ?? {}) as Record<string, string | undefined>;
  const modelOf = req.routeOptions.config.modelOf;
  const model = modelOf ? modelOf(params) : params.model;
  if (!allows(req.principal, auth, model)) {
    const needed = auth === 'admin' ? "scope 'admin'" : `scope 'predict' or 'predict:${model ?? '<model>'}'`;
    return new ERR_FORBIDDEN(`token for '${req.principal.sub}' lacks ${needed}`);
  }
  return undefined;
}

/** Callback-style onRequest hook (no promise per request): refuses with 401/403 through the error handler. */
function enforce(req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void {
  const err = refusal(req, reply);
  if (err) done(err);
  else done();
}

const ENFORCED = Symbol('ortserve.authEnforcedPerRoute');

/**
 * 2. Enforce: call after registering the rate limiter. Fastify runs every app-level onRequest hook before any
 * route-level one, and @fastify/rate-limit adds its hook per route (onRoute), so an app-level enforcement hook
 * would reject unauthenticated callers before the limiter counts them. Enforcement is therefore appended to each
 * route's own hooks after the limiter's; the app-level hook covers a route registered before this call (and 404s).
 */
export function addAuthEnforcement(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const hooks = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? [...route.onRequest] : [route.onRequest];
    if (!hooks.includes(enforce)) hooks.push(enforce);
    route.onRequest = hooks;
    route.config = { ...(route.config ?? {}), [ENFORCED]: true } as typeof route.config;
  });
  app.addHook('onRequest', (req, reply, done) => {
    if ((req.routeOptions.config as unknown as Record<symbol, unknown>)[ENFORCED] !== true) enforce(req, reply, done);
    else done();
  });
}

/** A reason for the 401 body: never the token, never a stack; fast-jwt's codes, also when @fastify/jwt wraps them. */
function describeJwtError(err: unknown): string {
  if (err instanceof JwksError) return err.message;
  const code = (err as { code?: string }).code ?? '';
  const message = (err as { message?: string }).message ?? '';
  if (code.includes('EXPIRED')) return 'token expired';
  if (code.includes('INACTIVE')) return 'token not yet valid (nbf)';
  if (code.includes('MISSING_REQUIRED_CLAIM') || /claim is required/.test(message)) return `token is missing a required claim (${/The (\w+) claim/.exec(message)?.[1] ?? 'exp'})`;
  if (code.includes('INVALID_ALGORITHM') || /Invalid public key provided for algorithms/.test(message)) return 'token algorithm not accepted';
  if (code.includes('INVALID_CLAIM') || /claim value is not allowed|None of \w+ claim values/.test(message)) return 'token issuer or audience not accepted';
  if (code.includes('INVALID_SIGNATURE') || /signature is invalid/.test(message)) return 'token signature is invalid';
  if (code.includes('MISSING_SIGNATURE')) return 'token is not signed';
  return 'token is invalid';
}

export default fp(authPlugin, { name: 'ortserve-auth', fastify: '5.x' });
