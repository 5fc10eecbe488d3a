// Talks to the server with the operator's token. The token lives in sessionStorage only (gone when the tab
// closes, never in a URL, a cookie or localStorage) and goes in the Authorization header of every call.

const TOKEN_KEY = 'ortserve.console.token';

export const session = {
  token(): string | null {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set(token: string): void {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear(): void {
    sessionStorage.removeItem(TOKEN_KEY);
  },
  /** The token's `sub`, for display only (the server verifies the token; the page never trusts this). */
  subject(): string | undefined {
    const part = session.token()?.split('.')[1];
    if (!part) return undefined;
    try {
      const json = JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/'))) as { sub?: unknown };
      return typeof json.sub === 'string' ? json.sub : undefined;
    } catch {
      return undefined;
    }
  },
};

/** One call and what the server said, whatever the status. */
export interface Answer<T = unknown> {
  method: string;
  url: string;
  status: number;
  ok: boolean;
  body: T;
}

export class ApiError extends Error {
  constructor(readonly answer: Answer) {
    super(errorText(answer));
  }
}

/** The server's `{"error": "..."}` message, or the status. */
export function errorText(a: Answer): string {
  const body = a.body as { error?: unknown } | string | null;
  const message = body && typeof body === 'object' && typeof body.error === 'string' ? body.error : typeof body === 'string' && body ? body : '';
  return `${a.status}${message ? `: ${message}` : ''}`;
}

let onUnauthorized: (answer: Answer) => void = () => undefined;

/** What to do when the server answers 401 (the token expired or was revoked): the app signs out. */
export function setUnauthorizedHandler(fn: (answer: Answer) => void): void {
  onUnauthorized = fn;
}

export interface CallOptions {
  /** A raw body (an ONNX upload) instead of JSON. */
  bytes?: ArrayBuffer;
  headers?: Record<string, string>;
  /** Use this token instead of the session's (sign-in checks one before keeping it). */
  token?: string;
}

export async function call<T = unknown>(method: string, url: string, body?: unknown, opts: CallOptions = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
  const token = opts.token ?? session.token();
  if (token) headers.authorization = `Bearer ${token}`;
  let payload: BodyInit | undefined;
  if (opts.bytes) {
    payload = opts.bytes;
    headers['content-type'] = 'application/octet-stream';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(url, { method, headers, body: payload, cache: 'no-store', credentials: 'omit' });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  const answer: Answer<T> = { method, url, status: res.status, ok: res.ok, body: parsed as T };
  if (res.status === 401 && opts.token === undefined) onUnauthorized(answer);
  return answer;
}

/** GET that throws ApiError unless 2xx. */
export async function get<T>(url: string): Promise<T> {
  const a = await call<T>('GET', url);
  if (!a.ok) throw new ApiError(a);
  return a.body;
}

export const enc = encodeURIComponent;
