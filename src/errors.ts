// The one registry of coded errors. Every layer throws these; `http/error-handler.ts` is the only place
// that turns them into an HTTP status and the V2 error body `{"error": "..."}`.
// Invariant: each export's name equals its `code` (a test checks it), and `statusCode` is the HTTP status.

export class OrtserveError extends Error {
  readonly code: string;
  readonly statusCode: number;
  constructor(code: string, statusCode: number, message: string) {
    super(message);
    this.name = code;
    this.code = code;
    this.statusCode = statusCode;
  }
}

type ErrorClass<A extends unknown[]> = new (...args: A) => OrtserveError;

function defineError<A extends unknown[]>(code: string, statusCode: number, format: (...args: A) => string): ErrorClass<A> & { code: string; statusCode: number } {
  const cls = class extends OrtserveError {
    static readonly code = code;
    static readonly statusCode = statusCode;
    constructor(...args: A) {
      super(code, statusCode, format(...args));
    }
  };
  Object.defineProperty(cls, 'name', { value: code });
  return cls;
}

/** A request body or parameter that the protocol or the model cannot accept. */
export const ERR_BAD_REQUEST = defineError('ERR_BAD_REQUEST', 400, (message: string) => message);
/** An input tensor that does not fit the model (name, datatype, shape, data). */
export const ERR_INVALID_TENSOR = defineError('ERR_INVALID_TENSOR', 400, (input: string, problem: string) => `input '${input}': ${problem}`);
export const ERR_MODEL_NOT_FOUND = defineError('ERR_MODEL_NOT_FOUND', 404, (model: string) => `model '${model}' not found`);
export const ERR_VERSION_NOT_FOUND = defineError('ERR_VERSION_NOT_FOUND', 404, (model: string, version: string) => `version '${version}' of model '${model}' not found`);
export const ERR_MODEL_NOT_READY = defineError('ERR_MODEL_NOT_READY', 503, (model: string, version: string | undefined, state: string) =>
  version === undefined ? `model '${model}' has no ready version (${state})` : `version '${version}' of model '${model}' is not ready (${state})`);
export const ERR_UNAUTHORIZED = defineError('ERR_UNAUTHORIZED', 401, (reason: string) => reason);
export const ERR_FORBIDDEN = defineError('ERR_FORBIDDEN', 403, (reason: string) => reason);
export const ERR_QUEUE_FULL = defineError('ERR_QUEUE_FULL', 503, (model: string, version: string, size: number) =>
  `version '${version}' of model '${model}' is overloaded: queue full (${size} requests waiting); retry later`);
export const ERR_DEADLINE_EXCEEDED = defineError('ERR_DEADLINE_EXCEEDED', 504, (waitedMs: number) => `request timed out after waiting ${waitedMs} ms for a batch`);
/** The runtime failed to run a batch: a 500 for the requests in that batch only. */
export const ERR_INFERENCE_FAILED = defineError('ERR_INFERENCE_FAILED', 500, (model: string, version: string, reason: string) =>
  `inference failed for version '${version}' of model '${model}': ${reason}`);
export const ERR_SHUTTING_DOWN = defineError('ERR_SHUTTING_DOWN', 503, () => 'server is shutting down');
/** Readiness before the models that should load have finished loading. */
export const ERR_NOT_READY = defineError('ERR_NOT_READY', 503, () => 'models are still loading');
export const ERR_RATE_LIMITED = defineError('ERR_RATE_LIMITED', 429, (after: string) => `rate limit exceeded, retry in ${after}`);
export const ERR_BODY_TOO_LARGE = defineError('ERR_BODY_TOO_LARGE', 413, (limitBytes: number) => `request body is larger than ${limitBytes} bytes`);
export const ERR_UNSUPPORTED_MEDIA_TYPE = defineError('ERR_UNSUPPORTED_MEDIA_TYPE', 415, (type: string) =>
  `unsupported content type '${type}'; send application/json`);
export const ERR_ROUTE_NOT_FOUND = defineError('ERR_ROUTE_NOT_FOUND', 404, (method: string, url: string) => `no route ${method} ${url}`);
export const ERR_FEEDBACK_NOT_FOUND = defineError('ERR_FEEDBACK_NOT_FOUND', 404, (model: string, id: string) =>
  `no recent prediction of model '${model}' has id '${id}' (unknown, or forgotten: only the most recent FEEDBACK_MAX_PENDING are kept)`);
/** A lifecycle change that conflicts with the current state (stale revision, version still routed, ...). */
export const ERR_CONFLICT = defineError('ERR_CONFLICT', 409, (message: string) => message);
/** An uploaded model that cannot serve (not ONNX, truncated, or its inputs/outputs differ from the live version). */
export const ERR_UNPROCESSABLE_MODEL = defineError('ERR_UNPROCESSABLE_MODEL', 422, (message: string) => message);
