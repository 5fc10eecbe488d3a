// Minting tokens for operators and the development start: HS256 with a secret, or RS256/ES256/EdDSA with a PEM
// private key. Claims: sub, scope (space-separated), iat, exp, and iss/aud when given.
import { createHmac, createPrivateKey, sign } from 'node:crypto';

export interface TokenClaims {
  sub: string;
  scope: string;
  expiresInSeconds: number;
  issuer?: string;
  audience?: string;
}

const b64u = (v: object | Buffer) => (Buffer.isBuffer(v) ? v : Buffer.from(JSON.stringify(v))).toString('base64url');

export function mintToken(key: { secret: string } | { privateKeyPem: string }, claims: TokenClaims, now = Math.floor(Date.now() / 1000)): string {
  const payload: Record<string, unknown> = { sub: claims.sub, scope: claims.scope, iat: now, exp: now + claims.expiresInSeconds };
  if (claims.issuer) payload.iss = claims.issuer;
  if (claims.audience) payload.aud = claims.audience;
  if ('secret' in key) {
    const input = `${b64u({ alg: 'HS256', typ: 'JWT' })}.${b64u(payload)}`;
    return `${input}.${createHmac('sha256', key.secret).update(input).digest('base64url')}`;
  }
  const pk = createPrivateKey(key.privateKeyPem);
  const type = pk.asymmetricKeyType;
  const alg = type === 'rsa' ? 'RS256' : type === 'ec' ? 'ES256' : type === 'ed25519' ? 'EdDSA' : undefined;
  if (!alg) throw new Error(`unsupported private key type ${type}`);
  const input = `${b64u({ alg, typ: 'JWT' })}.${b64u(payload)}`;
  const signature =
    alg === 'EdDSA'
      ? sign(null, Buffer.from(input), pk)
      : sign('sha256', Buffer.from(input), alg === 'ES256' ? { key: pk, dsaEncoding: 'ieee-p1363' } : pk);
  return `${input}.${b64u(signature)}`;
}
