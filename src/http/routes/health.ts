// Liveness and readiness (no token): live while the process runs; ready once every model that should load has
// finished loading (failed versions do not hold it back) and until shutdown begins.
import type { FastifyInstance } from 'fastify';
import { ERR_NOT_READY, ERR_SHUTTING_DOWN } from '../../errors.js';
import type { ModelManager } from '../../lifecycle/model-manager.js';

export interface HealthOptions {
  manager: ModelManager;
  isShuttingDown: () => boolean;
}

export async function healthRoutes(app: FastifyInstance, opts: HealthOptions): Promise<void> {
  const config = { auth: 'public' as const, rateLimit: false as const };
  app.get('/v2/health/live', { config }, async () => ({ live: true }));
  app.get('/v2/health/ready', { config }, async () => {
    // Through the one error handler: 503, the {error} body, Retry-After.
    if (opts.isShuttingDown()) throw new ERR_SHUTTING_DOWN();
    if (!opts.manager.isReady()) throw new ERR_NOT_READY();
    return { ready: true };
  });
}
