import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BUNDLED_MODELS, auth, startServer, type Started } from '../helpers/server.js';

describe('bundled models over a real port', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ MODEL_REPOSITORY: BUNDLED_MODELS });
  });
  after(() => s.close());

  it('answers a V2 inference on the highest version of breast_cancer', async () => {
    const res = await fetch(`${s.url}/v2/models/breast_cancer/infer`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: new Array(30).fill(1) }] }),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { model_version: string; outputs: { shape: number[]; data: number[] }[] };
    assert.equal(body.model_version, '2');
    assert.deepEqual(body.outputs[0]!.shape, [1, 2]);
    assert.ok(Math.abs(body.outputs[0]!.data[0]! + body.outputs[0]!.data[1]! - 1) < 1e-5);
  });
});
