// npm run token -- --sub alice --scope "predict admin" [--expires-in 3600] [--key-file private.pem]
// Mints a token with the configured JWT_SECRET (or a PEM private key) and prints it on stdout.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { mintToken } from '../http/token.js';

const usage = 'usage: npm run token -- --sub NAME --scope "predict admin" [--expires-in SECONDS] [--key-file PRIVATE_KEY.pem]';

function main(): number {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        sub: { type: 'string' },
        scope: { type: 'string', default: 'predict' },
        'expires-in': { type: 'string', default: '3600' },
        'key-file': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${usage}\nSigns with JWT_SECRET (HS256) unless --key-file names a PEM private key. JWT_ISSUER and JWT_AUDIENCE are added when set.\n`);
    return 0;
  }
  if (!values.sub) {
    process.stderr.write(`--sub is required\n${usage}\n`);
    return 2;
  }
  const expires = Number(values['expires-in']);
  if (!Number.isInteger(expires) || expires <= 0) {
    process.stderr.write('--expires-in must be a positive number of seconds\n');
    return 2;
  }
  const secret = process.env.JWT_SECRET;
  const keyFile = values['key-file'];
  if (!keyFile && !secret) {
    process.stderr.write('set JWT_SECRET (the same value the server uses) or pass --key-file PRIVATE_KEY.pem\n');
    return 2;
  }
  const claims = { sub: values.sub, scope: values.scope!, expiresInSeconds: expires, issuer: process.env.JWT_ISSUER || undefined, audience: process.env.JWT_AUDIENCE || undefined };
  let key: { secret: string } | { privateKeyPem: string } = { secret: secret! };
  if (keyFile) {
    try {
      key = { privateKeyPem: fs.readFileSync(keyFile, 'utf8') };
    } catch (err) {
      process.stderr.write(`cannot read --key-file ${keyFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
      return 2;
    }
  }
  let token: string;
  try {
    token = mintToken(key, claims);
  } catch (err) {
    process.stderr.write(`cannot sign: ${keyFile ? `--key-file ${keyFile} does not hold a PEM private key (RSA, EC or Ed25519)` : (err as Error).message}\n`);
    return 2;
  }
  process.stdout.write(`${token}\n`);
  return 0;
}

process.exitCode = main();
