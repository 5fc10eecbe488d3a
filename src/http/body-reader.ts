// Reads a request body into one buffer of its own, `pad` bytes in: the infer routes' body reader. It does what
// Fastify's own reader does (413 past the limit, declared or not; 400 when fewer or more bytes arrive than
// Content-Length says; a stream error is a 400) with one difference: the caller chooses where the body starts in
// its buffer. A binary-extension body is read `pad` bytes in so that its tensor bytes, which follow a JSON header
// of any length, start 8-byte aligned: each tensor can then be read as a typed array over the body itself, and
// the socket's chunks -> this buffer copy is the only one parsing makes (the issue's "without copying more than
// once"). Invariant: with `ownBuffer`, the returned Buffer is a view of an ArrayBuffer that nothing else uses
// (never Node's shared pool), whatever its size; without, a small body may sit in the pool (cheaper to allocate).
import type { Readable } from 'node:stream';
import { errorCodes } from 'fastify';

export type BodyDone = (err: Error | null, body?: Buffer) => void;

export interface BodyReadOptions {
  /** The route's body limit in bytes. */
  limit: number;
  /** The Content-Length header, if any. */
  contentLength: string | undefined;
  /** Bytes before the body in its buffer (0-7). */
  pad: number;
  /** The body gets an ArrayBuffer of its own (for views of it that must not alias anything else). */
  ownBuffer: boolean;
  /** Only count the bytes (a body read to be refused): `done` gets an empty buffer. */
  discard?: boolean;
}

/** Content-Length as a number (any length of digits: a huge one is over every limit); NaN when absent (chunked). */
function declaredLength(header: string | undefined): number {
  return header !== undefined && /^[0-9]+$/.test(header) ? Number(header) : NaN;
}

export function readBody(payload: Readable, o: BodyReadOptions, done: BodyDone): void {
  const declared = declaredLength(o.contentLength);
  if (declared > o.limit) return done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
  // The chunks are kept as they come (Node's HTTP parser gives each its own memory) and placed once at the end: a
  // buffer of the declared size allocated up front would let a slow client reserve it for a few bytes sent.
  const chunks: Buffer[] = [];
  let received = 0;
  const stop = () => {
    payload.removeListener('data', onData);
    payload.removeListener('end', onEnd);
    payload.removeListener('error', onEnd);
  };
  function onData(chunk: Buffer | string): void {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    received += b.length;
    if (received > o.limit) {
      stop();
      return done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    }
    if (!o.discard) chunks.push(b);
  }
  function onEnd(err?: Error & { statusCode?: number }): void {
    stop();
    if (err) {
      if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400;
      return done(err);
    }
    if (!Number.isNaN(declared) && received !== declared) return done(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
    if (o.discard) return done(null, Buffer.alloc(0));
    const out = (o.ownBuffer ? Buffer.allocUnsafeSlow : Buffer.allocUnsafe)(o.pad + received);
    let at = o.pad;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    done(null, out.subarray(o.pad));
  }
  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', onEnd);
  payload.resume();
}

/** Bytes to read a binary-extension body in by, so the byte after its `headerBytes`-long JSON header is 8-aligned. */
export function alignmentPad(headerBytes: number): number {
  return (8 - (headerBytes % 8)) % 8;
}
