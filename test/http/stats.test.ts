import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BUNDLED_MODELS, auth, startServer, type Started } from '../helpers/server.js';

interface Stats {
  model_stats: {
    name: string;
    version: string;
    last_inference: number;
    inference_count: number;
    execution_count: number;
    inference_stats: Record<'success' | 'fail' | 'queue' | 'compute_infer', { count: number; ns: number }>;
    batch_stats: { batch_size: number; compute_infer: { count: number } }[];
  }[];
}

/** Deterministic rows with the breast cancer features' rough magnitudes. */
function row(i: number): number[] {
  return Array.from({ length: 30 }, (_, j) => ((i * 31 + j * 17) % 97) / 10 + (j % 5) * 3);
}

describe('dynamic batching and statistics over a real port', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ MODEL_REPOSITORY: BUNDLED_MODELS, WORKER_THREADS: '1' });
  });
  after(() => s.close());

  const infer = async (rows: number[][], version = '1') => {
    const res = await fetch(`${s.url}/v2/models/breast_cancer/versions/${version}/infer`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'input', shape: [rows.length, 30], datatype: 'FP32', data: rows }] }),
    });
    assert.equal(res.status, 200);
    return ((await res.json()) as { outputs: { data: number[] }[] }).outputs[0]!.data;
  };
  const stats = async (path: string, headers = auth()) => {
    const res = await fetch(`${s.url}${path}`, { headers });
    return { status: res.status, body: (await res.json()) as Stats };
  };

  it('gives each of many concurrent requests its own rows, and runs carry more than one request', async () => {
    const n = 200;
    const alone = await Promise.all(Array.from({ length: 8 }, (_, i) => infer([row(i)])));
    const before = (await stats('/v2/models/breast_cancer/versions/1/stats')).body.model_stats[0]!;
    const together = await Promise.all(Array.from({ length: n }, (_, i) => infer([row(i % 8)])));
    for (let i = 0; i < n; i++) {
      const expected = alone[i % 8]!;
      const got = together[i]!;
      assert.equal(got.length, 2);
      for (let k = 0; k < 2; k++) assert.ok(Math.abs(got[k]! - expected[k]!) < 1e-6, `request ${i} got another request's rows`);
    }
    const afterStats = (await stats('/v2/models/breast_cancer/versions/1/stats')).body.model_stats[0]!;
    const rows = afterStats.inference_count - before.inference_count;
    const runs = afterStats.execution_count - before.execution_count;
    assert.equal(rows, n);
    assert.ok(runs < n, `expected batching to merge requests: ${runs} runs for ${n} requests`);
    assert.ok(afterStats.batch_stats.some((b) => b.batch_size > 1));
    assert.equal(afterStats.inference_stats.success.count - before.inference_stats.success.count, n);
    assert.ok(afterStats.last_inference >= before.last_inference && afterStats.last_inference > 0);
  });

  it('lists every served version in /v2/models/stats with Triton field names', async () => {
    const { status, body } = await stats('/v2/models/stats');
    assert.equal(status, 200);
    const names = body.model_stats.map((m) => `${m.name}/${m.version}`).sort();
    assert.deepEqual(names, ['breast_cancer/1', 'breast_cancer/2', 'digits/1']);
    for (const m of body.model_stats) {
      for (const k of ['success', 'fail', 'queue', 'compute_infer'] as const) assert.equal(typeof m.inference_stats[k].ns, 'number');
    }
  });

  it('counts failed requests', async () => {
    const before = (await stats('/v2/models/breast_cancer/versions/2/stats')).body.model_stats[0]!;
    await infer([row(1), row(2)], '2');
    const after = (await stats('/v2/models/breast_cancer/versions/2/stats')).body.model_stats[0]!;
    assert.equal(after.inference_count - before.inference_count, 2);
    assert.equal(after.inference_stats.fail.count, before.inference_stats.fail.count);
  });

  it('needs a token, and a per-model token sees only its model', async () => {
    assert.equal((await fetch(`${s.url}/v2/models/stats`)).status, 401);
    const own = await stats('/v2/models/stats', auth('predict:digits'));
    assert.equal(own.status, 200);
    assert.deepEqual(own.body.model_stats.map((m) => m.name), ['digits']);
    assert.equal((await stats('/v2/models/breast_cancer/stats', auth('predict:digits'))).status, 403);
    assert.equal((await stats('/v2/models/nope/stats')).status, 404);
    assert.equal((await stats('/v2/models/breast_cancer/versions/9/stats')).status, 404);
  });
});
