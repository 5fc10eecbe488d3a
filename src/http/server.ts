// buildServer(config): the whole HTTP application without listen(), so tests can use inject() or a real port.
// Order matters: auth verification -> rate limit (keyed by the verified `sub`) -> auth enforcement -> routes.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Config } from '../config/env.js';
import { ERR_RATE_LIMITED } from '../errors.js';
import { ModelAdmin } from '../lifecycle/model-admin.js';
import { ModelManager } from '../lifecycle/model-manager.js';
import { RepositoryPoller } from '../lifecycle/repository-poller.js';
import { StateStore } from '../lifecycle/state-store.js';
import { removeStaleTemps } from '../repository/atomic-file.js';
import type { ModelVersion } from '../lifecycle/model-version.js';
import { FeedbackStore } from '../observability/feedback.js';
import { Metrics } from '../observability/metrics.js';
import { ModelRepository } from '../repository/model-repository.js';
import { WorkerPool } from '../runtime/worker-pool.js';
import authPlugin, { addAuthEnforcement } from './auth.js';
import { registerDocs } from './docs.js';
import { installErrorHandlers } from './error-handler.js';
import { clientErrorHandler, frameworkErrors } from './framework-errors.js';
import { listenerOptions } from './listener-options.js';
import { createRedisClient } from './rate-limit-store.js';
import { type AdminOptions, adminRoutes } from './routes/admin.js';
import { consoleRoutes } from './routes/console.js';
import { driftRoutes } from './routes/drift.js';
import { feedbackRoutes } from './routes/feedback.js';
import { healthRoutes } from './routes/health.js';
import { inferRoutes } from './routes/infer.js';
import { metadataRoutes } from './routes/metadata.js';
import { buildMetricsServer, metricsRoutes } from './routes/metrics.js';
import { predictV1Routes } from './routes/predict-v1.js';
import { type HeaderSet, securityHeaders } from './security-headers.js';
import { statsRoutes } from './routes/stats.js';
import { SERVER_VERSION } from './version.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The model and version that served this request, for the request log and the request metrics. */
    served: { model: string; version: string; handle?: ModelVersion } | null;
  }
  interface FastifyInstance {
    ortserve: Ortserve;
  }
  interface FastifyContextConfig {
    /** An inference route: its requests count in inference_requests_total and its duration histogram. */
    inference?: boolean;
  }
}

export interface Ortserve {
  manager: ModelManager;
  admin: ModelAdmin;
  poller: RepositoryPoller;
  pool: WorkerPool;
  metrics: Metrics;
  /** With ADMIN_PORT: the server that answers the admin API (not listening yet). */
  adminServer: FastifyInstance | undefined;
  /** With METRICS_PORT: the server that answers /metrics (not listening yet). */
  metricsServer: FastifyInstance | undefined;
  /** Resolves when the initial load of the repository has finished (failed models included). */
  loaded: Promise<void>;
  /** Readiness turns false first when shutdown begins. */
  beginShutdown(): void;
}

export interface BuildOptions {
  logger?: FastifyBaseLogger;
}

/**
 * ADMIN_PORT: the admin API on its own listener (e.g. reachable only inside the cluster), with the same token
 * checks and error bodies as the API port; the API port then serves no admin route.
 */
async function buildAdminServer(config: Config, log: FastifyBaseLogger, opts: AdminOptions, headers: HeaderSet): Promise<FastifyInstance> {
  const admin = Fastify({
    ...listenerOptions(config),
    frameworkErrors,
    clientErrorHandler,
    loggerInstance: log,
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
    bodyLimit: config.maxBodyBytes,
  });
  admin.addHook('onRequest', async (_req, reply) => {
    reply.headers(headers);
  });
  installErrorHandlers(admin, config.maxBodyBytes);
  await admin.register(authPlugin, config.jwt);
  addAuthEnforcement(admin);
  await admin.register(adminRoutes, opts);
  return admin;
}

/** Removes temporary files in the repository's model folders and state folder. */
async function cleanRepository(root: string, report: (removed: string[]) => void): Promise<void> {
  let dirs: string[] = [];
  try {
    dirs = (await fs.readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => path.join(root, d.name));
  } catch {
    return;
  }
  const removed = (await Promise.all(dirs.map((d) => removeStaleTemps(d)))).flat();
  if (removed.length > 0) report(removed);
}

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export async function buildServer(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const headers = securityHeaders(config.tls !== undefined);
  const app = Fastify({
    ...listenerOptions(config),
    frameworkErrors,
    clientErrorHandler,
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

  const metrics = new Metrics();
  const pool = new WorkerPool({
    size: config.workerThreads,
    onWorkerExit: (index, reason) => {
      metrics.workerRestarts.inc();
      app.log.error({ worker: index, reason }, 'worker thread died; replacing it');
    },
  });
  metrics.runtime = { workers: () => pool.size, sessions: () => pool.sessionCount, workerHeapUsedBytes: () => pool.heapUsedBytes() };
  const feedback = new FeedbackStore(config.feedback.maxPending);
  const repository = new ModelRepository(config.modelRepository, { requireSha256: config.requireSha256 });
  const stateStore = new StateStore(config.modelRepository);
  const manager = new ModelManager({
    repository,
    stateStore,
    shadowTolerance: config.shadowTolerance,
    pool,
    metrics: config.monitoring ? metrics : undefined,
    monitoring: { drift: { ...config.drift, enabled: config.drift.enabled && config.monitoring }, feedbackWindow: config.feedback.window, feedback },
    batching: config.batching,
    warmup: config.warmup,
    log: app.log,
  });
  let shuttingDown = false;
  const admin = new ModelAdmin(manager, repository, stateStore, pool, app.log);
  const poller = new RepositoryPoller(manager, admin, repository, config.repositoryPollIntervalMs, app.log);
  // Leftovers of a crash (an upload or a state write cut short by kill -9) are removed before anything loads.
  const loaded = cleanRepository(config.modelRepository, (removed) => app.log.warn({ removed }, 'removed partial files left by an interrupted write'))
    .then(() => manager.loadAll())
    .then(() => poller.start());
  loaded.catch((err: Error) => app.log.error({ err }, `cannot read the model repository ${config.modelRepository}`));
  const metricsServer = config.metricsPort ? await buildMetricsServer(metrics, listenerOptions(config), headers) : undefined;
  app.decorate('ortserve', { manager, admin, poller, pool, metrics, metricsServer, adminServer: undefined, loaded, beginShutdown: () => void (shuttingDown = true) });
  app.decorateRequest('served', null);

  installErrorHandlers(app, config.maxBodyBytes);
  // The per-request hooks are callback-style, not async: every async hook costs the main thread a promise and a
  // microtask on each request.
  app.addHook('onRequest', (req, reply, done) => {
    reply.headers(headers);
    reply.header('X-Request-Id', req.id);
    done();
  });
  // While draining, tell keep-alive clients to reconnect elsewhere instead of holding the connection open.
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (shuttingDown) reply.header('Connection', 'close');
    done(null, payload);
  });
  const logRequests = ['trace', 'debug', 'info'].includes(app.log.level);
  app.addHook('onResponse', (req, reply, done) => {
    const seconds = reply.elapsedTime / 1000;
    if (config.monitoring) metrics.observeHttp(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, seconds);
    if (req.served?.handle && req.routeOptions.config.inference) req.served.handle.metrics?.requestDone(reply.statusCode, seconds);
    // Guarded: building the line's object costs main-thread time even when pino would drop it.
    if (logRequests) {
      req.log.info(
        { method: req.method, url: req.url, model: req.served?.model, version: req.served?.version, statusCode: reply.statusCode, durationMs: Math.round(reply.elapsedTime * 1000) / 1000 },
        'request',
      );
    }
    done();
  });

  await app.register(authPlugin, config.jwt);
  if (config.rateLimit.max > 0) {
    const redis = config.redisUrl ? createRedisClient(config.redisUrl, app.log, metrics.rateLimitStoreErrors) : undefined;
    if (redis) app.addHook('onClose', async () => void redis.disconnect());
    await app.register(rateLimit, {
      global: true,
      ...(redis ? { redis, nameSpace: 'ortserve-rate-limit-', skipOnError: true } : {}),
      max: config.rateLimit.max,
      timeWindow: config.rateLimit.windowMs,
      hook: 'onRequest',
      keyGenerator: (req) => (req.principal ? `sub:${req.principal.sub}` : `ip:${req.ip}`),
      errorResponseBuilder: (_req, ctx) => new ERR_RATE_LIMITED(ctx.after),
    });
  }
  addAuthEnforcement(app);

  await registerDocs(app, SERVER_VERSION);
  if (!metricsServer) await app.register(metricsRoutes, { metrics });
  await app.register(healthRoutes, { manager, isShuttingDown: () => shuttingDown });
  await app.register(metadataRoutes, { manager, serverVersion: SERVER_VERSION, extensions: ['statistics', 'binary_tensor_data'] });
  await app.register(inferRoutes, { manager, limits: config.limits });
  await app.register(predictV1Routes, { manager, limits: config.limits });
  await app.register(statsRoutes, { manager });
  await app.register(driftRoutes, { manager });
  await app.register(feedbackRoutes, { manager, feedback });
  const adminServer = config.adminPort ? await buildAdminServer(config, app.log, { manager, admin, maxUploadBytes: config.maxUploadBytes }, headers) : undefined;
  if (!adminServer) await app.register(adminRoutes, { manager, admin, maxUploadBytes: config.maxUploadBytes });
  app.ortserve.adminServer = adminServer;
  // The console calls the admin API from its own origin, so it is served where the admin API is (ADMIN_PORT or this port).
  if (config.console) await (adminServer ?? app).register(consoleRoutes, { manager, metrics });

  app.addHook('onClose', async () => {
    shuttingDown = true;
    await loaded.catch(() => undefined);
    await poller.stop();
    await manager.close();
    await pool.close();
    await metricsServer?.close();
    await app.ortserve.adminServer?.close();
  });
  return app;
}
