// REQUIRE_SHA256: a version loads only when `model.onnx.sha256` beside it names the model file's digest; uploads
// then must carry X-Content-Sha256 and leave a digest file behind, so the new version passes the same check.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { auth, BUNDLED_MODELS, FIXTURE_MODELS, startServer, type Started } from '../helpers/server.js';
import { removeRepo, tempRepo } from '../helpers/repo.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface AdminVersion {
  version: string;
  state: string;
  reason?: string;
}

async function versionsOf(s: Started, model: string): Promise<AdminVersion[]> {
  const res = await s.app.inject({ method: 'GET', url: '/admin/models', headers: auth('admin') });
  const body = res.json() as { models: { name: string; versions: AdminVersion[] }[] };
  return body.models.find((m) => m.name === model)?.versions ?? [];
}

describe('REQUIRE_SHA256', () => {
  let repo: string;
  let s: Started;
  const file = (model: string) => path.join(repo, model, '1', 'model.onnx');
  before(async () => {
    repo = tempRepo('ortserve-sha-', FIXTURE_MODELS);
    const digest = (model: string) => sha256(fs.readFileSync(file(model)));
    // dtype_fp32: a matching digest in sha256sum's format; dtype_int32: a bare matching digest;
    // dtype_fp64: a digest of other bytes; dtype_uint8: no digest file; dtype_int8: garbage.
    fs.writeFileSync(`${file('dtype_fp32')}.sha256`, `${digest('dtype_fp32')}  model.onnx\n`);
    fs.writeFileSync(`${file('dtype_int32')}.sha256`, digest('dtype_int32').toUpperCase());
    fs.writeFileSync(`${file('dtype_fp64')}.sha256`, `${digest('dtype_int32')}  model.onnx\n`);
    fs.writeFileSync(`${file('dtype_int8')}.sha256`, 'not a digest\n');
    s = await startServer({ MODEL_REPOSITORY: repo, REQUIRE_SHA256: 'true', REPOSITORY_POLL_INTERVAL_MS: '0' }, false);
  });
  after(async () => {
    await s.close();
    removeRepo(repo);
  });

  it('loads a version whose digest file matches, in either of the usual formats', async () => {
    for (const model of ['dtype_fp32', 'dtype_int32']) {
      const [v] = await versionsOf(s, model);
      assert.equal(v?.state, 'ready', `${model}: ${JSON.stringify(v)}`);
    }
    const res = await s.app.inject({ method: 'POST', url: '/v2/models/dtype_fp32/infer', headers: auth(), payload: { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] } });
    assert.equal(res.statusCode, 200);
  });

  it('refuses a version whose digest does not match, with the reason', async () => {
    const [v] = await versionsOf(s, 'dtype_fp64');
    assert.equal(v?.state, 'failed');
    assert.match(v!.reason!, /sha256 is [0-9a-f]{64} but model\.onnx\.sha256 says [0-9a-f]{64}/);
    const res = await s.app.inject({ method: 'POST', url: '/v2/models/dtype_fp64/infer', headers: auth(), payload: { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP64', data: [1, 2, 3] }] } });
    assert.ok(res.statusCode >= 400 && res.statusCode < 500 || res.statusCode === 503, `not served: ${res.statusCode}`);
  });

  it('refuses a version without a digest file, or with one that holds no digest', async () => {
    const [missing] = await versionsOf(s, 'dtype_uint8');
    assert.equal(missing?.state, 'failed');
    assert.match(missing!.reason!, /model\.onnx\.sha256 is missing/);
    const [garbage] = await versionsOf(s, 'dtype_int8');
    assert.equal(garbage?.state, 'failed');
    assert.match(garbage!.reason!, /does not start with a sha256 hex digest/);
  });

  it('asks an upload for X-Content-Sha256', async () => {
    const bytes = fs.readFileSync(file('dtype_fp32'));
    const res = await s.app.inject({ method: 'PUT', url: '/admin/models/dtype_fp32/versions/2', headers: { ...auth('admin'), 'content-type': 'application/octet-stream' }, payload: bytes });
    assert.equal(res.statusCode, 400);
    assert.match((res.json() as { error: string }).error, /REQUIRE_SHA256 is set: send .* X-Content-Sha256/);
    assert.equal(fs.existsSync(path.join(repo, 'dtype_fp32', '2')), false);
  });

  it('loads an upload with a matching X-Content-Sha256 and writes its digest file beside it', async () => {
    const bytes = fs.readFileSync(file('dtype_fp32'));
    const res = await s.app.inject({
      method: 'PUT',
      url: '/admin/models/dtype_fp32/versions/3',
      headers: { ...auth('admin'), 'content-type': 'application/octet-stream', 'x-content-sha256': sha256(bytes) },
      payload: bytes,
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(fs.readFileSync(path.join(repo, 'dtype_fp32', '3', 'model.onnx.sha256'), 'utf8'), `${sha256(bytes)}  model.onnx\n`);
    const v3 = (await versionsOf(s, 'dtype_fp32')).find((v) => v.version === '3');
    assert.equal(v3?.state, 'ready');
  });
});

describe('REQUIRE_SHA256 on the bundled models', () => {
  it('serves every bundled version: the training script writes their digest files', async () => {
    const s = await startServer({ MODEL_REPOSITORY: BUNDLED_MODELS, REQUIRE_SHA256: 'true', REPOSITORY_POLL_INTERVAL_MS: '0' }, false);
    try {
      const res = await s.app.inject({ method: 'GET', url: '/admin/models', headers: auth('admin') });
      const versions = (res.json() as { models: { name: string; versions: AdminVersion[] }[] }).models.flatMap((m) => m.versions.map((v) => `${m.name}/${v.version}:${v.state}`));
      assert.deepEqual(versions.sort(), ['breast_cancer/1:ready', 'breast_cancer/2:ready', 'digits/1:ready']);
    } finally {
      await s.close();
    }
  });
});
