import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WireTensor } from '../../src/runtime/protocol.js';
import { RunError, type RunResult, WorkerPool } from '../../src/runtime/worker-pool.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = path.join(ROOT, 'test/fixtures/models');

function fixture(name: string): Promise<Uint8Array> {
  return fs.readFile(path.join(FIXTURES, name, '1', 'model.onnx'));
}

function fp32(name: string, dims: number[], values: number[]): WireTensor {
  return { name, type: 'float32', dims, data: new Float32Array(values) };
}

function outputOf(r: RunResult, name: string): WireTensor {
  const o = r.outputs.find((t) => t.name === name);
  assert.ok(o, `output ${name}`);
  return o;
}

/** Retries `attempt` until it resolves (a replacement worker needs a moment to start and reload its sessions). */
async function eventually<T>(attempt: () => Promise<T>, tries = 200): Promise<T> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      return await attempt();
    } catch (err) {
      last = err;
      await sleep(50);
    }
  }
  throw last;
}

describe('WorkerPool with real workers and fixture models', () => {
  let pool: WorkerPool;

  before(async () => {
    pool = new WorkerPool({ size: 2 });
    await pool.load('fp32', await fixture('dtype_fp32'), {}, true);
    await pool.load('multi', await fixture('multi_io'), {}, true);
    await pool.load('gather', await fixture('gather_fail'), {}, true);
  });

  after(() => pool.close());

  it('has the number of workers it was asked for', () => {
    assert.equal(pool.size, 2);
  });

  it('returns the signature on load, with -1 for the batch dimension', async () => {
    const sig = await pool.load('fp32-again', await fixture('dtype_fp32'), {}, false);
    assert.deepEqual(sig.inputs, [{ name: 'x', type: 'float32', isTensor: true, shape: [-1, 3], dimNames: ['batch', undefined] }]);
    assert.deepEqual(sig.outputs, [{ name: 'y', type: 'float32', isTensor: true, shape: [-1, 3], dimNames: ['batch', undefined] }]);
    pool.unload('fp32-again');
  });

  it('reports an unnamed unknown first dimension as -1 without a name', async () => {
    const sig = await pool.load('unknown', await fixture('unknown_batch'), {}, true);
    assert.deepEqual(sig.inputs, [{ name: 'x', type: 'float32', isTensor: true, shape: [-1, 2], dimNames: [undefined, undefined] }]);
    assert.deepEqual(sig.outputs.map((o) => o.shape), [[-1, 2]]);
    pool.unload('unknown');
  });

  it('reports a fixed shape as it is', async () => {
    const sig = await pool.load('fixed', await fixture('fixed_shape'), {}, true);
    assert.deepEqual(sig.inputs.map((i) => i.shape), [[2, 3]]);
    pool.unload('fixed');
  });

  it('reports every input and output of a multi-output model with its type', async () => {
    const sig = await pool.load('multi-sig', await fixture('multi_io'), {}, false);
    assert.deepEqual(sig.inputs.map((i) => [i.name, i.type, i.shape]), [['a', 'float32', [-1, 4]], ['b', 'float32', [-1, 4]]]);
    assert.deepEqual(sig.outputs.map((o) => [o.name, o.type, o.shape]), [['sum', 'float32', [-1, 4]], ['argmax', 'int64', [-1]]]);
    pool.unload('multi-sig');
  });

  it('computes y = x + x on dtype_fp32', async () => {
    const r = await pool.run('fp32', [fp32('x', [2, 3], [1, 2, 3, -4, 0.5, 6])], ['y']);
    const y = outputOf(r, 'y');
    assert.equal(y.type, 'float32');
    assert.deepEqual(y.dims, [2, 3]);
    assert.deepEqual(Array.from(y.data as Float32Array), [2, 4, 6, -8, 1, 12]);
    assert.ok(r.computeNs > 0);
  });

  it('copies a feed that is a view into a larger buffer instead of transferring that buffer', async () => {
    const backing = new Float32Array([9, 9, 1, 2, 3, 9]);
    const r = await pool.run('fp32', [{ name: 'x', type: 'float32', dims: [1, 3], data: backing.subarray(2, 5) }], ['y']);
    assert.deepEqual(Array.from(outputOf(r, 'y').data as Float32Array), [2, 4, 6]);
    assert.equal(backing.length, 6, 'the backing buffer is still usable');
  });

  it('computes the sum and argmax of multi_io', async () => {
    const a = [1, 5, 2, 0, -1, -2, -3, 7];
    const b = [10, 20, 30, 40, 1, 1, 1, 1];
    const r = await pool.run('multi', [fp32('a', [2, 4], a), fp32('b', [2, 4], b)], ['sum', 'argmax']);
    assert.deepEqual(outputOf(r, 'sum').dims, [2, 4]);
    assert.deepEqual(Array.from(outputOf(r, 'sum').data as Float32Array), [11, 25, 32, 40, 0, -1, -2, 8]);
    const argmax = outputOf(r, 'argmax');
    assert.equal(argmax.type, 'int64');
    assert.deepEqual(argmax.dims, [2]);
    assert.ok(argmax.data instanceof BigInt64Array);
    assert.deepEqual(Array.from(argmax.data), [1n, 3n]);
  });

  it('returns only the outputs it is asked for', async () => {
    const r = await pool.run('multi', [fp32('a', [1, 4], [0, 0, 9, 0]), fp32('b', [1, 4], [0, 0, 0, 0])], ['argmax']);
    assert.deepEqual(r.outputs.map((o) => o.name), ['argmax']);
    assert.deepEqual(Array.from(r.outputs[0]!.data as BigInt64Array), [2n]);
  });

  it('answers concurrent runs each with its own result', async () => {
    const runs = Array.from({ length: 20 }, (_, i) => pool.run('fp32', [fp32('x', [1, 3], [i, i + 1, i + 2])], ['y']));
    const results = await Promise.all(runs);
    for (const [i, r] of results.entries()) assert.deepEqual(Array.from(outputOf(r, 'y').data as Float32Array), [2 * i, 2 * i + 2, 2 * i + 4]);
  });

  it('rejects a run that fails in onnxruntime with RunError, and the next run on the session succeeds', async () => {
    const data = () => fp32('data', [1, 4], [10, 20, 30, 40]);
    const idx = (i: bigint): WireTensor => ({ name: 'idx', type: 'int64', dims: [1, 1], data: new BigInt64Array([i]) });
    await assert.rejects(pool.run('gather', [data(), idx(7n)], ['y']), (err: unknown) => {
      assert.ok(err instanceof RunError);
      assert.match(err.message, /out of range/i);
      return true;
    });
    const r = await pool.run('gather', [data(), idx(2n)], ['y']);
    assert.deepEqual(Array.from(outputOf(r, 'y').data as Float32Array), [30]);
  });

  it('rejects a run on a key that was unloaded', async () => {
    await pool.load('short-lived', await fixture('dtype_fp32'), {}, false);
    assert.ok(await pool.run('short-lived', [fp32('x', [1, 3], [1, 1, 1])], ['y']));
    pool.unload('short-lived');
    await assert.rejects(pool.run('short-lived', [fp32('x', [1, 3], [1, 1, 1])], ['y']), RunError);
  });

  it('rejects a run on a key that was never loaded', async () => {
    await assert.rejects(pool.run('nothing-here', [fp32('x', [1, 3], [1, 1, 1])], ['y']), RunError);
  });

  it('rejects a load of bytes that are not a model, and keeps serving the others', async () => {
    await assert.rejects(pool.load('garbage', new TextEncoder().encode('not an onnx model'), {}, true), RunError);
    await assert.rejects(pool.run('garbage', [fp32('x', [1, 3], [1, 1, 1])], ['y']), RunError);
    const r = await pool.run('fp32', [fp32('x', [1, 3], [1, 1, 1])], ['y']);
    assert.deepEqual(Array.from(outputOf(r, 'y').data as Float32Array), [2, 2, 2]);
  });

  it('rejects a run with feeds that do not fit the model with RunError', async () => {
    await assert.rejects(pool.run('fp32', [fp32('x', [1, 4], [1, 2, 3, 4])], ['y']), RunError);
  });
});

describe('WorkerPool compute time', () => {
  let pool: WorkerPool;

  before(async () => {
    pool = new WorkerPool({ size: 1 });
    await pool.load('fp32', await fixture('dtype_fp32'), {}, true);
  });

  after(() => pool.close());

  it('counts each run of several queued on one worker once: their compute times fit in the wall time of all of them', async () => {
    // Three large runs sent together: the worker holds the second and third while the first computes. Each
    // computeNs must be that run's own time (the stats extension's compute_infer), so the three add up to no
    // more than the time from sending the first to the last answer. Counting from each message's arrival
    // instead would count the first run three times and the second twice.
    const rows = 2_000_000;
    const feeds = [1, 2, 3].map((v) => [fp32('x', [rows, 3], [])].map((t) => ({ ...t, data: new Float32Array(rows * 3).fill(v) })));
    const t0 = process.hrtime.bigint();
    const results = await Promise.all(feeds.map((f) => pool.run('fp32', f, ['y'])));
    const wallNs = Number(process.hrtime.bigint() - t0);
    const sum = results.reduce((n, r) => n + r.computeNs, 0);
    assert.ok(results.every((r) => r.computeNs > 0));
    assert.ok(sum <= wallNs, `compute times add up to ${(sum / 1e6).toFixed(1)} ms, more than the ${(wallNs / 1e6).toFixed(1)} ms all three took`);
    assert.deepEqual([...(outputOf(results[2]!, 'y').data as Float32Array).subarray(0, 3)], [6, 6, 6]);
  });
});

describe('WorkerPool when a worker dies', () => {
  let pool: WorkerPool;
  const exits: { index: number; reason: string }[] = [];

  before(async () => {
    pool = new WorkerPool({ size: 1, onWorkerExit: (index, reason) => exits.push({ index, reason }) });
    await pool.load('fp32', await fixture('dtype_fp32'), {}, true);
    await pool.load('multi', await fixture('multi_io'), {}, true);
  });

  after(() => pool.close());

  it('replaces a killed idle worker and gives the replacement every session back', async () => {
    await pool.killWorker(0);
    assert.deepEqual(exits.map((e) => e.index), [0]);
    // With one worker, a run can only succeed on the replacement, and only once it has reloaded the sessions.
    const r = await eventually(() => pool.run('fp32', [fp32('x', [1, 3], [1, 2, 3])], ['y']));
    assert.deepEqual(Array.from(outputOf(r, 'y').data as Float32Array), [2, 4, 6]);
    const m = await pool.run('multi', [fp32('a', [1, 4], [0, 3, 1, 2]), fp32('b', [1, 4], [1, 1, 1, 1])], ['sum', 'argmax']);
    assert.deepEqual(Array.from(outputOf(m, 'sum').data as Float32Array), [1, 4, 2, 3]);
    assert.deepEqual(Array.from(outputOf(m, 'argmax').data as BigInt64Array), [1n]);
  });

  it('fails the run a dying worker had started, and marks the runs queued behind it as never started', async () => {
    // Ready again after the previous test's kill (a run succeeds only on a ready worker).
    await eventually(() => pool.run('fp32', [fp32('x', [1, 3], [1, 2, 3])], ['y']));
    const runs = [1, 2, 3].map((v) => pool.run('fp32', [fp32('x', [1, 3], [v, v, v])], ['y']));
    const killed = pool.killWorker(0);
    const outcomes = await Promise.allSettled(runs);
    await killed;
    const errors = outcomes.map((o) => (o.status === 'rejected' ? (o.reason as RunError) : undefined));
    assert.ok(errors.every((e) => e instanceof RunError), 'every run sent to the killed worker fails');
    assert.deepEqual(errors.map((e) => e!.started), [true, false, false]);
    assert.match(errors[1]!.message, /before the run started/);
    // The replacement serves.
    const r = await eventually(() => pool.run('fp32', [fp32('x', [1, 3], [4, 5, 6])], ['y']));
    assert.deepEqual(Array.from(outputOf(r, 'y').data as Float32Array), [8, 10, 12]);
  });

  it('rejects runs after close', async () => {
    const closing = new WorkerPool({ size: 1 });
    await closing.close();
    await assert.rejects(closing.run('fp32', [fp32('x', [1, 3], [1, 2, 3])], ['y']), RunError);
  });
});

// Terminating a worker thread while onnxruntime is inside session.run aborts the whole process ("terminate
// called after throwing an instance of 'Napi::Error'", SIGABRT), so these scenarios run in a child process: a
// crash there fails the test instead of killing this file.
const POOL_URL = new URL('../../src/runtime/worker-pool.ts', import.meta.url).href;
const FP32_FILE = path.join(FIXTURES, 'dtype_fp32', '1', 'model.onnx');

function runChild(body: string): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  const code = `
    import fs from 'node:fs';
    import { WorkerPool, RunError } from ${JSON.stringify(POOL_URL)};
    const bytes = fs.readFileSync(${JSON.stringify(FP32_FILE)});
    const rows = 300_000;
    const big = () => [{ name: 'x', type: 'float32', dims: [rows, 3], data: new Float32Array(rows * 3).fill(1) }];
    const small = () => [{ name: 'x', type: 'float32', dims: [1, 3], data: new Float32Array([1, 2, 3]) }];
    const outcome = (p) => p.then(() => 'ok', (e) => (e instanceof RunError ? 'RunError: ' + e.message : 'other: ' + e));
    ${body}
  `;
  // A script file, not --eval: worker threads inherit execArgv, and --input-type would stop them from starting.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ortserve-pool-'));
  try {
    const script = path.join(dir, 'scenario.mjs');
    writeFileSync(script, code);
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('WorkerPool with runs in flight (in a child process)', () => {
  it(
    'fails the runs in flight on a killed worker and keeps answering afterwards',
    {},
    () => {
      const r = runChild(`
        const pool = new WorkerPool({ size: 1 });
        await pool.load('fp32', bytes, {}, true);
        const runs = Array.from({ length: 30 }, () => outcome(pool.run('fp32', big(), ['y'])));
        await runs[0]; // the worker is now busy with the other 29
        await pool.killWorker(0);
        const outcomes = await Promise.all(runs);
        let after = 'never';
        for (let i = 0; i < 200 && after !== 'ok'; i++) {
          after = await outcome(pool.run('fp32', small(), ['y']));
          if (after !== 'ok') await new Promise((r) => setTimeout(r, 50));
        }
        await pool.close();
        console.log(JSON.stringify({ outcomes, after }));
      `);
      assert.equal(r.signal, null, `child died with ${r.signal}: ${r.stderr.slice(-500)}`);
      assert.equal(r.status, 0, r.stderr.slice(-500));
      const { outcomes, after } = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { outcomes: string[]; after: string };
      const failures = outcomes.filter((o) => o !== 'ok');
      assert.ok(failures.length > 0, 'some runs were in flight when the worker died');
      for (const f of failures) assert.match(f, /^RunError: worker thread exited/);
      assert.equal(after, 'ok');
    },
  );

  it(
    'close() with runs in flight fails or finishes them instead of crashing the process',
    {},
    () => {
      const r = runChild(`
        const pool = new WorkerPool({ size: 1 });
        await pool.load('fp32', bytes, {}, true);
        const runs = Array.from({ length: 30 }, () => outcome(pool.run('fp32', big(), ['y'])));
        await runs[0]; // the worker is now busy with the other 29
        await pool.close();
        console.log(JSON.stringify({ outcomes: await Promise.all(runs) }));
      `);
      assert.equal(r.signal, null, `child died with ${r.signal}: ${r.stderr.slice(-500)}`);
      assert.equal(r.status, 0, r.stderr.slice(-500));
      const { outcomes } = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { outcomes: string[] };
      for (const o of outcomes) assert.ok(o === 'ok' || o.startsWith('RunError: '), o);
    },
  );
});
