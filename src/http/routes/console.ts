// The operator console: its static page (dist/console, built by scripts/build-console.mjs) at /console/ with no
// token, and the admin-scoped data the page reads beyond the admin API: live window statistics, chart history
// (observability/history.ts, sampled on a timer) and per-version monitoring (drift, feedback, shadow agreement).
// Invariant: only the static files are public; every data route declares `auth: 'admin'`, so the server, not the
// page, decides who sees what.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { ERR_BAD_REQUEST } from '../../errors.js';
import type { ModelManager } from '../../lifecycle/model-manager.js';
import type { ModelVersion } from '../../lifecycle/model-version.js';
import { History } from '../../observability/history.js';
import type { Metrics } from '../../observability/metrics.js';

export interface ConsoleOptions {
  manager: ModelManager;
  metrics?: Metrics;
  /** The built page; default dist/console of this checkout (the same from src/ under tsx and from dist/). */
  root?: string;
  /** How often the history sampler snapshots each version (default 5 s); it keeps 15 minutes. */
  sampleIntervalMs?: number;
}

/** src/http/routes and dist/http/routes are both three levels below the package root. */
export const DEFAULT_CONSOLE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../dist/console');

const DEFAULT_WINDOW_SECONDS = 300;

interface ModelParams {
  model: string;
  version?: string;
}

export async function consoleRoutes(app: FastifyInstance, opts: ConsoleOptions): Promise<void> {
  const { manager } = opts;
  const root = opts.root ?? DEFAULT_CONSOLE_ROOT;
  const history = new History({
    versions: () => manager.list().flatMap((m) => [...m.versions.values()]),
    metrics: opts.metrics,
    intervalMs: opts.sampleIntervalMs,
    onError: (err) => app.log.warn({ err }, 'console history: a sample failed'),
  });
  history.start();
  app.addHook('onClose', async () => history.stop());

  await app.register(async (scope) => {
    // The page itself needs no token (it asks for one); this scope holds nothing but the static files.
    scope.addHook('onRoute', (route) => {
      route.config = { ...(route.config ?? {}), auth: 'public' } as typeof route.config;
    });
    scope.get('/console', (_req, reply) => reply.redirect('/console/'));
    if (fs.existsSync(path.join(root, 'index.html'))) {
      await scope.register(fastifyStatic, {
        root,
        prefix: '/console/',
        decorateReply: false,
        dotfiles: 'ignore',
        index: 'index.html',
        // Unhashed file names: the browser revalidates (ETag) so a new build shows on the next load.
        cacheControl: false,
        setHeaders: (reply) => reply.header('Cache-Control', 'no-cache'),
      });
    } else {
      app.log.warn({ root }, 'the console is not built (run npm run build); /console answers 503');
      scope.get('/console/*', (_req, reply) => reply.code(503).send({ error: `the console is not built: ${root} has no index.html (run npm run build)` }));
    }
  });

  const config = { auth: 'admin' as const };
  const versionsOf = (name: string) => [...manager.getModel(name).versions.values()];

  // Every model's versions over the last window_seconds (default 300): rates, latency, errors, queue, shadow.
  app.get<{ Querystring: { window_seconds?: string } }>('/admin/stats', { config }, async (req) => {
    const windowSeconds = parseWindow(req.query.window_seconds, history.retainMs / 1000);
    const models = manager.list();
    const summaries = await history.summaries(models.flatMap((m) => [...m.versions.values()]), windowSeconds * 1000);
    return {
      window_seconds: windowSeconds,
      sample_interval_seconds: history.intervalMs / 1000,
      models: models.map((m) => ({
        name: m.name,
        versions: [...m.versions.values()].map((v) => ({ version: v.label, state: v.state, ...(summaries.get(v) ?? null) })),
      })),
    };
  });

  // Chart history of one model: per version, one point per sample interval over the last 15 minutes, and the
  // batch sizes run over that time.
  app.get<{ Params: ModelParams }>('/admin/models/:model/history', { config }, async (req) => {
    const versions = versionsOf(req.params.model);
    const summaries = await history.summaries(versions, history.retainMs);
    return {
      model_name: req.params.model,
      sample_interval_seconds: history.intervalMs / 1000,
      retain_seconds: history.retainMs / 1000,
      versions: versions
        .filter((v) => summaries.has(v))
        .map((v) => ({ version: v.label, state: v.state, points: history.points(v.model, v.label), batch_sizes: summaries.get(v)!.batch_sizes, queue_depth: v.queueDepth })),
    };
  });

  // One version's data: drift per feature (sorted by PSI) and of predictions, feedback accuracy, shadow agreement.
  app.get<{ Params: ModelParams }>('/admin/models/:model/versions/:version/monitoring', { config }, async (req) => {
    const v: ModelVersion = manager.getVersion(req.params.model, req.params.version);
    const accuracy = v.monitor?.currentAccuracy;
    const shadow = (await history.summaries([v], history.retainMs)).get(v)?.shadow ?? null;
    return {
      model_name: v.model,
      model_version: v.label,
      state: v.state,
      task: v.monitor?.task ?? null,
      drift: v.monitor?.driftReport() ?? null,
      feedback: accuracy ? { rows: accuracy.rows, accuracy: Number.isNaN(accuracy.accuracy) ? null : accuracy.accuracy } : null,
      shadow: shadow && shadow.requests > 0 ? shadow : null,
    };
  });
}

function parseWindow(raw: string | undefined, maxSeconds: number): number {
  if (raw === undefined || raw === '') return Math.min(DEFAULT_WINDOW_SECONDS, maxSeconds);
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 10 || n > maxSeconds) throw new ERR_BAD_REQUEST(`window_seconds must be an integer from 10 to ${maxSeconds}`);
  return n;
}
