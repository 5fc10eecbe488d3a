// Talking to a running ortserve: where it is (--url, ORTSERVE_URL), which token to send (--token, ORTSERVE_TOKEN,
// else one minted for this call from JWT_SECRET), and turning every failure into one clear CliError: an
// unreachable server, the server's own {"error": ...} message with a hint for 401/403/404.
import { mintToken } from '../http/token.js';
import { CliError, UsageError } from './common.js';

export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** The flags every client subcommand accepts (merge into its parseArgs options). */
export const targetOptions = {
  url: { type: 'string' },
  token: { type: 'string' },
} as const;

export const TARGET_HELP = [
  `  --url URL        the server (env ORTSERVE_URL, default ${DEFAULT_URL}); with ADMIN_PORT, the admin port`,
  '  --token TOKEN    a bearer token (env ORTSERVE_TOKEN); without one and with JWT_SECRET set, a 5-minute',
  '                   token with just the scope this command needs is minted on the spot',
].join('\n');

export interface Target {
  /** Without a trailing slash. */
  url: string;
  token: string | undefined;
  /** The scope the command needs, for the hint on 403. */
  scope: 'admin' | 'predict';
}

export function resolveTarget(values: { url?: string; token?: string }, env: NodeJS.ProcessEnv, scope: Target['scope']): Target {
  const raw = values.url ?? (env.ORTSERVE_URL || DEFAULT_URL);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--url '${raw}' is not a URL (like ${DEFAULT_URL})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--url '${raw}' must start with http:// or https://`);
  let token = values.token ?? (env.ORTSERVE_TOKEN || undefined);
  if (token === undefined && env.JWT_SECRET) {
    token = mintToken({ secret: env.JWT_SECRET }, { sub: 'ortserve-cli', scope, expiresInSeconds: 300, issuer: env.JWT_ISSUER || undefined, audience: env.JWT_AUDIENCE || undefined });
  }
  return { url: url.href.replace(/\/+$/, ''), token, scope };
}

export function authHeaders(target: Target): Record<string, string> {
  return target.token ? { authorization: `Bearer ${target.token}` } : {};
}

/** "cannot reach <url>: connect ECONNREFUSED 127.0.0.1:8080" from a fetch or http error. */
export function unreachable(url: string, err: unknown): CliError {
  let e = err as (Error & { code?: string; cause?: unknown }) | undefined;
  // fetch wraps the socket error: TypeError('fetch failed', { cause }), sometimes an AggregateError inside.
  while (e && e.cause instanceof Error) e = e.cause as Error & { code?: string; cause?: unknown };
  if (e instanceof AggregateError && e.errors[0] instanceof Error) e = e.errors[0] as Error & { code?: string };
  const detail = e?.message || e?.code || String(err);
  return new CliError(`cannot reach ${url}: ${detail}`);
}

/** The server's error message for a failed answer, with what to do about it. */
export function httpFailure(target: Target, method: string, path: string, status: number, body: unknown): CliError {
  const serverMessage = typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string' ? (body as { error: string }).error : typeof body === 'string' && body ? body.slice(0, 500) : `HTTP ${status}`;
  let hint = '';
  if (status === 401) {
    hint = target.token
      ? '\nhint: the server refused the token (expired, or signed with another key); mint a new one with `ortserve token`'
      : '\nhint: no token was sent; pass --token or set ORTSERVE_TOKEN (or JWT_SECRET, to mint one here)';
  } else if (status === 403) {
    hint = `\nhint: this command needs a token with scope '${target.scope}': ortserve token --sub <you> --scope ${target.scope}`;
  } else if (status === 404 && path.startsWith('/admin/') && serverMessage.startsWith('no route ')) {
    hint = '\nhint: with ADMIN_PORT set the admin API listens on its own port; point --url there';
  }
  return new CliError(`${method} ${path}: ${serverMessage} (HTTP ${status})${hint}`);
}

/** One JSON request; returns the parsed body of a 2xx answer, throws CliError otherwise. */
export async function requestJson<T>(target: Target, method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { ...authHeaders(target), accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(target.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw unreachable(target.url, err);
  }
  const parsed = parseAnswer(await res.text());
  if (!res.ok) throw httpFailure(target, method, path, res.status, parsed);
  return parsed as T;
}

/** An answer's body: its JSON, or the text itself when it is not JSON (a proxy's HTML page, say); undefined when empty. */
export function parseAnswer(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** A path segment from user input (model names are [A-Za-z0-9_.-], but never trust that here). */
export const seg = (s: string) => encodeURIComponent(s);
