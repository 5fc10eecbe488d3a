// POST /v2/models/{m}[/versions/{v}]/infer: decode against the version's signature, queue in its batcher,
// answer with this request's rows. `id` is echoed, or the request id when absent. Bodies are JSON or Triton's
// binary tensor extension (see ../content-types.ts); outputs go back as JSON unless the request asks for raw bytes.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ModelManager } from '../../lifecycle/model-manager.js';
import type { RequestLimits } from '../codec/limits.js';
import { routingKey } from '../routing-key.js';
import { decodeInferRequest } from '../codec/v2-request.js';
import { inferResponseBinary, inferResponseJson } from '../codec/v2-response.js';
import { BinaryBody, registerContentTypes } from '../content-types.js';

export interface InferOptions {
  manager: ModelManager;
  limits: RequestLimits;
}

interface Params {
  model: string;
  version?: string;
}

export async function inferRoutes(app: FastifyInstance, opts: InferOptions): Promise<void> {
  const { manager, limits } = opts;
  registerContentTypes(app, { binaryTensors: true, maxJsonDepth: limits.maxJsonDepth });
  const handler = async (req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    const route = manager.route(req.params.model, req.params.version, routingKey(req.headers['x-routing-key']));
    const v = route.version;
    req.served = { model: v.model, version: v.label, handle: v };
    const timeoutHeader = req.headers['x-request-timeout-ms'];
    const body = req.body;
    const decoded =
      body instanceof BinaryBody
        ? decodeInferRequest(v.signature!, body.header, limits, timeoutHeader, { bytes: body.bytes, start: body.start, ownBuffer: true }) // a BinaryBody's bytes are the request's own
        : decodeInferRequest(v.signature!, body, limits, timeoutHeader);
    const id = decoded.id ?? req.id;
    const result = await manager.serve(route, decoded.inputs, decoded.rows, decoded.timeoutMs, id);
    if (decoded.binaryOutputs && decoded.binaryOutputs.size > 0) {
      const res = inferResponseBinary(v.model, v.label, id, result.outputs, decoded.outputNames, decoded.binaryOutputs);
      return reply.header('Inference-Header-Content-Length', res.headerBytes).type('application/octet-stream').send(res.body);
    }
    return reply.type('application/json; charset=utf-8').send(inferResponseJson(v.model, v.label, id, result.outputs, decoded.outputNames));
  };
  const config = { auth: 'predict' as const, inference: true };
  app.post<{ Params: Params }>('/v2/models/:model/infer', { config }, handler);
  app.post<{ Params: Params }>('/v2/models/:model/versions/:version/infer', { config }, handler);
}
