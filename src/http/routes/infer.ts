// POST /v2/models/{m}[/versions/{v}]/infer: decode against the version's signature, queue in its batcher,
// answer with this request's rows. `id` is echoed, or the request id when absent.
import type { FastifyInstance } from 'fastify';
import type { ModelManager } from '../../lifecycle/model-manager.js';
import { decodeJsonRequest } from '../codec/v2-request.js';
import { inferResponseJson } from '../codec/v2-response.js';

export interface InferOptions {
  manager: ModelManager;
  maxElements: number;
}

interface Params {
  model: string;
  version?: string;
}

export async function inferRoutes(app: FastifyInstance, opts: InferOptions): Promise<void> {
  const { manager, maxElements } = opts;
  const handler = async (req: import('fastify').FastifyRequest<{ Params: Params }>, reply: import('fastify').FastifyReply) => {
    const v = manager.getReadyVersion(req.params.model, req.params.version);
    req.served = { model: v.model, version: v.label };
    const decoded = decodeJsonRequest(v.signature!, req.body, maxElements, req.headers['x-request-timeout-ms']);
    const result = await v.infer(decoded.inputs, decoded.rows, decoded.timeoutMs);
    return reply.type('application/json; charset=utf-8').send(inferResponseJson(v.model, v.label, decoded.id ?? req.id, result.outputs, decoded.outputNames));
  };
  const config = { auth: 'predict' as const };
  app.post<{ Params: Params }>('/v2/models/:model/infer', { config }, handler);
  app.post<{ Params: Params }>('/v2/models/:model/versions/:version/infer', { config }, handler);
}
