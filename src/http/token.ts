// Minting tokens for operators and the development start: HS256 with a secret, or RS256, ES256/384/512 (by curve)
// or EdDSA with a PEM private key. Claims: sub, scope (space-separated), iat, exp, and iss/aud when given.
import { createHmac, createPrivateKey, type KeyObject, sign } from 'node:crypto';

export interface TokenClaims {
  sub: string;
  scope: string;
  expiresInSeconds: number;
  issuer?: string;
  audience?: string;
}

const b64u = (v: object | Buffer) => (Buffer.isBuffer(v) ? v : Buffer.from(JSON.stringify(v))).toString('base64url');

/** The JWS algorithm for a private key, matching what the server pins for its public key (auth.ts algorithmsFor). */
function algorithmOf(pk: KeyObject): { alg: string; hash: string | null } {
  switch (pk.asymmetricKeyType) {
    case 'rsa':
      return { alg: 'RS256', hash: 'sha256' };
    case 'ed25519':
      return { alg: 'EdDSA', hash: null };
    case 'ec': {
      const curve = pk.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1' || curve === 'P-256') return { alg: 'ES256', hash: 'sha256' };
      if (curve === 'secp384r1' || curve === 'P-384') return { alg: 'ES384', hash: 'sha384' };
      if (curve === 'secp521r1' || curve === 'P-521') return { alg: 'ES512', hash: 'sha512' };
      throw new Error(`unsupported EC curve ${curve}`);
    }
    default:
      throw new Error(`unsupported private key type ${pk.asymmetricKeyType}`);
  }
}

export function mintToken(key: { secret: string } | { privateKeyPem: string }, claims: TokenClaims, now = Math.floor(Date.now() / 1000)): string {
  const payload: Record<string, unknown> = { sub: claims.sub, scope: claims.scope, iat: now, exp: now + claims.expiresInSeconds };
  if (claims.issuer) payload.iss = claims.issuer;
  if (claims.audience) payload.aud = claims.audience;
  if ('secret' in key) {
    const input = `${b64u({ alg: 'HS256', typ: 'JWT' })}.${b64u(payload)}`;
    return `${input}.${createHmac('sha256', key.secret).update(input).digest('base64url')}`;
  }
  const pk = createPrivateKey(key.privateKeyPem);
  const { alg, hash } = algorithmOf(pk);
  const input = `${b64u({ alg, typ: 'JWT' })}.${b64u(payload)}`;
  // JWS wants ECDSA signatures as r||s (IEEE P1363), not DER.
  const signature = sign(hash, Buffer.from(input), pk.asymmetricKeyType === 'ec' ? { key: pk, dsaEncoding: 'ieee-p1363' } : pk);
  return `${input}.${b64u(signature)}`;
}
