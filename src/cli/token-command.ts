// `ortserve token` (and `npm run token`): mints a token with JWT_SECRET, --secret or a PEM private key
// (--key-file) and prints it on stdout, nothing else. JWT_ISSUER and JWT_AUDIENCE become iss and aud when set.
import fs from 'node:fs';
import { mintToken } from '../http/token.js';
import { type Command, CliError, type Io, parse, UsageError } from './common.js';

const options = {
  sub: { type: 'string' },
  scope: { type: 'string', default: 'predict' },
  expires: { type: 'string' },
  'expires-in': { type: 'string' },
  secret: { type: 'string' },
  'key-file': { type: 'string' },
} as const;

export function tokenHelp(program = 'ortserve token'): string {
  return [
    `usage: ${program} --sub NAME [--scope "predict admin"] [--expires SECONDS] [--secret SECRET | --key-file PRIVATE_KEY.pem]`,
    '',
    'Mints a JWT the server accepts and prints it on stdout.',
    '',
    '  --sub NAME              the subject (who the token is for; it appears in the audit log)',
    "  --scope SCOPES          space-separated: predict, predict:<model>, admin (default 'predict')",
    '  --expires SECONDS       lifetime (default 3600); --expires-in is the same flag',
    '  --secret SECRET         HS256 secret (default: env JWT_SECRET, the value the server uses; prefer the',
    '                          environment, a flag shows in the process list)',
    '  --key-file FILE         a PEM private key (RSA -> RS256, EC -> ES256/384/512, Ed25519 -> EdDSA) for a server',
    '                          started with JWT_PUBLIC_KEY_FILE',
    '  -h, --help              this help',
    '',
    'JWT_ISSUER and JWT_AUDIENCE, when set, become the iss and aud claims.',
    '',
  ].join('\n');
}

/** The token for the flags in `argv`; UsageError/CliError (exit 2) on bad input. */
export function mintFromArgs(argv: string[], env: NodeJS.ProcessEnv): string | undefined {
  const { values } = parse(argv, options);
  if (values.help) return undefined;
  if (!values.sub) throw new UsageError('--sub is required');
  if (values.expires !== undefined && values['expires-in'] !== undefined) throw new UsageError('give --expires or --expires-in, not both');
  const rawExpires = values.expires ?? values['expires-in'] ?? '3600';
  const expires = Number(rawExpires);
  const flagName = values.expires !== undefined ? '--expires' : '--expires-in';
  if (!Number.isInteger(expires) || expires <= 0) throw new UsageError(`${flagName} must be a positive whole number of seconds (got '${rawExpires}')`);
  if (values.secret !== undefined && values['key-file'] !== undefined) throw new UsageError('give --secret or --key-file, not both');
  const claims = { sub: values.sub, scope: values.scope!, expiresInSeconds: expires, issuer: env.JWT_ISSUER || undefined, audience: env.JWT_AUDIENCE || undefined };

  const keyFile = values['key-file'];
  if (keyFile) {
    let pem: string;
    try {
      pem = fs.readFileSync(keyFile, 'utf8');
    } catch (err) {
      throw new CliError(`cannot read --key-file ${keyFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 2);
    }
    try {
      return mintToken({ privateKeyPem: pem }, claims);
    } catch {
      throw new CliError(`cannot sign: --key-file ${keyFile} does not hold a PEM private key (RSA, EC or Ed25519)`, 2);
    }
  }
  const secret = values.secret ?? (env.JWT_SECRET || undefined);
  if (!secret) throw new CliError('set JWT_SECRET (the same value the server uses), or pass --secret or --key-file PRIVATE_KEY.pem', 2);
  if (secret.length < 16) throw new CliError('the secret must be at least 16 characters, as the server requires of JWT_SECRET', 2);
  return mintToken({ secret }, claims);
}

export const tokenCommand: Command = {
  name: 'token',
  help: () => tokenHelp(),
  async run(argv: string[], io: Io): Promise<number> {
    const token = mintFromArgs(argv, io.env);
    if (token === undefined) {
      io.stdout.write(tokenHelp());
      return 0;
    }
    io.stdout.write(`${token}\n`);
    return 0;
  },
};
