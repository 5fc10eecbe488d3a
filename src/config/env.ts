// The server's environment, validated once at start by one zod schema. Invalid values stop the start with
// every problem listed (ConfigError); nothing below this module reads process.env.
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { formatIssues } from './format-issues.js';

const int = (min: number) => z.coerce.number().int().min(min);
const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
/** Unset, empty and whitespace-only values mean "use the default" (z.coerce would read " " as 0). */
const blankAsUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optionalString = z.preprocess(blankAsUndefined, z.string().optional());

export const envSchema = z
  .object({
    NODE_ENV: z.preprocess(blankAsUndefined, z.string().default('development')),
    MODEL_REPOSITORY: z.preprocess(blankAsUndefined, z.string().default('./models')),
    HOST: z.preprocess(blankAsUndefined, z.string().default('0.0.0.0')),
    PORT: z.preprocess(blankAsUndefined, int(0).max(65535).default(8080)),
    LOG_LEVEL: z.preprocess(blankAsUndefined, z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')),

    JWT_SECRET: z.preprocess(blankAsUndefined, z.string().min(16, 'must be at least 16 characters').optional()),
    JWT_PUBLIC_KEY_FILE: optionalString,
    JWT_ISSUER: optionalString,
    JWT_AUDIENCE: optionalString,
    JWKS_URL: z.preprocess(blankAsUndefined, z.string().regex(/^https?:\/\//, 'must be an http:// or https:// URL').optional()),
    JWKS_CACHE_MS: z.preprocess(blankAsUndefined, int(1000).default(10 * 60 * 1000)),
    JWT_CLOCK_SKEW_SECONDS: z.preprocess(blankAsUndefined, int(0).max(300).default(30)),

    TLS_CERT_FILE: optionalString,
    TLS_KEY_FILE: optionalString,
    REQUIRE_SHA256: z.preprocess(blankAsUndefined, flag.default(false)),
    CONSOLE_ENABLED: z.preprocess(blankAsUndefined, flag.default(true)),

    HTTP_HEADERS_TIMEOUT_MS: z.preprocess(blankAsUndefined, int(100).default(20_000)),
    HTTP_REQUEST_TIMEOUT_MS: z.preprocess(blankAsUndefined, int(100).default(300_000)),
    HTTP_KEEP_ALIVE_TIMEOUT_MS: z.preprocess(blankAsUndefined, int(100).default(72_000)),

    MAX_TENSOR_ELEMENTS: z.preprocess(blankAsUndefined, int(1).default(16 * 1024 * 1024)),
    MAX_ROWS_PER_REQUEST: z.preprocess(blankAsUndefined, int(1).default(65_536)),
    MAX_INPUTS: z.preprocess(blankAsUndefined, int(1).max(4096).default(64)),
    MAX_BYTES_ELEMENT_BYTES: z.preprocess(blankAsUndefined, int(1).default(1024 * 1024)),
    MAX_JSON_DEPTH: z.preprocess(blankAsUndefined, int(4).max(256).default(32)),

    RATE_LIMIT_MAX: z.preprocess(blankAsUndefined, int(0).default(60000)),
    RATE_LIMIT_WINDOW: z.preprocess(blankAsUndefined, int(1).default(60000)),
    MAX_BODY_BYTES: z.preprocess(blankAsUndefined, int(1024).default(32 * 1024 * 1024)),

    WORKER_THREADS: z.preprocess(blankAsUndefined, int(1).max(64).default(Math.max(1, os.availableParallelism()))),
    MAX_BATCH_SIZE: z.preprocess(blankAsUndefined, int(0).default(64)),
    MAX_QUEUE_DELAY_MS: z.preprocess(blankAsUndefined, z.coerce.number().min(0).default(0)),
    MAX_QUEUE_SIZE: z.preprocess(blankAsUndefined, int(1).default(1024)),
    SHUTDOWN_TIMEOUT_MS: z.preprocess(blankAsUndefined, int(1000).default(30000)),
    WARMUP: z.preprocess(blankAsUndefined, flag.default(true)),

    METRICS_PORT: z.preprocess(blankAsUndefined, int(1).max(65535).optional()),
    REDIS_URL: z.preprocess(blankAsUndefined, z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional()),
    ADMIN_PORT: z.preprocess(blankAsUndefined, int(1).max(65535).optional()),
    REPOSITORY_POLL_INTERVAL_MS: z.preprocess(blankAsUndefined, int(0).default(2000)),
    MAX_UPLOAD_BYTES: z.preprocess(blankAsUndefined, int(1024).default(1024 * 1024 * 1024)),
    SHADOW_TOLERANCE: z.preprocess(blankAsUndefined, z.coerce.number().min(0).default(1e-3)),
    MONITORING_ENABLED: z.preprocess(blankAsUndefined, flag.default(true)),
    DRIFT_ENABLED: z.preprocess(blankAsUndefined, flag.default(true)),
    DRIFT_MAX_FEATURES: z.preprocess(blankAsUndefined, int(1).max(4096).default(64)),
    DRIFT_REFERENCE_ROWS: z.preprocess(blankAsUndefined, int(10).default(1000)),
    DRIFT_WINDOW_ROWS: z.preprocess(blankAsUndefined, int(10).default(1000)),
    DRIFT_INTERVAL_MS: z.preprocess(blankAsUndefined, int(50).default(1000)),
    FEEDBACK_WINDOW: z.preprocess(blankAsUndefined, int(1).default(1000)),
    FEEDBACK_MAX_PENDING: z.preprocess(blankAsUndefined, int(1).default(100_000)),
  })
  .superRefine((env, ctx) => {
    if (env.JWT_SECRET !== undefined && env.JWT_PUBLIC_KEY_FILE !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'set either JWT_SECRET (HS256) or JWT_PUBLIC_KEY_FILE (RS256/ES256), not both' });
    }
    if (env.JWKS_URL !== undefined && env.NODE_ENV === 'production' && !env.JWKS_URL.startsWith('https://')) {
      // Whoever sits between the server and a plain-HTTP key set could serve their own keys and sign any token.
      ctx.addIssue({ code: 'custom', path: ['JWKS_URL'], message: 'must be an https:// URL when NODE_ENV=production' });
    }
    if (env.JWKS_URL !== undefined && (env.JWT_SECRET !== undefined || env.JWT_PUBLIC_KEY_FILE !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['JWKS_URL'], message: 'set one of JWT_SECRET, JWT_PUBLIC_KEY_FILE or JWKS_URL' });
    }
    if ((env.TLS_CERT_FILE === undefined) !== (env.TLS_KEY_FILE === undefined)) {
      ctx.addIssue({ code: 'custom', path: [env.TLS_CERT_FILE === undefined ? 'TLS_CERT_FILE' : 'TLS_KEY_FILE'], message: 'TLS needs both TLS_CERT_FILE and TLS_KEY_FILE' });
    }
  });

export type Env = z.infer<typeof envSchema>;

export interface Config {
  nodeEnv: string;
  production: boolean;
  modelRepository: string;
  host: string;
  port: number;
  logLevel: Env['LOG_LEVEL'];
  jwt: { secret?: string; publicKeyFile?: string; jwksUrl?: string; jwksCacheMs: number; clockSkewSeconds: number; issuer?: string; audience?: string };
  /** HTTPS with this PEM certificate chain and private key (every listener: API, admin, metrics). */
  tls: { certFile: string; keyFile: string } | undefined;
  /** Load a version only when a `model.onnx.sha256` file beside it matches the model file. */
  requireSha256: boolean;
  /** Serve the operator console at /console. */
  console: boolean;
  /** Node HTTP server timeouts against slow clients. */
  http: { headersTimeoutMs: number; requestTimeoutMs: number; keepAliveTimeoutMs: number };
  /** Per-request limits on decoded tensors and JSON bodies (beyond MAX_BODY_BYTES). */
  limits: { maxTensorElements: number; maxRowsPerRequest: number; maxInputs: number; maxBytesElementBytes: number; maxJsonDepth: number };
  rateLimit: { max: number; windowMs: number };
  maxBodyBytes: number;
  workerThreads: number;
  batching: { maxBatchSize: number; maxQueueDelayMs: number; maxQueueSize: number };
  shutdownTimeoutMs: number;
  warmup: boolean;
  /** Serve /metrics on this port instead of the API port. */
  metricsPort: number | undefined;
  /** Shared rate-limit counters for many replicas (fail open when Redis is down). */
  redisUrl: string | undefined;
  /** Serve the admin API on this port instead of the API port. */
  adminPort: number | undefined;
  /** How often each replica re-reads the shared repository and lifecycle state; 0 turns polling off. */
  repositoryPollIntervalMs: number;
  maxUploadBytes: number;
  shadowTolerance: number;
  /** Per-request metrics and drift; off only to measure what they cost (process metrics stay). */
  monitoring: boolean;
  drift: { enabled: boolean; maxFeatures: number; referenceRows: number; windowRows: number; intervalMs: number };
  feedback: { window: number; maxPending: number };
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(`invalid ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Reads the environment (process.env by default); throws ConfigError listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError('environment', formatIssues(parsed.error.issues));
  const e = parsed.data;
  return {
    nodeEnv: e.NODE_ENV,
    production: e.NODE_ENV === 'production',
    modelRepository: path.resolve(e.MODEL_REPOSITORY),
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    jwt: {
      secret: e.JWT_SECRET,
      publicKeyFile: e.JWT_PUBLIC_KEY_FILE,
      jwksUrl: e.JWKS_URL,
      jwksCacheMs: e.JWKS_CACHE_MS,
      clockSkewSeconds: e.JWT_CLOCK_SKEW_SECONDS,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
    },
    tls: e.TLS_CERT_FILE && e.TLS_KEY_FILE ? { certFile: e.TLS_CERT_FILE, keyFile: e.TLS_KEY_FILE } : undefined,
    requireSha256: e.REQUIRE_SHA256,
    console: e.CONSOLE_ENABLED,
    http: { headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS, requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS, keepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS },
    limits: {
      maxTensorElements: e.MAX_TENSOR_ELEMENTS,
      maxRowsPerRequest: e.MAX_ROWS_PER_REQUEST,
      maxInputs: e.MAX_INPUTS,
      maxBytesElementBytes: e.MAX_BYTES_ELEMENT_BYTES,
      maxJsonDepth: e.MAX_JSON_DEPTH,
    },
    rateLimit: { max: e.RATE_LIMIT_MAX, windowMs: e.RATE_LIMIT_WINDOW },
    maxBodyBytes: e.MAX_BODY_BYTES,
    workerThreads: e.WORKER_THREADS,
    batching: { maxBatchSize: e.MAX_BATCH_SIZE, maxQueueDelayMs: e.MAX_QUEUE_DELAY_MS, maxQueueSize: e.MAX_QUEUE_SIZE },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    warmup: e.WARMUP,
    metricsPort: e.METRICS_PORT,
    monitoring: e.MONITORING_ENABLED,
    adminPort: e.ADMIN_PORT,
    redisUrl: e.REDIS_URL,
    repositoryPollIntervalMs: e.REPOSITORY_POLL_INTERVAL_MS,
    maxUploadBytes: e.MAX_UPLOAD_BYTES,
    shadowTolerance: e.SHADOW_TOLERANCE,
    drift: { enabled: e.DRIFT_ENABLED, maxFeatures: e.DRIFT_MAX_FEATURES, referenceRows: e.DRIFT_REFERENCE_ROWS, windowRows: e.DRIFT_WINDOW_ROWS, intervalMs: e.DRIFT_INTERVAL_MS },
    feedback: { window: e.FEEDBACK_WINDOW, maxPending: e.FEEDBACK_MAX_PENDING },
  };
}
