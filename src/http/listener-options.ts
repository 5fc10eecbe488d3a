// The Node server options shared by every listener (API, admin, metrics): HTTPS when TLS files are configured,
// and timeouts so that a slow client cannot hold a connection (and its memory) forever.
import fs from 'node:fs';
import type { Config } from '../config/env.js';

export interface ListenerOptions {
  https?: { cert: Buffer; key: Buffer; headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number };
  http?: { headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number };
  keepAliveTimeout: number;
  requestTimeout: number;
}

function readPem(file: string, variable: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read ${variable} '${file}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * Node checks the headers and request timeouts of open connections every `connectionsCheckingInterval` (30 s by
 * default), so a 20 s headers timeout could let a slow-loris client sit for 50 s; one second keeps it close.
 */
export function listenerOptions(config: Pick<Config, 'tls' | 'http'>): ListenerOptions {
  const timeouts = {
    headersTimeout: config.http.headersTimeoutMs,
    // Node requires requestTimeout >= headersTimeout when both are set.
    requestTimeout: Math.max(config.http.requestTimeoutMs, config.http.headersTimeoutMs),
    connectionsCheckingInterval: Math.min(1000, config.http.headersTimeoutMs),
  };
  const common = { keepAliveTimeout: config.http.keepAliveTimeoutMs, requestTimeout: timeouts.requestTimeout };
  if (!config.tls) return { ...common, http: timeouts };
  return { ...common, https: { cert: readPem(config.tls.certFile, 'TLS_CERT_FILE'), key: readPem(config.tls.keyFile, 'TLS_KEY_FILE'), ...timeouts } };
}
