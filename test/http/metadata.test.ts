// V2 server and model metadata and per-model readiness over a real port: versions are strings, variable
// dimensions are -1, sha256 is the file's on disk, load_time an ISO date; unknown models and versions are 404.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BUNDLED_MODELS, FIXTURE_MODELS, ROOT, auth, startServer, type Started } from '../helpers/server.js';

interface Tensor {
  name: string;
  datatype: string;
  shape: number[];
}
interface Metadata {
  name: string;
  versions: string[];
  platform: string;
  version: string;
  sha256: string;
  load_time: string;
  batched: boolean;
  inputs: Tensor[];
  outputs: Tensor[];
}

async function get(s: Started, url: string): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${s.url}${url}`, { headers: auth() });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

const sha256Of = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

function assertIsoDate(value: unknown): void {
  assert.equal(typeof value, 'string');
  assert.match(value as string, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
  assert.equal(new Date(value as string).toISOString(), value);
}

function assertError(res: { status: number; body: Record<string, unknown> }, status: number, includes: string): void {
  assert.equal(res.status, status);
  assert.deepEqual(Object.keys(res.body), ['error']);
  assert.ok((res.body.error as string).includes(includes), `"${res.body.error as string}" should mention ${includes}`);
}

describe('server metadata', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ MODEL_REPOSITORY: BUNDLED_MODELS });
  });
  after(() => s.close());

  it('names the server, its package version and an extensions list', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const res = await get(s, '/v2');
    assert.equal(res.status, 200);
    assert.equal(res.body.name, 'ortserve');
    assert.equal(res.body.version, pkg.version);
    assert.ok(Array.isArray(res.body.extensions), 'extensions is an array');
  });

  it('lists binary_tensor_data among the extensions', async () => {
    const res = await get(s, '/v2');
    assert.ok((res.body.extensions as string[]).includes('binary_tensor_data'), `extensions ${JSON.stringify(res.body.extensions)}`);
  });
});

describe('model metadata of the bundled models', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ MODEL_REPOSITORY: BUNDLED_MODELS });
  });
  after(() => s.close());

  it('describes the highest version of breast_cancer when no version is named', async () => {
    const res = await get(s, '/v2/models/breast_cancer');
    assert.equal(res.status, 200);
    const m = res.body as unknown as Metadata;
    assert.equal(m.name, 'breast_cancer');
    assert.deepEqual([...m.versions].sort(), ['1', '2']);
    assert.equal(m.version, '2');
    assert.equal(m.platform, 'onnxruntime_onnx');
    assert.deepEqual(m.inputs, [{ name: 'input', datatype: 'FP32', shape: [-1, 30] }]);
    assert.deepEqual(m.outputs, [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 2] }]);
    assert.equal(m.batched, true);
  });

  it('gives the sha256 of each version file as it is on disk', async () => {
    for (const v of ['1', '2']) {
      const res = await get(s, `/v2/models/breast_cancer/versions/${v}`);
      assert.equal(res.status, 200);
      assert.equal(res.body.version, v);
      assert.equal(res.body.sha256, sha256Of(path.join(BUNDLED_MODELS, 'breast_cancer', v, 'model.onnx')));
    }
  });

  it('gives the load time as an ISO date no later than now', async () => {
    const res = await get(s, '/v2/models/digits/versions/1');
    assertIsoDate(res.body.load_time);
    assert.ok(Date.parse(res.body.load_time as string) <= Date.now(), 'load_time is not in the future');
  });

  it('writes the variable batch dimension of a 4-d input as -1', async () => {
    const res = await get(s, '/v2/models/digits');
    const m = res.body as unknown as Metadata;
    assert.deepEqual(m.inputs, [{ name: 'image', datatype: 'FP32', shape: [-1, 1, 8, 8] }]);
    assert.deepEqual(m.outputs, [{ name: 'logits', datatype: 'FP32', shape: [-1, 10] }]);
    assert.deepEqual(m.versions, ['1']);
  });

  it('answers readiness for a model and for one of its versions', async () => {
    const model = await get(s, '/v2/models/breast_cancer/ready');
    assert.equal(model.status, 200);
    assert.equal(model.body.ready, true);
    assert.equal(model.body.name, 'breast_cancer');
    const version = await get(s, '/v2/models/breast_cancer/versions/1/ready');
    assert.equal(version.status, 200);
    assert.deepEqual(version.body, { name: 'breast_cancer', version: '1', ready: true });
  });

  it('answers 404 for an unknown model, on metadata and readiness', async () => {
    assertError(await get(s, '/v2/models/no_such_model'), 404, "'no_such_model'");
    assertError(await get(s, '/v2/models/no_such_model/ready'), 404, "'no_such_model'");
  });

  it('answers 404 for a version that does not exist or is not a version number', async () => {
    assertError(await get(s, '/v2/models/breast_cancer/versions/3'), 404, "version '3'");
    assertError(await get(s, '/v2/models/breast_cancer/versions/3/ready'), 404, "version '3'");
    assertError(await get(s, '/v2/models/breast_cancer/versions/latest'), 404, "version 'latest'");
    assertError(await get(s, '/v2/models/breast_cancer/versions/01'), 404, "version '01'");
  });
});

describe('model metadata of the fixture models', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ MODEL_REPOSITORY: FIXTURE_MODELS });
  });
  after(() => s.close());

  it('reports a first dimension that the file leaves unnamed as -1', async () => {
    const m = (await get(s, '/v2/models/unknown_batch')).body as unknown as Metadata;
    assert.deepEqual(m.inputs, [{ name: 'x', datatype: 'FP32', shape: [-1, 2] }]);
    assert.equal(m.batched, true);
  });

  it('reports a model without a batch dimension with its fixed shape and batched false', async () => {
    const m = (await get(s, '/v2/models/fixed_shape')).body as unknown as Metadata;
    assert.deepEqual(m.inputs, [{ name: 'x', datatype: 'FP32', shape: [2, 3] }]);
    assert.equal(m.batched, false);
  });

  it('lists several inputs and outputs with their own datatypes and ranks', async () => {
    const m = (await get(s, '/v2/models/multi_io/versions/1')).body as unknown as Metadata;
    assert.deepEqual(m.inputs, [
      { name: 'a', datatype: 'FP32', shape: [-1, 4] },
      { name: 'b', datatype: 'FP32', shape: [-1, 4] },
    ]);
    assert.deepEqual(m.outputs, [
      { name: 'sum', datatype: 'FP32', shape: [-1, 4] },
      { name: 'argmax', datatype: 'INT64', shape: [-1] },
    ]);
    assert.equal(m.sha256, sha256Of(path.join(FIXTURE_MODELS, 'multi_io', '1', 'model.onnx')));
  });

  it('names every datatype of the dtype fixtures in V2 terms', async () => {
    const expected: Record<string, string> = { dtype_fp32: 'FP32', dtype_fp64: 'FP64', dtype_int32: 'INT32', dtype_int64: 'INT64', dtype_uint8: 'UINT8', dtype_int8: 'INT8', dtype_bool: 'BOOL' };
    for (const [model, datatype] of Object.entries(expected)) {
      const m = (await get(s, `/v2/models/${model}`)).body as unknown as Metadata;
      assert.deepEqual(m.inputs, [{ name: 'x', datatype, shape: [-1, 3] }], model);
      assert.deepEqual(m.outputs, [{ name: 'y', datatype, shape: [-1, 3] }], model);
    }
  });
});
