// The admin API (scope `admin`): the V2 repository extension and ortserve's own lifecycle routes. Every action
// is carried out by lifecycle/model-admin.ts, which persists it and writes the audit line (who, what, before,
// after); this file only speaks HTTP.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { formatIssues } from '../../config/format-issues.js';
import { ERR_BAD_REQUEST } from '../../errors.js';
import type { ModelAdmin } from '../../lifecycle/model-admin.js';
import type { ModelManager } from '../../lifecycle/model-manager.js';

export interface AdminOptions {
  manager: ModelManager;
  admin: ModelAdmin;
  maxUploadBytes: number;
}

interface ModelParams {
  model: string;
  version?: string;
}

const trafficSchema = z.strictObject({
  weights: z.record(z.string(), z.number()),
  shadow: z.strictObject({ version: z.string(), fraction: z.number() }).nullable().optional(),
  revision: z.number().int().min(0).optional(),
});

function who(req: FastifyRequest): string {
  return req.principal?.sub ?? 'unknown';
}

export async function adminRoutes(app: FastifyInstance, opts: AdminOptions): Promise<void> {
  const { manager, admin } = opts;
  const config = { auth: 'admin' as const };
  // Model uploads: the raw ONNX bytes, in this plugin's routes only.
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: opts.maxUploadBytes }, (_req, body, done) => done(null, body));

  app.post('/v2/repository/index', { config }, async () => admin.index());
  app.post<{ Params: ModelParams }>('/v2/repository/models/:model/load', { config }, async (req) => {
    await admin.loadModel(req.params.model, who(req));
    return {};
  });
  app.post<{ Params: ModelParams }>('/v2/repository/models/:model/unload', { config }, async (req) => {
    await admin.unloadModel(req.params.model, who(req));
    return {};
  });

  app.get('/admin/models', { config }, async () => ({
    models: manager.list().map((m) => ({
      name: m.name,
      ...(m.reason ? { reason: m.reason } : {}),
      versions: [...m.versions.values()].map((v) => ({
        version: v.label,
        state: v.state,
        ...(v.reason ? { reason: v.reason } : {}),
        sha256: v.sha256 ?? null,
        load_time: v.loadedAt?.toISOString() ?? null,
        queue_depth: v.queueDepth,
      })),
      traffic: admin.traffic(m.name),
    })),
  }));

  app.put<{ Params: ModelParams; Querystring: { force?: string } }>(
    '/admin/models/:model/versions/:version',
    { config, bodyLimit: opts.maxUploadBytes },
    async (req, reply) => {
      if (!Buffer.isBuffer(req.body)) throw new ERR_BAD_REQUEST('send the ONNX file as the body with Content-Type: application/octet-stream');
      const sha = req.headers['x-content-sha256'];
      const result = await admin.upload(req.params.model, req.params.version!, req.body, {
        sha256: typeof sha === 'string' ? sha.trim() : undefined,
        force: req.query.force === 'true' || req.query.force === '1',
        by: who(req),
      });
      return reply.code(result.state === 'ready' ? 201 : 422).send(result.state === 'ready' ? result : { error: `uploaded version did not become ready: ${result.reason ?? result.state}` });
    },
  );
  app.delete<{ Params: ModelParams }>('/admin/models/:model/versions/:version', { config }, async (req) => {
    await admin.unloadVersion(req.params.model, req.params.version!, who(req));
    return { model: req.params.model, version: req.params.version, state: 'unloaded' };
  });

  app.get<{ Params: ModelParams }>('/admin/models/:model/traffic', { config }, async (req) => admin.traffic(req.params.model));
  app.put<{ Params: ModelParams }>('/admin/models/:model/traffic', { config }, async (req) => {
    const parsed = trafficSchema.safeParse(req.body);
    if (!parsed.success) throw new ERR_BAD_REQUEST(`invalid traffic table: ${formatIssues(parsed.error.issues).join('; ')}`);
    const { weights, shadow, revision } = parsed.data;
    return admin.setTraffic(req.params.model, { weights, shadow: shadow ?? null }, revision, who(req));
  });
  app.post<{ Params: ModelParams }>('/admin/models/:model/traffic/rollback', { config }, async (req) => admin.rollback(req.params.model, who(req)));
}
