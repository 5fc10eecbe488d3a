// Bearer-token authentication (@fastify/jwt) and OAuth 2.0 scopes. A route declares what it needs in its config:
// `auth: 'public'` (no token), `'token'` (any valid token), `'predict'` (scope `predict` or `predict:<model>` for the route's model), or
// `'admin'`. Scopes do not imply each other. Missing/invalid/expired token -> 401; valid token lacking the scope -> 403.
// Verification and enforcement are two hooks so that the rate limiter between them can key on the token's `sub`.
import { createPublicKey } from 'node:crypto';
import fs from 'node:fs';
import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ERR_FORBIDDEN, ERR_UNAUTHORIZED } from '../errors.js';

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

export interface AuthOptions {
  /** HS256 secret. */
  secret?: string;
  /** PEM public key for RS256, ES256 or EdDSA verification. */
  publicKeyFile?: string;
  issuer?: string;
  audience?: string;
}

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
  const key = createPublicKey(publicKeyPem);
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512'];
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1' || curve === 'P-256') return ['ES256'];
      if (curve === 'secp384r1' || curve === 'P-384') return ['ES384'];
      if (curve === 'secp521r1' || curve === 'P-521') return ['ES512'];
      throw new Error(`unsupported EC curve ${curve}`);
    }
    case 'ed25519':
      return ['EdDSA'];
    default:
      throw new Error(`unsupported public key type ${key.asymmetricKeyType}`);
  }
}

/** A Map that forgets its oldest entry beyond `max` entries. */
class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly max: number) {
    super();
  }
  override set(key: K, value: V): this {
    if (!this.has(key) && this.size >= this.max) this.delete(this.keys().next().value as K);
    return super.set(key, value);
  }
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

async function authPlugin(app: FastifyInstance, opts: AuthOptions): Promise<void> {
  let key: string | { public: string };
  let algorithms: string[];
  if (opts.publicKeyFile) {
    const pem = readPublicKey(opts.publicKeyFile);
    algorithms = algorithmsFor(pem);
    key = { public: pem };
  } else if (opts.secret) {
    key = opts.secret;
    algorithms = ['HS256'];
  } else {
    throw new Error('auth needs a secret or a public key file');
  }
  await app.register(fastifyJwt, {
    secret: key,
    verify: {
      algorithms: algorithms as never,
      // fast-jwt checks iss/aud only when present; a configured issuer or audience must be required too.
      requiredClaims: ['exp', ...(opts.issuer ? ['iss'] : []), ...(opts.audience ? ['aud'] : [])],
      cache: 10_000,
      ...(opts.issuer ? { allowedIss: opts.issuer } : {}),
      ...(opts.audience ? { allowedAud: opts.audience } : {}),
    },
  });

  // Verified tokens by their exact text, until their exp: a client sends the same token on every request, and
  // fast-jwt's own cache hashes the token each time (its docs: ~10x slower than an identity key). Only tokens that
  // passed every check are kept, and nbf has passed for them (it was checked), so exp is all that can change.
  const verified = new BoundedMap<string, { principal: Principal; expiresAtMs: number }>(10_000);

  app.decorateRequest('principal', null);
  app.decorateRequest('authFailure', null);

  // 1. Verify: who is calling (no rejection yet, so the rate limiter can key on it).
  app.addHook('onRequest', async (req) => {
    if (routeAuth(req) === 'public') return;
    const token = bearerToken(req);
    if (!token) {
      req.authFailure = 'missing bearer token: send Authorization: Bearer <JWT>';
      return;
    }
    const cached = verified.get(token);
    if (cached && cached.expiresAtMs > Date.now()) {
      req.principal = cached.principal;
      return;
    }
    try {
      const claims = app.jwt.verify<{ sub?: unknown; scope?: unknown; exp?: unknown }>(token);
      const sub = typeof claims.sub === 'string' && claims.sub !== '' ? claims.sub : undefined;
      if (!sub) {
        req.authFailure = 'token has no sub claim';
        return;
      }
      const scopes = new Set(typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : []);
      req.principal = { sub, scopes };
      if (typeof claims.exp === 'number') verified.set(token, { principal: req.principal, expiresAtMs: claims.exp * 1000 });
    } catch (err) {
      req.authFailure = describeJwtError(err);
    }
  });
}

async function enforce(req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const auth = routeAuth(req);
  if (auth === 'public') return;
  if (!req.principal) {
    reply.header('WWW-Authenticate', 'Bearer');
    throw new ERR_UNAUTHORIZED(req.authFailure ?? 'unauthorized');
  }
  const params = (req.params ?? {}) as Record<string, string | undefined>;
  const modelOf = req.routeOptions.config.modelOf;
  const model = modelOf ? modelOf(params) : params.model;
  if (!allows(req.principal, auth, model)) {
    const needed = auth === 'admin' ? "scope 'admin'" : `scope 'predict' or 'predict:${model ?? '<model>'}'`;
    throw new ERR_FORBIDDEN(`token for '${req.principal.sub}' lacks ${needed}`);
  }
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
  app.addHook('onRequest', async (req, reply) => {
    if ((req.routeOptions.config as unknown as Record<symbol, unknown>)[ENFORCED] !== true) await enforce(req, reply);
  });
}

function describeJwtError(err: unknown): string {
  const code = (err as { code?: string }).code ?? '';
  if (code.includes('EXPIRED')) return 'token expired';
  if (code.includes('INACTIVE')) return 'token not yet valid (nbf)';
  if (code.includes('MISSING_REQUIRED_CLAIM')) return `token is missing a required claim (${/The (\w+) claim/.exec((err as Error).message)?.[1] ?? 'exp'})`;
  if (code.includes('INVALID_ALGORITHM')) return 'token algorithm not accepted';
  if (code.includes('INVALID_CLAIM')) return 'token issuer or audience not accepted';
  if (code.includes('INVALID_SIGNATURE')) return 'token signature is invalid';
  return 'token is invalid';
}

export default fp(authPlugin, { name: 'ortserve-auth', fastify: '5.x' });
