// buildServer(config): the whole HTTP application without listen(), so tests can use inject() or a real port.
// Order matters: auth verification -> rate limit (keyed by the verified `sub`) -> auth enforcement -> routes.
import { randomUUID } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Config } from '../config/env.js';
import { ERR_RATE_LIMITED } from '../errors.js';
import { ModelManager } from '../lifecycle/model-manager.js';
import { ModelRepository } from '../repository/model-repository.js';
import { WorkerPool } from '../runtime/worker-pool.js';
import authPlugin, { addAuthEnforcement } from './auth.js';
import { registerDocs } from './docs.js';
import { installErrorHandlers } from './error-handler.js';
import { healthRoutes } from './routes/health.js';
import { inferRoutes } from './routes/infer.js';
import { metadataRoutes } from './routes/metadata.js';
import { predictV1Routes } from './routes/predict-v1.js';
import { statsRoutes } from './routes/stats.js';
import { SERVER_VERSION } from './version.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The model and version that served this request, for the request log. */
    served: { model: string; version: string } | null;
  }
  interface FastifyInstance {
    ortserve: Ortserve;
  }
}

export interface Ortserve {
  manager: ModelManager;
  pool: WorkerPool;
  /** Resolves when the initial load of the repository has finished (failed models included). */
  loaded: Promise<void>;
  /** Readiness turns false first when shutdown begins. */
  beginShutdown(): void;
}

export interface BuildOptions {
  logger?: FastifyBaseLogger;
}

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export async function buildServer(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    // One line per request comes from our onResponse hook, with model and version.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.maxBodyBytes,
    genReqId: (req) => {
      const h = req.headers['x-request-id'];
      return typeof h === 'string' && SAFE_REQUEST_ID.test(h) ? h : randomUUID();
    },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });

  const pool = new WorkerPool({
    size: config.workerThreads,
    onWorkerExit: (index, reason) => app.log.error({ worker: index, reason }, 'worker thread died; replacing it'),
  });
  const manager = new ModelManager({
    repository: new ModelRepository(config.modelRepository),
    pool,
    batching: config.batching,
    warmup: config.warmup,
    log: app.log,
  });
  let shuttingDown = false;
  const loaded = manager.loadAll();
  loaded.catch((err: Error) => app.log.error({ err }, `cannot read the model repository ${config.modelRepository}`));
  app.decorate('ortserve', { manager, pool, loaded, beginShutdown: () => void (shuttingDown = true) });
  app.decorateRequest('served', null);

  installErrorHandlers(app, config.maxBodyBytes);
  app.addHook('onRequest', async (req, reply) => {
    reply.header('X-Request-Id', req.id);
  });
  app.addHook('onResponse', async (req, reply) => {
    req.log.info(
      { method: req.method, url: req.url, model: req.served?.model, version: req.served?.version, statusCode: reply.statusCode, durationMs: Math.round(reply.elapsedTime * 1000) / 1000 },
      'request',
    );
  });

  await app.register(authPlugin, config.jwt);
  if (config.rateLimit.max > 0) {
    await app.register(rateLimit, {
      global: true,
      max: config.rateLimit.max,
      timeWindow: config.rateLimit.windowMs,
      hook: 'onRequest',
      keyGenerator: (req) => (req.principal ? `sub:${req.principal.sub}` : `ip:${req.ip}`),
      errorResponseBuilder: (_req, ctx) => new ERR_RATE_LIMITED(ctx.after),
    });
  }
  addAuthEnforcement(app);

  await registerDocs(app, SERVER_VERSION);
  const maxElements = config.maxBodyBytes;
  await app.register(healthRoutes, { manager, isShuttingDown: () => shuttingDown });
  await app.register(metadataRoutes, { manager, serverVersion: SERVER_VERSION, extensions: ['statistics'] });
  await app.register(inferRoutes, { manager, maxElements });
  await app.register(predictV1Routes, { manager, maxElements });
  await app.register(statsRoutes, { manager });

  app.addHook('onClose', async () => {
    shuttingDown = true;
    await loaded.catch(() => undefined);
    await manager.close();
    await pool.close();
  });
  return app;
}
