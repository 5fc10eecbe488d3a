// Security headers on every response: helmet's defaults (CSP, HSTS, nosniff, frame options, ...), computed once at
// start by running helmet against a recording response, then set from a frozen object in the request hook (helmet
// per request costs main-thread time on every inference call for the same constant headers).
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';

export type HeaderSet = Readonly<Record<string, string>>;

/**
 * Helmet's default headers. Without TLS the CSP drops `upgrade-insecure-requests`: over plain HTTP (a development
 * server, or TLS ended at an ingress that the browser does not see) it would send the console's own script and
 * API requests to an https:// address that nothing answers.
 */
export function securityHeaders(tls: boolean): HeaderSet {
  const recorded: Record<string, string> = {};
  const res = {
    setHeader: (name: string, value: string | number | readonly string[]) => void (recorded[name] = String(value)),
    removeHeader: (name: string) => void delete recorded[name],
  };
  const directives: Record<string, null> = tls ? {} : { upgradeInsecureRequests: null };
  let failure: unknown;
  helmet({ contentSecurityPolicy: { directives } })({} as IncomingMessage, res as unknown as ServerResponse, (err?: unknown) => {
    failure = err;
  });
  if (failure) throw failure instanceof Error ? failure : new Error(String(failure));
  return Object.freeze(recorded);
}
