// Request body parsers for the protocol routes. JSON goes through Fastify's own JSON parser (secure-json-parse).
// With `binaryTensors`, a body whose request carries `Inference-Header-Content-Length: N` is Triton's binary tensor
// extension (N bytes of JSON header, then raw tensor bytes) under any content type, JSON included. Any other
// content type is a 415. Registered inside the route plugins that use it, so it applies to their routes only;
// registering it again in the same or a child context replaces the parsers rather than failing.
import type { Readable } from 'node:stream';
import { errorCodes, type FastifyInstance, type FastifyRequest } from 'fastify';
import { ERR_BAD_REQUEST, ERR_UNSUPPORTED_MEDIA_TYPE } from '../errors.js';
import { JsonScanError, scanJson } from './codec/json-scan.js';
import { HOST_IS_LITTLE_ENDIAN } from './codec/v2-binary.js';
import { alignmentPad, readBody } from './body-reader.js';

export const INFERENCE_HEADER_LENGTH = 'inference-header-content-length';

/**
 * A binary-extension body: the parsed JSON header and the whole body (tensor bytes start at `start`). Invariant:
 * `bytes` is a view of an ArrayBuffer that only this request uses (read by body-reader.ts, never Node's shared
 * pool), so its tensors may be read as views of it.
 */
export class BinaryBody {
  constructor(
    readonly header: unknown,
    readonly bytes: Buffer,
    readonly start: number,
  ) {}
}

export interface ContentTypeOptions {
  /**
   * V2 infer routes: accept the binary tensor extension, and read JSON bodies with the scanner of json-scan.ts,
   * which fills tensor data straight from the bytes (about half the main-thread time of JSON.parse for an image).
   * Otherwise JSON only, through Fastify's parser.
   */
  binaryTensors: boolean;
  /** MAX_JSON_DEPTH, for the scanner's nesting bound (the body's envelope adds three levels). */
  maxJsonDepth?: number;
}

type Done = (err: Error | null, body?: unknown) => void;
type JsonParser = (req: FastifyRequest, body: string, done: Done) => void;

/** The Inference-Header-Content-Length header as a number; undefined when it is not a plain decimal. */
function headerLength(req: FastifyRequest): number | undefined {
  const raw = req.headers[INFERENCE_HEADER_LENGTH];
  const text = typeof raw === 'string' ? raw.trim() : '';
  return /^[0-9]{1,15}$/.test(text) ? Number(text) : undefined;
}

/** Parses a binary-extension body whose JSON header is `headerBytes` long; throws a 400 for a header that does not fit or is not JSON. */
function parseBinaryBody(req: FastifyRequest, body: Buffer, headerBytes: number, json: JsonParser): BinaryBody {
  if (headerBytes > body.length) throw new ERR_BAD_REQUEST(`Inference-Header-Content-Length is ${headerBytes} but the body has only ${body.length} bytes`);
  let header: unknown;
  let failed = false;
  // Fastify's JSON parser calls back synchronously.
  json(req, body.toString('utf8', 0, headerBytes), (err, value) => {
    failed = err !== null;
    header = value;
  });
  if (failed) throw new ERR_BAD_REQUEST(`the JSON header (the first ${headerBytes} bytes of the body, per Inference-Header-Content-Length) is not valid JSON`);
  return new BinaryBody(header, body, headerBytes);
}

export function registerContentTypes(app: FastifyInstance, opts: ContentTypeOptions): void {
  if (opts.binaryTensors && !HOST_IS_LITTLE_ENDIAN) throw new Error('the binary tensor extension needs a little-endian host');
  const json = app.getDefaultJsonParser(app.initialConfig.onProtoPoisoning ?? 'error', app.initialConfig.onConstructorPoisoning ?? 'error') as JsonParser;
  // Replace, not add: a parent context may have registered these already (adding twice throws).
  app.removeContentTypeParser(['application/json', 'text/plain', 'application/octet-stream']);
  const unsupported = (req: FastifyRequest) => new ERR_UNSUPPORTED_MEDIA_TYPE(String(req.headers['content-type'] ?? '(none)').slice(0, 100));

  if (!opts.binaryTensors) {
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => json(req, body as string, done));
    // No parseAs: rejected before the body is read.
    app.addContentTypeParser('*', (req, _payload, done) => done(unsupported(req)));
    return;
  }

  const scanOptions = {
    // Tensor data may nest 33 levels (tensor-fill.ts walks 32 below the data array).
    maxDepth: Math.max(36, (opts.maxJsonDepth ?? 32) + 3),
    protoAction: app.initialConfig.onProtoPoisoning ?? 'error',
    constructorAction: app.initialConfig.onConstructorPoisoning ?? 'error',
    // Built once here: scanInferBody would spread these options into a new object on every body.
    packTensorData: true,
  } as const;
  const scan = (body: Buffer, done: Done) => {
    if (body.length === 0) return done(new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY());
    let value: unknown;
    try {
      value = scanJson(body, scanOptions);
    } catch (err) {
      return done(err instanceof JsonScanError ? new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY() : (err as Error));
    }
    done(null, value);
  };
  // Every body of these routes is read by body-reader.ts into a buffer of its own: a binary-extension body at the
  // offset that aligns its tensor bytes, so they are read as views of it (one copy in all: socket -> body).
  const bodyOptions = (req: FastifyRequest) => ({ limit: req.routeOptions.bodyLimit ?? app.initialConfig.bodyLimit, contentLength: req.headers['content-length'] });
  /** With `pad`, the body gets an ArrayBuffer of its own, `pad` bytes in; without, any buffer will do (JSON). */
  const read = (req: FastifyRequest, payload: Readable, done: Done, then: (body: Buffer) => void, pad?: number) =>
    readBody(payload, { ...bodyOptions(req), pad: pad ?? 0, ownBuffer: pad !== undefined }, (err, body) => (err ? done(err) : then(body!)));
  /** Reads a body only to refuse it (bytes counted, not kept): a 413 or a bad length still wins over `refusal`. */
  const refuse = (req: FastifyRequest, payload: Readable, done: Done, refusal: Error) =>
    readBody(payload, { ...bodyOptions(req), pad: 0, ownBuffer: false, discard: true }, (err) => done(err ?? refusal));
  const binary = (req: FastifyRequest, payload: Readable, done: Done) => {
    const headerBytes = headerLength(req);
    if (headerBytes === undefined) {
      const raw = String(req.headers[INFERENCE_HEADER_LENGTH]).slice(0, 40);
      return refuse(req, payload, done, new ERR_BAD_REQUEST(`Inference-Header-Content-Length must be the JSON header's length in bytes, got ${JSON.stringify(raw)}`));
    }
    read(req, payload, done, (body) => {
      try {
        done(null, parseBinaryBody(req, body, headerBytes, json));
      } catch (err) {
        done(err as Error);
      }
    }, alignmentPad(headerBytes));
  };
  const isBinary = (req: FastifyRequest) => req.headers[INFERENCE_HEADER_LENGTH] !== undefined;
  // JSON is read as bytes: the scanner reads them, and a JSON-typed binary body is not mangled by UTF-8 decoding.
  app.addContentTypeParser('application/json', (req, payload, done) => {
    if (isBinary(req)) binary(req, payload, done);
    else read(req, payload, done, (body) => scan(body, done));
  });
  app.addContentTypeParser('application/octet-stream', (req, payload, done) => {
    if (isBinary(req)) binary(req, payload, done);
    else refuse(req, payload, done, new ERR_BAD_REQUEST('an application/octet-stream body is a binary tensor request: send the JSON header length in the Inference-Header-Content-Length header'));
  });
  // Any other type (text/plain, none, ...) only with the binary header. The body is read (up to bodyLimit) before
  // a 415, as it was when Fastify read these bodies.
  app.addContentTypeParser('*', (req, payload, done) => {
    if (isBinary(req)) binary(req, payload, done);
    else refuse(req, payload, done, unsupported(req));
  });
}
