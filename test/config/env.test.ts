import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/env.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected loadConfig to throw');
}

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const c = loadConfig({});
    assert.equal(c.port, 8080);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.nodeEnv, 'development');
    assert.equal(c.production, false);
    assert.equal(c.modelRepository, path.resolve('./models'));
    assert.ok(path.isAbsolute(c.modelRepository));
    assert.equal(c.logLevel, 'info');
    assert.deepEqual(c.rateLimit, { max: 60000, windowMs: 60000 });
    assert.equal(c.maxBodyBytes, 32 * 1024 * 1024);
    assert.equal(c.workerThreads, Math.max(1, os.availableParallelism()));
    assert.deepEqual(c.batching, { maxBatchSize: 64, maxQueueDelayMs: 0, maxQueueSize: 1024 });
    assert.equal(c.shutdownTimeoutMs, 30000);
    assert.equal(c.warmup, true);
    assert.deepEqual(c.jwt, { secret: undefined, publicKeyFile: undefined, jwksUrl: undefined, jwksCacheMs: 600_000, clockSkewSeconds: 30, issuer: undefined, audience: undefined });
    assert.equal(c.tls, undefined);
    assert.equal(c.requireSha256, false);
    assert.equal(c.console, true);
    assert.deepEqual(c.http, { headersTimeoutMs: 20_000, requestTimeoutMs: 300_000, keepAliveTimeoutMs: 72_000 });
    assert.deepEqual(c.limits, { maxTensorElements: 16 * 1024 * 1024, maxRowsPerRequest: 65_536, maxInputs: 64, maxBytesElementBytes: 1024 * 1024, maxJsonDepth: 32 });
  });

  it('treats blank values as unset', () => {
    const c = loadConfig({ PORT: '', HOST: '', MODEL_REPOSITORY: '', JWT_SECRET: '', WARMUP: '' });
    assert.equal(c.port, 8080);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.modelRepository, path.resolve('./models'));
    assert.equal(c.jwt.secret, undefined);
    assert.equal(c.warmup, true);
  });

  it('coerces numeric strings and flags', () => {
    const c = loadConfig({
      PORT: '9001',
      RATE_LIMIT_MAX: '0',
      RATE_LIMIT_WINDOW: '1000',
      MAX_BODY_BYTES: '2048',
      WORKER_THREADS: '3',
      MAX_BATCH_SIZE: '0',
      MAX_QUEUE_DELAY_MS: '2.5',
      MAX_QUEUE_SIZE: '7',
      SHUTDOWN_TIMEOUT_MS: '1000',
      WARMUP: '0',
      NODE_ENV: 'production',
      LOG_LEVEL: 'silent',
      MODEL_REPOSITORY: '/srv/models',
    });
    assert.equal(c.port, 9001);
    assert.deepEqual(c.rateLimit, { max: 0, windowMs: 1000 });
    assert.equal(c.maxBodyBytes, 2048);
    assert.equal(c.workerThreads, 3);
    assert.deepEqual(c.batching, { maxBatchSize: 0, maxQueueDelayMs: 2.5, maxQueueSize: 7 });
    assert.equal(c.shutdownTimeoutMs, 1000);
    assert.equal(c.warmup, false);
    assert.equal(c.production, true);
    assert.equal(c.logLevel, 'silent');
    assert.equal(c.modelRepository, '/srv/models');
  });

  it('reads WARMUP as true for "true" and "1" and false for "false" and "0"', () => {
    assert.equal(loadConfig({ WARMUP: 'true' }).warmup, true);
    assert.equal(loadConfig({ WARMUP: '1' }).warmup, true);
    assert.equal(loadConfig({ WARMUP: 'false' }).warmup, false);
    assert.equal(loadConfig({ WARMUP: '0' }).warmup, false);
  });

  it('ignores unrelated environment variables', () => {
    const c = loadConfig({ PATH: '/usr/bin', HOME: '/root', SOMETHING_ELSE: 'x' });
    assert.equal(c.port, 8080);
  });

  it('keeps the JWT settings it is given', () => {
    const c = loadConfig({ JWT_SECRET: 'a-secret-of-20-chars', JWT_ISSUER: 'iss', JWT_AUDIENCE: 'aud' });
    assert.deepEqual(c.jwt, { secret: 'a-secret-of-20-chars', publicKeyFile: undefined, jwksUrl: undefined, jwksCacheMs: 600_000, clockSkewSeconds: 30, issuer: 'iss', audience: 'aud' });
    const k = loadConfig({ JWT_PUBLIC_KEY_FILE: '/keys/pub.pem' });
    assert.equal(k.jwt.publicKeyFile, '/keys/pub.pem');
    assert.equal(k.jwt.secret, undefined);
  });

  it('refuses two key sources, or half a TLS configuration', () => {
    assert.throws(() => loadConfig({ JWT_SECRET: 'a-secret-of-20-chars', JWKS_URL: 'http://127.0.0.1:1/jwks' }), /JWKS_URL: set one of JWT_SECRET, JWT_PUBLIC_KEY_FILE or JWKS_URL/);
    assert.throws(() => loadConfig({ JWKS_URL: 'file:///etc/keys' }), /JWKS_URL/);
    assert.throws(() => loadConfig({ NODE_ENV: 'production', JWKS_URL: 'http://idp.example/jwks.json' }), /JWKS_URL: must be an https:\/\/ URL when NODE_ENV=production/);
    assert.equal(loadConfig({ NODE_ENV: 'production', JWKS_URL: 'https://idp.example/jwks.json' }).jwt.jwksUrl, 'https://idp.example/jwks.json');
    assert.throws(() => loadConfig({ TLS_KEY_FILE: '/k.pem' }), /TLS_CERT_FILE: TLS needs both/);
    assert.throws(() => loadConfig({ JWT_CLOCK_SKEW_SECONDS: '301' }), /JWT_CLOCK_SKEW_SECONDS/);
    assert.deepEqual(loadConfig({ TLS_CERT_FILE: '/c.pem', TLS_KEY_FILE: '/k.pem' }).tls, { certFile: '/c.pem', keyFile: '/k.pem' });
  });

  it('lists every problem at once, each naming its variable', () => {
    const problems = problemsOf({ PORT: 'abc', RATE_LIMIT_MAX: '-1' });
    assert.equal(problems.length, 2);
    assert.ok(problems.some((p) => p.startsWith('PORT:')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('RATE_LIMIT_MAX:')), problems.join('\n'));
  });

  it('puts every problem in the error message', () => {
    try {
      loadConfig({ PORT: '70000', LOG_LEVEL: 'loud', WARMUP: 'yes', WORKER_THREADS: '0', MAX_BODY_BYTES: '10' });
      assert.fail('expected loadConfig to throw');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.name, 'ConfigError');
      for (const v of ['PORT', 'LOG_LEVEL', 'WARMUP', 'WORKER_THREADS', 'MAX_BODY_BYTES']) {
        assert.match(err.message, new RegExp(`- ${v}: `), v);
      }
      assert.equal(err.problems.length, 5);
      assert.match(err.message, /^invalid environment/);
    }
  });

  it('rejects numbers that are not integers where integers are required', () => {
    const problems = problemsOf({ PORT: '80.5', MAX_QUEUE_SIZE: '1.5' });
    assert.deepEqual(problems.map((p) => p.split(':')[0]).sort(), ['MAX_QUEUE_SIZE', 'PORT']);
  });

  it('rejects values below their minimum', () => {
    const problems = problemsOf({ RATE_LIMIT_WINDOW: '0', MAX_QUEUE_SIZE: '0', MAX_QUEUE_DELAY_MS: '-1', MAX_BATCH_SIZE: '-1' });
    assert.deepEqual(problems.map((p) => p.split(':')[0]).sort(), ['MAX_BATCH_SIZE', 'MAX_QUEUE_DELAY_MS', 'MAX_QUEUE_SIZE', 'RATE_LIMIT_WINDOW']);
  });

  it('rejects a JWT secret shorter than 16 characters', () => {
    const problems = problemsOf({ JWT_SECRET: 'short' });
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^JWT_SECRET: .*16/);
    assert.doesNotThrow(() => loadConfig({ JWT_SECRET: 'x'.repeat(16) }));
  });

  it('rejects JWT_SECRET together with JWT_PUBLIC_KEY_FILE', () => {
    const problems = problemsOf({ JWT_SECRET: 'a-long-enough-secret', JWT_PUBLIC_KEY_FILE: '/keys/pub.pem' });
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /JWT_SECRET.*JWT_PUBLIC_KEY_FILE/);
  });

  it('treats a whitespace-only value as unset (the default), not as 0', () => {
    assert.equal(loadConfig({ PORT: ' ', JWT_SECRET: 'a-long-enough-secret' }).port, 8080);
    assert.equal(loadConfig({ MAX_QUEUE_SIZE: '  ', JWT_SECRET: 'a-long-enough-secret' }).batching.maxQueueSize, 1024);
  });
});
