// Errors that Fastify or Node answer before a request reaches the error handler: a URL Fastify cannot route (bad
// percent-encoding, a path parameter over maxParamLength) and HTTP the parser refuses (a Content-Length lie, a
// control character in a header, headers too large, a client too slow). They get the same {"error": "..."} body as
// every other error, so a client never has to parse two error formats.
import http from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/** Fastify's `frameworkErrors`: FST_ERR_BAD_URL (400), FST_ERR_MAX_PARAM_LENGTH (414) and the like. */
export function frameworkErrors(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
  const message =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path segment is too long' : err.code === 'FST_ERR_BAD_URL' ? 'the URL is not valid (bad percent-encoding)' : 'bad request';
  void reply.code(status).header('X-Request-Id', req.id).type('application/json; charset=utf-8').send({ error: message });
}

function answer(code: number, error: string): string {
  const body = JSON.stringify({ error });
  return `HTTP/1.1 ${code} ${http.STATUS_CODES[code]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/** Fastify's `clientErrorHandler`: the connection is closed after the answer, as HTTP requires here. */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let text: string;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') text = answer(408, 'the request was not received in time (HTTP_REQUEST_TIMEOUT_MS)');
  else if (err.code === 'HPE_HEADER_OVERFLOW') text = answer(431, 'the request headers are too large');
  else text = answer(400, 'malformed HTTP request');
  if (socket.writable) socket.write(text);
  socket.destroy();
}
