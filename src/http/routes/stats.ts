// V2 statistics extension (Triton's field names): GET /v2/models/stats and /v2/models/{m}[/versions/{v}]/stats.
// Any valid token may ask; the all-models form lists only the models the token may use.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ModelManager } from '../../lifecycle/model-manager.js';
import type { ModelVersion } from '../../lifecycle/model-version.js';
import { allows } from '../auth.js';

interface Params {
  model?: string;
  version?: string;
}

const entry = (v: ModelVersion) => ({ name: v.model, version: v.label, ...v.stats.snapshot() });
const served = (v: ModelVersion) => v.state === 'ready' || v.state === 'draining';

export async function statsRoutes(app: FastifyInstance, opts: { manager: ModelManager }): Promise<void> {
  const { manager } = opts;
  app.get('/v2/models/stats', { config: { auth: 'token' } }, async (req) => {
    const principal = req.principal!;
    const model_stats = manager
      .list()
      .filter((m) => allows(principal, 'predict', m.name))
      .flatMap((m) => [...m.versions.values()].filter(served).map(entry));
    return { model_stats };
  });
  const one = async (req: FastifyRequest<{ Params: Params }>) => {
    const model = manager.getModel(req.params.model!);
    const versions = req.params.version === undefined ? [...model.versions.values()].filter(served) : [manager.getVersion(model.name, req.params.version)];
    return { model_stats: versions.map(entry) };
  };
  app.get<{ Params: Params }>('/v2/models/:model/stats', { config: { auth: 'predict' } }, one);
  app.get<{ Params: Params }>('/v2/models/:model/versions/:version/stats', { config: { auth: 'predict' } }, one);
}
