// The one place where errors become HTTP answers: coded errors keep their status and message, Fastify's own
// client errors (bad JSON, too large, wrong content type) keep their 4xx, and anything else is a 500 whose body
// says nothing internal (the cause goes to the log). Every error body is exactly {"error": "..."}.
import type { FastifyError, FastifyInstance } from 'fastify';
import { ERR_BODY_TOO_LARGE, ERR_ROUTE_NOT_FOUND, ERR_UNSUPPORTED_MEDIA_TYPE, OrtserveError } from '../errors.js';

export interface ErrorBody {
  error: string;
}

export function toHttpError(err: unknown, maxBodyBytes: number, contentType?: string): { status: number; message: string; internal: boolean } {
  if (err instanceof OrtserveError) return { status: err.statusCode, message: err.message, internal: err.statusCode >= 500 && err.statusCode !== 503 && err.statusCode !== 504 };
  const e = err as FastifyError;
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, message: new ERR_BODY_TOO_LARGE(maxBodyBytes).message, internal: false };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, message: new ERR_UNSUPPORTED_MEDIA_TYPE((contentType ?? 'none').slice(0, 100)).message, internal: false };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, message: 'request body is empty; send a JSON object', internal: false };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, message: 'request body is not valid JSON', internal: false };
  }
  if (e instanceof SyntaxError || e.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') {
    return { status: 400, message: `malformed request body: ${e.message}`, internal: false };
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) return { status, message: e.message || 'bad request', internal: false };
  return { status: 500, message: 'internal server error', internal: true };
}

export function installErrorHandlers(app: FastifyInstance, maxBodyBytes: number): void {
  app.setErrorHandler((err, req, reply) => {
    const { status, message, internal } = toHttpError(err, req.routeOptions.bodyLimit ?? maxBodyBytes, req.headers['content-type']);
    if (internal) req.log.error({ err }, 'request failed');
    if (status === 503 && !reply.hasHeader('retry-after')) reply.header('Retry-After', '1');
    void reply.code(status).type('application/json; charset=utf-8').send({ error: message } satisfies ErrorBody);
  });
  app.setNotFoundHandler((req, reply) => {
    const url = req.url.split('?')[0] ?? req.url;
    void reply.code(404).send({ error: new ERR_ROUTE_NOT_FOUND(req.method, url.length > 200 ? `${url.slice(0, 200)}...` : url).message } satisfies ErrorBody);
  });
}
