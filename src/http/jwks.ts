// Signing keys for bearer tokens from a JSON Web Key Set (JWKS_URL): fetched, used for JWKS_CACHE_MS, refetched
// early (at most once per cooldown) when a token names an unknown `kid`. Invariant: every key held is a public RSA
// (>= 2048 bits), EC P-256/P-384/P-521 or Ed25519 key with the JWS algorithms it may verify pinned: never HS*, never none.
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';

export interface SigningKey {
  /** The JWK's `kid`, when it has one. */
  readonly kid: string | undefined;
  /** SPKI PEM: what @fastify/jwt (fast-jwt) accepts from a key function. */
  readonly pem: string;
  /** JWS `alg` values this key verifies: exactly the JWK's `alg` when it sets one, else every one of its type's. */
  readonly algorithms: readonly string[];
}

export type JwksErrorCode = 'JWKS_UNAVAILABLE' | 'JWKS_UNKNOWN_KID' | 'JWKS_NO_KID' | 'JWKS_ALGORITHM';

/** Why a token found no key; its message is safe to send to the client. */
export class JwksError extends Error {
  constructor(
    readonly code: JwksErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'JwksError';
  }
}

export interface JwksLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface JwksOptions {
  url: string;
  /** How long a fetched set is used before the next request refetches it. */
  cacheMs: number;
  /** Minimum time between fetches triggered by unknown kids, and between retries after a failed fetch. */
  cooldownMs: number;
  /** Per fetch, connection to last byte. */
  timeoutMs: number;
  log: JwksLog;
}

const MAX_SET_BYTES = 1024 * 1024;
const MAX_KEYS = 100;
const MIN_RSA_BITS = 2048;

/** The JWS algorithms a public key's type allows (RFC 7518 and RFC 8037); throws for any other type. */
export function algorithmsOfKey(key: KeyObject): string[] {
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

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One JWK of a set as a verification key; throws with the reason it is not usable. */
export function signingKeyFromJwk(jwk: unknown): SigningKey {
  if (!isObject(jwk)) throw new Error('not a JSON object');
  const { kty, kid, use, key_ops: ops, alg } = jwk;
  if (kid !== undefined && (typeof kid !== 'string' || kid === '')) throw new Error('"kid" is not a non-empty string');
  if (kty === 'oct') throw new Error('symmetric keys (kty "oct") are never accepted');
  if (kty !== 'RSA' && kty !== 'EC' && kty !== 'OKP') throw new Error(`unsupported kty ${JSON.stringify(kty)}`);
  if (use !== undefined && use !== 'sig') throw new Error(`"use" is ${JSON.stringify(use)}, not "sig"`);
  if (ops !== undefined && !(Array.isArray(ops) && ops.includes('verify'))) throw new Error('"key_ops" does not include "verify"');
  // A published private key is a leak at the identity provider, not a verification key.
  if ('d' in jwk || 'p' in jwk || 'q' in jwk) throw new Error('holds private key material');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch (err) {
    throw new Error(`not a valid ${kty} public key: ${(err as Error).message}`);
  }
  const algorithms = algorithmsOfKey(key);
  if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) {
    throw new Error(`RSA key shorter than ${MIN_RSA_BITS} bits`);
  }
  if (alg !== undefined) {
    if (typeof alg !== 'string' || !algorithms.includes(alg)) throw new Error(`"alg" ${JSON.stringify(alg)} does not fit this key (${algorithms.join(', ')})`);
    return { kid, pem: String(key.export({ type: 'spki', format: 'pem' })), algorithms: [alg] };
  }
  return { kid, pem: String(key.export({ type: 'spki', format: 'pem' })), algorithms };
}

interface KeySet {
  keys: SigningKey[];
  byKid: Map<string, SigningKey>;
}

/** The key a token names: by kid, or the only key of the set for a token without kid (else none: ambiguous). */
function select(set: KeySet, kid: string | undefined): SigningKey | undefined {
  if (kid !== undefined) return set.byKid.get(kid);
  return set.keys.length === 1 ? set.keys[0] : undefined;
}

/** The URL without user info or query, for logs. */
function forLog(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '<invalid url>';
  }
}

async function readCapped(res: Response, maxBytes: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) throw new Error(`response larger than ${maxBytes} bytes`);
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body) {
    total += chunk.byteLength;
    if (total > maxBytes) throw new Error(`response larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The key set of one JWKS URL. State: `set` is the last set fetched successfully (null until one was);
 * `refreshAtMs` is when a request next refetches it (fetch time + cacheMs, or + cooldownMs after a failure, the set
 * being kept meanwhile); `kidRefetchAtMs` is the earliest time an unknown kid may refetch; at most one fetch runs
 * at a time (`inFlight`). So fetches are bounded by one per cacheMs plus one per cooldownMs whatever the tokens say.
 */
export class JwksKeySource {
  private set: KeySet | null = null;
  private refreshAtMs = 0;
  private kidRefetchAtMs = 0;
  private lastFetchFailed = false;
  private fetchStartedAtMs = 0;
  private inFlight: Promise<void> | null = null;
  private readonly closing = new AbortController();

  constructor(private readonly opts: JwksOptions) {}

  /** The first fetch. The caller need not await it: requests wait for a fetch in flight. Never rejects. */
  start(): Promise<void> {
    return this.refresh('start');
  }

  close(): void {
    this.closing.abort();
  }

  /**
   * True while `key` is what a token with this kid would be verified with now: the set is within its cache period
   * and still selects this very key. Lets a cached verified token skip re-verification, and only that long.
   */
  holds(kid: string | undefined, key: SigningKey, nowMs = Date.now()): boolean {
    return this.set !== null && nowMs < this.refreshAtMs && select(this.set, kid) === key;
  }

  /** The key for a token's header, with its algorithm checked against the key's pinned list; throws JwksError. */
  async keyFor(header: { kid?: unknown; alg?: unknown }): Promise<SigningKey> {
    const { kid, alg } = header;
    if (kid !== undefined && (typeof kid !== 'string' || kid === '')) throw new JwksError('JWKS_UNKNOWN_KID', 'token kid header is not a non-empty string');
    const calledAtMs = Date.now();
    let set = await this.current();
    let key = select(set, kid);
    // An unknown kid refetches, unless the set was fetched during this call already or the cooldown is running.
    if (!key && kid !== undefined && this.fetchStartedAtMs < calledAtMs && calledAtMs >= this.kidRefetchAtMs) {
      this.kidRefetchAtMs = calledAtMs + this.opts.cooldownMs;
      await this.refresh('unknown kid');
      if (this.lastFetchFailed) throw new JwksError('JWKS_UNAVAILABLE', 'cannot fetch signing keys');
      set = this.set!;
      key = select(set, kid);
    }
    if (!key) {
      if (kid !== undefined) throw new JwksError('JWKS_UNKNOWN_KID', 'token kid is not in the signing key set');
      throw new JwksError('JWKS_NO_KID', `token has no kid header and the signing key set holds ${set.keys.length} keys`);
    }
    if (typeof alg !== 'string' || !key.algorithms.includes(alg)) throw new JwksError('JWKS_ALGORITHM', 'token algorithm not accepted');
    return key;
  }

  /** The set to use now: a fresh one at once (even while an unknown-kid refetch runs), else after a refetch. */
  private async current(): Promise<KeySet> {
    if (Date.now() >= this.refreshAtMs || (this.set === null && this.inFlight)) await this.refresh(this.set ? 'cache period over' : 'no key set yet');
    if (!this.set) throw new JwksError('JWKS_UNAVAILABLE', 'cannot fetch signing keys');
    return this.set;
  }

  private refresh(reason: string): Promise<void> {
    this.inFlight ??= this.fetchOnce(reason).finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async fetchOnce(reason: string): Promise<void> {
    const { url, log } = this.opts;
    this.fetchStartedAtMs = Date.now();
    try {
      const { set, skipped } = await this.download();
      this.set = set;
      this.refreshAtMs = Date.now() + this.opts.cacheMs;
      this.lastFetchFailed = false;
      if (skipped.length > 0) log.warn({ url: forLog(url), skipped }, 'ignored JWKS keys that cannot verify tokens here');
      log.info({ url: forLog(url), reason, kids: set.keys.map((k) => k.kid ?? null) }, 'fetched the JWT signing keys');
    } catch (err) {
      if (this.closing.signal.aborted) return;
      this.refreshAtMs = Date.now() + this.opts.cooldownMs;
      this.lastFetchFailed = true;
      const cause = (err as Error).name === 'TimeoutError' ? `no answer within ${this.opts.timeoutMs} ms` : (err as Error).message;
      const detail = { url: forLog(url), reason, err: cause, retryInMs: this.opts.cooldownMs };
      if (this.set) log.error(detail, 'cannot refresh the JWT signing keys (JWKS_URL); keeping the previous set');
      else log.error(detail, 'cannot fetch the JWT signing keys (JWKS_URL); requests with a token get 401 until it answers');
    }
  }

  private async download(): Promise<{ set: KeySet; skipped: string[] }> {
    const signal = AbortSignal.any([AbortSignal.timeout(this.opts.timeoutMs), this.closing.signal]);
    const res = await fetch(this.opts.url, { signal, headers: { accept: 'application/jwk-set+json, application/json' } });
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw new Error(`HTTP ${res.status}`);
    }
    let body: unknown;
    try {
      body = JSON.parse(await readCapped(res, MAX_SET_BYTES));
    } catch (err) {
      throw err instanceof SyntaxError ? new Error('the response is not JSON') : err;
    }
    if (!isObject(body) || !Array.isArray(body.keys)) throw new Error('the response is not a JWK Set (no "keys" array)');
    if (body.keys.length > MAX_KEYS) throw new Error(`the set holds ${body.keys.length} keys, more than ${MAX_KEYS}`);
    const keys: SigningKey[] = [];
    const byKid = new Map<string, SigningKey>();
    const skipped: string[] = [];
    body.keys.forEach((jwk, i) => {
      const name = isObject(jwk) && typeof jwk.kid === 'string' ? `kid ${JSON.stringify(jwk.kid.slice(0, 100))}` : `keys[${i}]`;
      let key: SigningKey;
      try {
        key = this.reuse(signingKeyFromJwk(jwk));
      } catch (err) {
        skipped.push(`${name}: ${(err as Error).message}`);
        return;
      }
      if (key.kid !== undefined) {
        if (byKid.has(key.kid)) {
          skipped.push(`${name}: duplicate kid, the first key with it is used`);
          return;
        }
        byKid.set(key.kid, key);
      }
      keys.push(key);
    });
    return { set: { keys, byKid }, skipped };
  }

  /** The previous set's object for an unchanged key, so verified tokens stay cached across a refresh. */
  private reuse(key: SigningKey): SigningKey {
    const old = this.set?.keys.find((k) => k.kid === key.kid && k.pem === key.pem && k.algorithms.join() === key.algorithms.join());
    return old ?? key;
  }
}
