// Error answers of the protocol routes over a real port: each status with a body that is exactly
// {"error": "..."} naming what is wrong. 400 bad bodies and tensors, 404 unknown model/version/route,
// 415 non-JSON bodies, 413 beyond MAX_BODY_BYTES, 503 models that failed to load and readiness while they load,
// 500 a failing run.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildServer } from '../../src/http/server.js';
import { BUNDLED_MODELS, FIXTURE_MODELS, auth, startServer, testConfig, type Started } from '../helpers/server.js';

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  body: Record<string, unknown>;
}

async function send(s: Started, url: string, body: string | Buffer | undefined, headers: Record<string, string> = {}, method = 'POST'): Promise<Answer> {
  const res = await fetch(`${s.url}${url}`, {
    method,
    headers: { ...auth(), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: JSON.parse(text) as Record<string, unknown> };
}

const post = (s: Started, url: string, body: unknown, headers: Record<string, string> = {}) => send(s, url, JSON.stringify(body), headers);

/** The status, a JSON body that is exactly {"error": string}, and a message matching every pattern. */
function assertError(res: Answer, status: number, ...patterns: RegExp[]): void {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(Object.keys(res.body), ['error'], res.text);
  assert.equal(typeof res.body.error, 'string');
  for (const p of patterns) assert.match(res.body.error as string, p);
}

const x = (shape: number[], data: unknown, datatype = 'FP32', name = 'x') => ({ name, shape, datatype, data });

describe('400, 404 and 415 answers', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ MODEL_REPOSITORY: FIXTURE_MODELS });
  });
  after(() => s.close());

  const fp32 = '/v2/models/dtype_fp32/infer';

  it('answers malformed JSON with 400', async () => {
    assertError(await send(s, fp32, '{"inputs": [{"name": "x",'), 400, /JSON/);
    assertError(await send(s, fp32, ''), 400, /empty/);
  });

  it('answers a body that is not an object with 400', async () => {
    for (const body of ['[1, 2, 3]', '"inputs"', '42', 'null']) assertError(await send(s, fp32, body), 400, /JSON object/);
  });

  it('answers a body without inputs, or with an empty inputs list, with 400', async () => {
    assertError(await post(s, fp32, {}), 400, /inputs/);
    assertError(await post(s, fp32, { inputs: [] }), 400, /inputs/);
    assertError(await post(s, fp32, { inputs: 'x' }), 400, /inputs/);
  });

  it('answers an unknown input with 400 naming it and the model inputs', async () => {
    assertError(await post(s, fp32, { inputs: [x([1, 3], [1, 2, 3], 'FP32', 'z')] }), 400, /input 'z'/, /unknown/, /'x'/);
  });

  it('answers a missing input with 400 naming it', async () => {
    assertError(await post(s, '/v2/models/multi_io/infer', { inputs: [x([1, 4], [1, 2, 3, 4], 'FP32', 'a')] }), 400, /input 'b'/, /missing/);
  });

  it('answers an input given twice with 400', async () => {
    assertError(await post(s, fp32, { inputs: [x([1, 3], [1, 2, 3]), x([1, 3], [4, 5, 6])] }), 400, /input 'x'/, /more than once/);
  });

  it('answers a datatype other than the model input datatype with 400', async () => {
    assertError(await post(s, fp32, { inputs: [x([1, 3], [1, 2, 3], 'FP64')] }), 400, /input 'x'/, /FP64/, /FP32/);
    assertError(await post(s, fp32, { inputs: [x([1, 3], [1, 2, 3], 'FLOAT')] }), 400, /input 'x'/, /FLOAT/);
  });

  it('answers data whose length is not the product of the shape with 400', async () => {
    assertError(await post(s, fp32, { inputs: [x([2, 3], [1, 2, 3])] }), 400, /input 'x'/, /3 elements/, /6/);
    assertError(await post(s, fp32, { inputs: [x([1, 3], [1, 2, 3, 4])] }), 400, /input 'x'/, /data has 4 elements but shape needs 3/);
    assertError(await post(s, fp32, { inputs: [x([1, 3], [[1, 2], [3, 4]])] }), 400, /input 'x'/);
  });

  it('answers a shape whose rank or fixed dimension conflicts with the model with 400', async () => {
    assertError(await post(s, fp32, { inputs: [x([3], [1, 2, 3])] }), 400, /input 'x'/, /shape \[3\]/, /\[-1, 3\]/);
    assertError(await post(s, fp32, { inputs: [x([1, 4], [1, 2, 3, 4])] }), 400, /input 'x'/, /shape \[1, 4\]/);
    assertError(await post(s, fp32, { inputs: [x([0, 3], [])] }), 400, /input 'x'/, /batch/);
    assertError(await post(s, '/v2/models/fixed_shape/infer', { inputs: [x([2, 3, 1], [1, 2, 3, 4, 5, 6])] }), 400, /input 'x'/);
  });

  it('answers inputs whose batch dimensions differ with 400', async () => {
    const res = await post(s, '/v2/models/multi_io/infer', { inputs: [x([1, 4], [1, 2, 3, 4], 'FP32', 'a'), x([2, 4], [1, 2, 3, 4, 5, 6, 7, 8], 'FP32', 'b')] });
    assertError(res, 400, /input 'b'/, /batch dimension 2/, /'a'/);
  });

  it('answers numbers that overflow to infinity with 400', async () => {
    assertError(await send(s, fp32, '{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":[1,1e999,2]}]}'), 400, /input 'x'/, /element 1/, /Infinity/);
    assertError(await send(s, '/v2/models/dtype_fp64/infer', '{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP64","data":[-1e999,0,0]}]}'), 400, /input 'x'/);
  });

  it('answers an envelope field of the wrong type with 400', async () => {
    assertError(await post(s, fp32, { id: 5, inputs: [x([1, 3], [1, 2, 3])] }), 400, /id/);
    assertError(await post(s, fp32, { inputs: [x([1, -3], [1, 2, 3])] }), 400, /shape/);
    assertError(await post(s, fp32, { inputs: [x([1, 3], [1, 2, 3])], outputs: 'y' }), 400, /outputs/);
  });

  it('answers an unknown model with 404 on every V2 route', async () => {
    assertError(await post(s, '/v2/models/nope/infer', { inputs: [x([1, 3], [1, 2, 3])] }), 404, /model 'nope' not found/);
    assertError(await post(s, '/v2/models/nope/versions/1/infer', { inputs: [x([1, 3], [1, 2, 3])] }), 404, /model 'nope'/);
    assertError(await send(s, '/v2/models/nope', undefined, {}, 'GET'), 404, /model 'nope'/);
  });

  it('answers an unknown version with 404', async () => {
    assertError(await post(s, '/v2/models/dtype_fp32/versions/2/infer', { inputs: [x([1, 3], [1, 2, 3])] }), 404, /version '2'/);
    assertError(await post(s, '/v2/models/dtype_fp32/versions/one/infer', { inputs: [x([1, 3], [1, 2, 3])] }), 404, /version 'one'/);
  });

  it('answers an unknown route with 404 naming the method and path', async () => {
    assertError(await send(s, '/v2/models/dtype_fp32/predict', '{}'), 404, /POST \/v2\/models\/dtype_fp32\/predict/);
    assertError(await send(s, '/v3/anything', undefined, {}, 'GET'), 404, /GET \/v3\/anything/);
    assertError(await send(s, '/v2/models/dtype_fp32/infer', undefined, {}, 'GET'), 404, /GET/);
  });

  it('answers a text/plain body with 415 on the V2 and v1 routes', async () => {
    const body = JSON.stringify({ inputs: [x([1, 3], [1, 2, 3])] });
    assertError(await send(s, fp32, body, { 'content-type': 'text/plain' }), 415, /text\/plain/);
    assertError(await send(s, '/v1/models/dtype_fp32:predict', '{"instances":[[1,2,3]]}', { 'content-type': 'text/plain; charset=utf-8' }), 415, /text\/plain/);
    assertError(await send(s, fp32, body, { 'content-type': 'application/x-www-form-urlencoded' }), 415, /urlencoded/);
  });

  it('accepts JSON with a charset parameter', async () => {
    const res = await send(s, fp32, JSON.stringify({ inputs: [x([1, 3], [1, 2, 3])] }), { 'content-type': 'application/json; charset=utf-8' });
    assert.equal(res.status, 200, res.text);
  });
});

describe('500 for a failing run', () => {
  let s: Started;
  before(async () => {
    // A short queue delay lets concurrent requests gather into one batch.
    s = await startServer({ MODEL_REPOSITORY: FIXTURE_MODELS, MAX_QUEUE_DELAY_MS: '20' });
  });
  after(() => s.close());

  const gather = (idx: number) => ({
    inputs: [x([1, 4], [10, 20, 30, 40], 'FP32', 'data'), x([1, 1], [idx], 'INT64', 'idx')],
  });

  it('fails only the request whose run fails; the next request on the model succeeds', async () => {
    const bad = await post(s, '/v2/models/gather_fail/infer', gather(7));
    assertError(bad, 500, /gather_fail/, /version '1'/);
    const good = await post(s, '/v2/models/gather_fail/infer', gather(2));
    assert.equal(good.status, 200, good.text);
    assert.deepEqual((good.body.outputs as { data: number[] }[])[0]!.data, [30]);
    const again = await post(s, '/v2/models/gather_fail/infer', gather(7));
    assert.equal(again.status, 500);
    const other = await post(s, '/v2/models/dtype_fp32/infer', { inputs: [x([1, 3], [1, 2, 3])] });
    assert.equal(other.status, 200);
  });

  it('fails only the bad request when good requests share its batch', async () => {
    const statuses = await Promise.all(Array.from({ length: 12 }, (_, k) => post(s, '/v2/models/gather_fail/infer', gather(k === 5 ? 7 : 1)).then((r) => r.status)));
    assert.deepEqual(statuses, statuses.map((_, k) => (k === 5 ? 500 : 200)));
  });

  it('never puts a stack trace in a 500 body', async () => {
    const bad = await post(s, '/v2/models/gather_fail/infer', gather(9));
    assertError(bad, 500);
    const error = bad.body.error as string;
    assert.doesNotMatch(error, /\n\s+at /);
    assert.doesNotMatch(error, /\.(ts|js|mjs):\d+/);
    assert.doesNotMatch(error, /node_modules|node:internal/);
  });
});

describe('413 beyond MAX_BODY_BYTES', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ MODEL_REPOSITORY: FIXTURE_MODELS, MAX_BODY_BYTES: '2048' });
  });
  after(() => s.close());

  it('answers a body larger than the limit with 413 and one within it normally', async () => {
    const big = { inputs: [x([300, 3], new Array(900).fill(1.25))] };
    assert.ok(JSON.stringify(big).length > 2048, 'the body exceeds the limit');
    assertError(await post(s, '/v2/models/dtype_fp32/infer', big), 413, /2048 bytes/);
    assertError(await send(s, '/v1/models/dtype_fp32:predict', JSON.stringify({ instances: new Array(300).fill([1.25, 1.25, 1.25]) })), 413, /2048/);
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [300, 3], datatype: 'FP32', parameters: { binary_data_size: 3600 } }] }));
    const binary = Buffer.concat([header, Buffer.alloc(3600)]);
    assertError(await send(s, '/v2/models/dtype_fp32/infer', binary, { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) }), 413, /2048/);
    const small = await post(s, '/v2/models/dtype_fp32/infer', { inputs: [x([1, 3], [1, 2, 3])] });
    assert.equal(small.status, 200);
  });
});

describe('503 for models that failed to load', () => {
  let s: Started;
  let dir: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ortserve-errors-'));
    const put = (rel: string, content: string | Buffer) => {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), content);
    };
    const good = fs.readFileSync(path.join(FIXTURE_MODELS, 'dtype_fp32/1/model.onnx'));
    put('good/1/model.onnx', good);
    put('corrupt/1/model.onnx', Buffer.from('this is not an onnx protobuf at all'));
    put('badconfig/1/model.onnx', good);
    put('badconfig/config.json', '{"max_batch_size": "lots", "typo_key": 1}');
    s = await startServer({ MODEL_REPOSITORY: dir });
  });
  after(async () => {
    await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const body = { inputs: [x([1, 3], [1, 2, 3])] };

  it('answers a model whose only version file is corrupt with 503 and the load failure', async () => {
    const res = await post(s, '/v2/models/corrupt/infer', body);
    assertError(res, 503, /'corrupt'/, /failed/);
    assert.ok(res.headers.get('retry-after'), 'a 503 carries Retry-After');
    assertError(await post(s, '/v2/models/corrupt/versions/1/infer', body), 503, /version '1' of model 'corrupt'/, /failed/);
    assertError(await send(s, '/v2/models/corrupt', undefined, {}, 'GET'), 503, /'corrupt'/);
    assertError(await send(s, '/v2/models/corrupt/ready', undefined, {}, 'GET'), 503, /'corrupt'/);
    assertError(await send(s, '/v1/models/corrupt:predict', '{"instances":[[1,2,3]]}'), 503, /'corrupt'/);
  });

  it('answers a model whose config.json is invalid with 503 and the config problem', async () => {
    const res = await post(s, '/v2/models/badconfig/infer', body);
    assertError(res, 503, /'badconfig'/, /config\.json/, /max_batch_size/);
    assertError(await send(s, '/v2/models/badconfig', undefined, {}, 'GET'), 503, /config\.json/);
  });

  it('answers a version of a model with an invalid config.json with 503, not 404', async () => {
    assertError(await post(s, '/v2/models/badconfig/versions/1/infer', body), 503, /config\.json/);
  });

  it('still serves a good model in the same repository', async () => {
    const res = await post(s, '/v2/models/good/infer', body);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual((res.body.outputs as { data: number[] }[])[0]!.data, [2, 4, 6]);
  });
});

describe('503 from readiness while the models load', () => {
  it('answers GET /v2/health/ready with 503, the error body and Retry-After until the initial load is done, then 200', async () => {
    const app = await buildServer(testConfig({ MODEL_REPOSITORY: BUNDLED_MODELS }));
    try {
      let loadDone = false;
      const loaded = app.ortserve.loaded.then(() => {
        loadDone = true;
      });
      const early = await app.inject({ method: 'GET', url: '/v2/health/ready' });
      // Loading three versions into two worker threads takes hundreds of ms; the probe answers in a few.
      assert.equal(loadDone, false, 'the probe was answered before the load finished');
      assert.equal(early.statusCode, 503, early.body);
      assert.deepEqual(early.json(), { error: 'models are still loading' });
      assert.equal(early.headers['retry-after'], '1', 'the one error handler answers it, as every 503');
      await loaded;
      const ready = await app.inject({ method: 'GET', url: '/v2/health/ready' });
      assert.equal(ready.statusCode, 200, ready.body);
    } finally {
      await app.close();
    }
  });
});
