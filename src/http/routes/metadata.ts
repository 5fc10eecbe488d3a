// Server and model metadata, and per-model readiness (V2 REST). Versions are strings; a variable dimension is -1.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ModelManager } from '../../lifecycle/model-manager.js';
import type { ModelVersion } from '../../lifecycle/model-version.js';
import type { TensorSpec } from '../../lifecycle/signature.js';

export interface MetadataOptions {
  manager: ModelManager;
  serverVersion: string;
  extensions: string[];
}

interface ModelParams {
  model: string;
  version?: string;
}

const tensor = (t: TensorSpec) => ({ name: t.name, datatype: t.info.v2, shape: t.shape });

export function versionMetadata(manager: ModelManager, v: ModelVersion) {
  const model = manager.getModel(v.model);
  const versions = [...model.versions.values()].filter((x) => x.state === 'ready').map((x) => x.label);
  const sig = v.signature!;
  return {
    name: v.model,
    versions,
    platform: 'onnxruntime_onnx',
    inputs: sig.inputs.map(tensor),
    outputs: sig.outputs.map(tensor),
    version: v.label,
    sha256: v.sha256,
    load_time: v.loadedAt?.toISOString(),
    batched: sig.batched,
    ...(model.config.task ? { task: model.config.task } : {}),
    ...(model.config.labels ? { labels: model.config.labels } : {}),
  };
}

export async function metadataRoutes(app: FastifyInstance, opts: MetadataOptions): Promise<void> {
  const { manager } = opts;
  const config = { auth: 'predict' as const };

  app.get('/v2', { config: { auth: 'token' } }, async () => ({ name: 'ortserve', version: opts.serverVersion, extensions: opts.extensions }));

  const metadata = async (req: FastifyRequest<{ Params: ModelParams }>) => {
    const v = manager.getReadyVersion(req.params.model, req.params.version);
    req.served = { model: v.model, version: v.label };
    return versionMetadata(manager, v);
  };
  app.get<{ Params: ModelParams }>('/v2/models/:model', { config }, metadata);
  app.get<{ Params: ModelParams }>('/v2/models/:model/versions/:version', { config }, metadata);

  const ready = async (req: FastifyRequest<{ Params: ModelParams }>) => {
    const v = manager.getReadyVersion(req.params.model, req.params.version);
    req.served = { model: v.model, version: v.label };
    return { name: v.model, ...(req.params.version ? { version: v.label } : {}), ready: true };
  };
  app.get<{ Params: ModelParams }>('/v2/models/:model/ready', { config }, ready);
  app.get<{ Params: ModelParams }>('/v2/models/:model/versions/:version/ready', { config }, ready);
}
