// GET /metrics: Prometheus text format 0.0.4, no token, not rate limited. With METRICS_PORT it is served by a
// separate small server instead of the API port (see buildMetricsServer).
import Fastify, { type FastifyInstance } from 'fastify';
import type { Metrics } from '../../observability/metrics.js';
import type { ListenerOptions } from '../listener-options.js';
import type { HeaderSet } from '../security-headers.js';

export async function metricsRoutes(app: FastifyInstance, opts: { metrics: Metrics }): Promise<void> {
  app.get('/metrics', { config: { auth: 'public', rateLimit: false } }, async (_req, reply) => {
    const text = await opts.metrics.text();
    return reply.type(opts.metrics.contentType).send(text);
  });
}

/** A server that answers only /metrics (and 404 otherwise), for METRICS_PORT. */
export async function buildMetricsServer(metrics: Metrics, listener: ListenerOptions, headers: HeaderSet): Promise<FastifyInstance> {
  const app = Fastify({ ...listener, logger: false, forceCloseConnections: true });
  app.addHook('onRequest', async (_req, reply) => {
    reply.headers(headers);
  });
  await app.register(metricsRoutes, { metrics });
  app.setNotFoundHandler((_req, reply) => void reply.code(404).send({ error: 'only /metrics is served on this port' }));
  return app;
}
