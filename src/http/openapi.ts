// The OpenAPI 3 document served at /docs/json and rendered at /docs. Written by hand (static mode) because
// request bodies are validated by our own decoders, not by Fastify route schemas; a test checks that every
// route the server registers appears here.
const error = { $ref: '#/components/responses/Error' };
const bearer = [{ bearer: [] as string[] }];
const modelParam = { name: 'model', in: 'path', required: true, schema: { type: 'string' } };
const versionParam = { name: 'version', in: 'path', required: true, schema: { type: 'string', pattern: '^[1-9][0-9]*$' }, description: 'a positive integer, as a string' };
const v1Param = { name: 'target', in: 'path', required: true, schema: { type: 'string' }, description: 'the model name followed by `:predict`, e.g. `breast_cancer:predict`' };

const inferOp = (summary: string, params: object[]) => ({
  tags: ['inference'],
  summary,
  security: bearer,
  parameters: [...params, { name: 'X-Request-Timeout-Ms', in: 'header', schema: { type: 'number' }, description: 'fail with 504 instead of running later than this' }],
  requestBody: {
    required: true,
    content: {
      'application/json': { schema: { $ref: '#/components/schemas/InferRequest' } },
      'application/octet-stream': { schema: { type: 'string', format: 'binary' }, description: 'binary tensor extension: a JSON header of Inference-Header-Content-Length bytes, then raw little-endian tensor bytes' },
    },
  },
  responses: {
    200: { description: 'outputs of this request', content: { 'application/json': { schema: { $ref: '#/components/schemas/InferResponse' } } } },
    400: error, 401: error, 403: error, 404: error, 413: error, 415: error, 429: error, 500: error, 503: error, 504: error,
  },
});

const metadataOp = (summary: string, params: object[]) => ({
  tags: ['metadata'],
  summary,
  security: bearer,
  parameters: params,
  responses: { 200: { description: 'model metadata', content: { 'application/json': { schema: { $ref: '#/components/schemas/ModelMetadata' } } } }, 401: error, 403: error, 404: error, 503: error },
});

const readyOp = (summary: string, params: object[]) => ({
  tags: ['health'],
  summary,
  security: bearer,
  parameters: params,
  responses: { 200: { description: 'ready', content: { 'application/json': { schema: { type: 'object', properties: { name: { type: 'string' }, version: { type: 'string' }, ready: { type: 'boolean' } } } } } }, 401: error, 403: error, 404: error, 503: error },
});

const predictOp = (summary: string, params: object[]) => ({
  tags: ['inference'],
  summary,
  security: bearer,
  parameters: params,
  requestBody: {
    required: true,
    content: {
      'application/json': {
        schema: {
          oneOf: [
            { type: 'object', required: ['instances'], properties: { instances: { type: 'array', description: 'rows; for a multi-input model each row is an object keyed by input name' } } },
            { type: 'object', required: ['inputs'], properties: { inputs: { description: 'columnar: the whole tensor, or an object keyed by input name' } } },
          ],
        },
      },
    },
  },
  responses: {
    200: { description: 'one prediction per row; header X-Model-Version names the version', content: { 'application/json': { schema: { type: 'object', properties: { predictions: { type: 'array', items: {} } } } } } },
    400: error, 401: error, 403: error, 404: error, 429: error, 500: error, 503: error,
  },
});

const duration = { type: 'object', properties: { count: { type: 'integer' }, ns: { type: 'integer' } } };
const statsOp = (summary: string, params: object[]) => ({
  tags: ['statistics'],
  summary,
  security: bearer,
  parameters: params,
  responses: {
    200: {
      description: "V2 statistics extension, Triton's field names",
      content: {
        'application/json': {
          schema: {
            type: 'object',
            properties: {
              model_stats: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    name: { type: 'string' },
                    version: { type: 'string' },
                    last_inference: { type: 'integer', description: 'ms since the epoch, 0 if never' },
                    inference_count: { type: 'integer', description: 'rows inferred' },
                    execution_count: { type: 'integer', description: 'onnxruntime runs' },
                    inference_stats: { type: 'object', properties: { success: duration, fail: duration, queue: duration, compute_infer: duration } },
                    batch_stats: { type: 'array', items: { type: 'object', properties: { batch_size: { type: 'integer' }, compute_infer: duration } } },
                  },
                },
              },
            },
          },
        },
      },
    },
    401: error, 403: error, 404: error,
  },
});

const tensor = {
  type: 'object',
  required: ['name', 'shape', 'datatype'],
  properties: {
    name: { type: 'string' },
    shape: { type: 'array', items: { type: 'integer', minimum: 0 } },
    datatype: { type: 'string', enum: ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP32', 'FP64', 'BYTES'] },
    parameters: { type: 'object', additionalProperties: true },
    data: { type: 'array', items: {}, description: 'row-major, flat or nested' },
  },
};

export function openApiDocument(version: string): Record<string, unknown> {
  return {
    openapi: '3.0.3',
    info: {
      title: 'ortserve',
      version,
      description: 'ONNX model server: Open Inference Protocol (KServe V2) REST and the TF-Serving style :predict route. Every route except health and /docs needs `Authorization: Bearer <JWT>` with scope `predict` (any model) or `predict:<model>`.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      responses: { Error: { description: 'error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } } },
      schemas: {
        Error: { type: 'object', required: ['error'], properties: { error: { type: 'string' } }, additionalProperties: false },
        Tensor: tensor,
        InferRequest: {
          type: 'object',
          required: ['inputs'],
          properties: {
            id: { type: 'string' },
            parameters: { type: 'object', properties: { timeout_ms: { type: 'number' }, binary_data_output: { type: 'boolean' } }, additionalProperties: true },
            inputs: { type: 'array', items: { $ref: '#/components/schemas/Tensor' } },
            outputs: { type: 'array', items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, parameters: { type: 'object', additionalProperties: true } } } },
          },
        },
        InferResponse: {
          type: 'object',
          properties: { model_name: { type: 'string' }, model_version: { type: 'string' }, id: { type: 'string' }, outputs: { type: 'array', items: { $ref: '#/components/schemas/Tensor' } } },
        },
        TensorMetadata: { type: 'object', properties: { name: { type: 'string' }, datatype: { type: 'string' }, shape: { type: 'array', items: { type: 'integer' }, description: '-1 marks a variable dimension' } } },
        ModelMetadata: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            versions: { type: 'array', items: { type: 'string' } },
            platform: { type: 'string', example: 'onnxruntime_onnx' },
            inputs: { type: 'array', items: { $ref: '#/components/schemas/TensorMetadata' } },
            outputs: { type: 'array', items: { $ref: '#/components/schemas/TensorMetadata' } },
            version: { type: 'string', description: 'the version described' },
            sha256: { type: 'string' },
            load_time: { type: 'string', format: 'date-time' },
          },
        },
      },
    },
    paths: {
      '/v2/health/live': { get: { tags: ['health'], summary: 'liveness', responses: { 200: { description: 'live' } } } },
      '/v2/health/ready': { get: { tags: ['health'], summary: 'readiness: every model that should load has loaded', responses: { 200: { description: 'ready' }, 503: error } } },
      '/v2': { get: { tags: ['metadata'], summary: 'server metadata', security: bearer, responses: { 200: { description: 'name, version, extensions' }, 401: error } } },
      '/v2/models/{model}': { get: metadataOp('model metadata (the version that serves unversioned requests)', [modelParam]) },
      '/v2/models/{model}/versions/{version}': { get: metadataOp('metadata of one version', [modelParam, versionParam]) },
      '/v2/models/{model}/ready': { get: readyOp('model readiness', [modelParam]) },
      '/v2/models/{model}/versions/{version}/ready': { get: readyOp('version readiness', [modelParam, versionParam]) },
      '/v2/models/{model}/infer': { post: inferOp('inference on the version that serves unversioned requests', [modelParam]) },
      '/v2/models/{model}/versions/{version}/infer': { post: inferOp('inference on one version', [modelParam, versionParam]) },
      '/v2/models/stats': { get: statsOp('statistics of every model the token may use', []) },
      '/v2/models/{model}/stats': { get: statsOp('statistics of a model (every served version)', [modelParam]) },
      '/v2/models/{model}/versions/{version}/stats': { get: statsOp('statistics of one version', [modelParam, versionParam]) },
      '/v1/models/{target}': { post: predictOp('TF-Serving style predict: POST /v1/models/<model>:predict', [v1Param]) },
      '/v1/models/{model}/versions/{target}': { post: predictOp('TF-Serving style predict on one version: POST /v1/models/<model>/versions/<version>:predict', [modelParam, { ...v1Param, description: 'the version followed by `:predict`' }]) },
    },
  };
}
