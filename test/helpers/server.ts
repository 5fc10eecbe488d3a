// Test helpers: a real ortserve on loopback (or for inject()), real HS256 tokens, the repo's model folders.
import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '../../src/config/env.js';
import { buildServer } from '../../src/http/server.js';
import { mintToken } from '../../src/http/token.js';
import { FIXTURE_MODELS } from './repo.js';

export { BUNDLED_MODELS, FIXTURE_MODELS, ROOT } from './repo.js';
export const TEST_SECRET = 'test-secret-0123456789-abcdefghij';

/** A config as the environment would give it, with a known secret and no rate limit unless overridden. */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ MODEL_REPOSITORY: FIXTURE_MODELS, JWT_SECRET: TEST_SECRET, RATE_LIMIT_MAX: '0', LOG_LEVEL: 'silent', WORKER_THREADS: '2', ...env });
}

/**
 * The environment a spawned server (helpers/process.ts) runs with in the e2e tests: repository `repo`, the test
 * secret, no rate limit, warn logs; `env` adds to it or overrides it.
 */
export function serverEnv(repo: string, env: Record<string, string> = {}): Record<string, string> {
  return { MODEL_REPOSITORY: repo, JWT_SECRET: TEST_SECRET, RATE_LIMIT_MAX: '0', LOG_LEVEL: 'warn', ...env };
}

export function token(scope = 'predict', sub = 'tester', expiresInSeconds = 600): string {
  return mintToken({ secret: TEST_SECRET }, { sub, scope, expiresInSeconds });
}

export function auth(scope = 'predict', sub = 'tester'): Record<string, string> {
  return { authorization: `Bearer ${token(scope, sub)}` };
}

export interface Started {
  app: FastifyInstance;
  /** http://127.0.0.1:<port> when listening, else undefined (inject only). */
  url: string;
  close(): Promise<void>;
}

/** Builds the server, waits for the initial model load, and listens on an ephemeral loopback port. */
export async function startServer(env: Record<string, string> = {}, listen = true): Promise<Started> {
  const app = await buildServer(testConfig(env));
  await app.ortserve.loaded;
  let url = '';
  if (listen) {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    if (addr && typeof addr === 'object') url = `http://127.0.0.1:${addr.port}`;
  }
  return { app, url, close: () => app.close() };
}
