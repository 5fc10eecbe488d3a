// POST /v1/models/{m}[/versions/{v}]:predict, the TF-Serving / KServe v1 route, with header X-Model-Version.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ModelManager } from '../../lifecycle/model-manager.js';
import type { RequestLimits } from '../codec/limits.js';
import { routingKey } from '../routing-key.js';
import { ERR_ROUTE_NOT_FOUND } from '../../errors.js';
import { decodeV1Request, predictionsOf } from '../codec/v1-predict.js';
import { registerContentTypes } from '../content-types.js';

export interface PredictOptions {
  manager: ModelManager;
  limits: RequestLimits;
}

interface Params {
  model: string;
  version?: string;
}

/** find-my-way cannot match a literal suffix inside a segment, so the last segment carries `<name>:predict`. */
export function splitVerb(segment: string | undefined): { name: string; verb: string } | undefined {
  if (segment === undefined) return undefined;
  const at = segment.lastIndexOf(':');
  if (at <= 0) return undefined;
  return { name: segment.slice(0, at), verb: segment.slice(at + 1) };
}

function target(params: Params): { model: string; version?: string } {
  const last = splitVerb(params.version ?? params.model);
  if (!last || last.verb !== 'predict') throw new ERR_ROUTE_NOT_FOUND('POST', `/v1/models/${params.model}${params.version ? `/versions/${params.version}` : ''}`);
  return params.version === undefined ? { model: last.name } : { model: params.model, version: last.name };
}

export async function predictV1Routes(app: FastifyInstance, opts: PredictOptions): Promise<void> {
  const { manager, limits } = opts;
  registerContentTypes(app, { binaryTensors: false });
  const handler = async (req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    const t = target(req.params);
    const route = manager.route(t.model, t.version, routingKey(req.headers['x-routing-key']));
    const v = route.version;
    req.served = { model: v.model, version: v.label, handle: v };
    const sig = v.signature!;
    const decoded = decodeV1Request(sig, req.body, limits);
    const result = await manager.serve(route, decoded.inputs, decoded.rows, undefined, req.id);
    const kinds = new Map(sig.outputs.map((o) => [o.name, o.info.kind]));
    reply.header('X-Model-Version', v.label);
    return { predictions: predictionsOf(result.outputs, kinds, sig.batched) };
  };
  const config = {
    auth: 'predict' as const,
    inference: true,
    modelOf: (p: Record<string, string | undefined>) => (p.version === undefined ? splitVerb(p.model)?.name : p.model),
  };
  app.post<{ Params: Params }>('/v1/models/:model', { config }, handler);
  app.post<{ Params: Params }>('/v1/models/:model/versions/:version', { config }, handler);
}
