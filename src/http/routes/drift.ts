// GET /v2/models/{m}[/versions/{v}]/drift: per feature, the reference and current proportions per bin and the PSI
// (sorted by PSI), and the prediction drift, so a person can see the shift, not only a number.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ERR_BAD_REQUEST } from '../../errors.js';
import type { ModelManager } from '../../lifecycle/model-manager.js';

interface Params {
  model: string;
  version?: string;
}

export async function driftRoutes(app: FastifyInstance, opts: { manager: ModelManager }): Promise<void> {
  const { manager } = opts;
  const handler = async (req: FastifyRequest<{ Params: Params }>) => {
    const v = manager.getReadyVersion(req.params.model, req.params.version);
    req.served = { model: v.model, version: v.label };
    const report = v.monitor?.driftReport();
    if (!report) throw new ERR_BAD_REQUEST(`drift monitoring is off for version '${v.label}' of model '${v.model}' (DRIFT_ENABLED=false)`);
    const accuracy = v.monitor!.currentAccuracy;
    return {
      model_name: v.model,
      model_version: v.label,
      task: v.monitor!.task ?? null,
      ...report,
      feedback: { rows: accuracy.rows, accuracy: Number.isNaN(accuracy.accuracy) ? null : accuracy.accuracy },
    };
  };
  const config = { auth: 'predict' as const };
  app.get<{ Params: Params }>('/v2/models/:model/drift', { config }, handler);
  app.get<{ Params: Params }>('/v2/models/:model/versions/:version/drift', { config }, handler);
}
