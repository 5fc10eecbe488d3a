import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as flushIo, setTimeout as sleep } from 'node:timers/promises';
import { ERR_DEADLINE_EXCEEDED, ERR_QUEUE_FULL } from '../../src/errors.js';
import { datatypeFromV2 } from '../../src/runtime/datatypes.js';
import {
  type BatcherOptions,
  type BatchEvents,
  type BatchResult,
  type BatchRunner,
  type BatchTensor,
  DynamicBatcher,
  type RequestInput,
  RunNotStartedError,
} from '../../src/scheduler/dynamic-batcher.js';

const FP32 = datatypeFromV2('FP32')!;

/** One input `x` of `rows` x `cols` float32 values start, start+1, ... so every request's data is distinct. */
function fp32(rows: number, cols: number, start: number, name = 'x'): RequestInput {
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = start + i;
  return { name, type: 'float32', info: FP32, dims: [rows, cols], data };
}

/** What the fake model computes: `<name>_out` = 10 * input, same shape, plus `rowsum` [rows] of the first input. */
function model(feeds: BatchTensor[]): BatchTensor[] {
  const outputs: BatchTensor[] = feeds.map((f) => ({
    name: `${f.name}_out`,
    type: 'float32',
    dims: [...f.dims],
    data: Float32Array.from(f.data as Float32Array, (v) => v * 10),
  }));
  const first = feeds[0]!;
  const rows = first.dims[0]!;
  const cols = first.data.length / rows;
  const sums = new Float32Array(rows);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) sums[r]! += (first.data as Float32Array)[r * cols + c]!;
  outputs.push({ name: 'rowsum', type: 'float32', dims: [rows], data: sums });
  return outputs;
}

interface Run {
  feeds: BatchTensor[];
  /** Answers the run with `outputs` (default: what `model` computes). */
  /** Answers with `outputs` (default: what `model` computes), reporting `computeNs` (default 1,234 ns). */
  complete(outputs?: BatchTensor[], computeNs?: number): void;
  fail(err: Error): void;
}

/** A runner the test controls: records every batch and answers it only when told (or at once when `auto`). */
class FakeRunner {
  readonly runs: Run[] = [];
  active = 0;
  peak = 0;
  auto: boolean;
  constructor(auto = false) {
    this.auto = auto;
  }
  readonly run: BatchRunner = (feeds) => {
    this.active++;
    this.peak = Math.max(this.peak, this.active);
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = () => {
        assert.equal(done, false, 'a run is answered once');
        done = true;
        this.active--;
      };
      const run: Run = {
        feeds,
        complete: (outputs = model(feeds), computeNs = 1234) => {
          finish();
          resolve({ outputs, computeNs });
        },
        fail: (err) => {
          finish();
          reject(err);
        },
      };
      this.runs.push(run);
      if (this.auto) queueMicrotask(() => run.complete());
    });
  };
  /** Rows of every recorded run, in order. */
  get rowsPerRun(): number[] {
    return this.runs.map((r) => r.feeds[0]!.dims[0]!);
  }
}

function batcher(runner: FakeRunner, opts: Partial<BatcherOptions> = {}): DynamicBatcher {
  return new DynamicBatcher(runner.run, {
    maxBatchSize: 8,
    batched: true,
    maxQueueDelayMs: 0,
    maxQueueSize: 100,
    maxInFlight: 1,
    queueFull: (waiting) => new ERR_QUEUE_FULL('m', '1', waiting),
    deadlineExceeded: (waitedMs) => new ERR_DEADLINE_EXCEEDED(waitedMs),
    ...opts,
  });
}

/** Lets promise reactions and the batcher's follow-up dispatches run. */
const flush = () => flushIo();

function values(t: BatchTensor | undefined): number[] {
  assert.ok(t);
  return Array.from(t.data as Float32Array);
}

function output(r: BatchResult, name: string): BatchTensor {
  const o = r.outputs.find((t) => t.name === name);
  assert.ok(o, `output ${name}`);
  return o;
}

/** Tracks whether a promise has settled, without letting a rejection go unhandled. */
function track<T>(p: Promise<T>): { settled: boolean; value?: T; error?: unknown; promise: Promise<T> } {
  const s: { settled: boolean; value?: T; error?: unknown; promise: Promise<T> } = { settled: false, promise: p };
  p.then(
    (v) => {
      s.settled = true;
      s.value = v;
    },
    (e: unknown) => {
      s.settled = true;
      s.error = e;
    },
  );
  return s;
}

describe('DynamicBatcher', () => {
  describe('dispatch', () => {
    it('runs a request on an idle batcher at once, before any timer could fire', () => {
      const runner = new FakeRunner();
      const b = batcher(runner, { maxQueueDelayMs: 0 });
      void b.submit([fp32(1, 3, 0)], 1);
      assert.equal(runner.runs.length, 1);
      assert.deepEqual(values(runner.runs[0]!.feeds[0]), [0, 1, 2]);
      assert.equal(b.runsInFlight, 1);
      assert.equal(b.queueDepth, 0);
      runner.runs[0]!.complete();
    });

    it('lets arrivals accumulate while a run is in flight and sends them as the next run', async () => {
      const runner = new FakeRunner();
      const b = batcher(runner);
      const a = b.submit([fp32(1, 3, 0)], 1);
      const rest = [b.submit([fp32(1, 3, 100)], 1), b.submit([fp32(1, 3, 200)], 1), b.submit([fp32(1, 3, 300)], 1)];
      assert.equal(runner.runs.length, 1);
      assert.equal(b.queueDepth, 3);
      runner.runs[0]!.complete();
      await a;
      await flush();
      assert.equal(runner.runs.length, 2);
      assert.deepEqual(runner.runs[1]!.feeds[0]!.dims, [3, 3]);
      assert.deepEqual(values(runner.runs[1]!.feeds[0]), [100, 101, 102, 200, 201, 202, 300, 301, 302]);
      runner.runs[1]!.complete();
      const results = await Promise.all(rest);
      for (const [i, r] of results.entries()) {
        const start = (i + 1) * 100;
        assert.deepEqual(output(r, 'x_out').dims, [1, 3]);
        assert.deepEqual(values(output(r, 'x_out')), [start * 10, (start + 1) * 10, (start + 2) * 10]);
        assert.equal(r.batchRows, 3);
        assert.equal(r.computeNs, 1234);
        assert.ok(r.queueNs >= 0);
      }
    });

    it('keeps FIFO order across runs', async () => {
      const runner = new FakeRunner();
      const b = batcher(runner, { maxBatchSize: 2 });
      const order: number[] = [];
      const all = [0, 1, 2, 3, 4, 5].map((i) => b.submit([fp32(1, 1, i)], 1).then(() => order.push(i)));
      while (runner.runs.length < 4) {
        runner.runs.at(-1)!.complete();
        await flush();
      }
      runner.runs.at(-1)!.complete();
      await Promise.all(all);
      assert.deepEqual(runner.runs.map((r) => values(r.feeds[0])), [[0], [1, 2], [3, 4], [5]]);
      assert.deepEqual(order, [0, 1, 2, 3, 4, 5]);
    });

    it('gives each request of a concatenated run exactly its own rows of every output', async () => {
      const runner = new FakeRunner();
      const b = batcher(runner, { maxBatchSize: 16 });
      const blocker = b.submit([fp32(1, 3, -1000), fp32(1, 2, -2000, 'z')], 1);
      const sizes = [2, 1, 3];
      const pending = sizes.map((rows, i) => b.submit([fp32(rows, 3, (i + 1) * 100), fp32(rows, 2, (i + 1) * 1000, 'z')], rows));
      runner.runs[0]!.complete();
      await blocker;
      await flush();
      assert.equal(runner.runs.length, 2);
      const feeds = runner.runs[1]!.feeds;
      assert.deepEqual(feeds.map((f) => [f.name, f.dims]), [['x', [6, 3]], ['z', [6, 2]]]);
      runner.runs[1]!.complete();
      const results = await Promise.all(pending);
      for (const [i, r] of results.entries()) {
        const rows = sizes[i]!;
        const x = fp32(rows, 3, (i + 1) * 100).data as Float32Array;
        const z = fp32(rows, 2, (i + 1) * 1000, 'z').data as Float32Array;
        assert.deepEqual(output(r, 'x_out').dims, [rows, 3]);
        assert.deepEqual(values(output(r, 'x_out')), Array.from(x, (v) => v * 10));
        assert.deepEqual(output(r, 'z_out').dims, [rows, 2]);
        assert.deepEqual(values(output(r, 'z_out')), Array.from(z, (v) => v * 10));
        const sums = [];
        for (let row = 0; row < rows; row++) sums.push(x[row * 3]! + x[row * 3 + 1]! + x[row * 3 + 2]!);
        assert.deepEqual(output(r, 'rowsum').dims, [rows]);
        assert.deepEqual(values(output(r, 'rowsum')), sums);
        assert.equal(r.batchRows, 6);
      }
    });

    it('fills a run up to maxBatchSize rows without splitting a request', async () => {
      const runner = new FakeRunner();
      const b = batcher(runner, { maxBatchSize: 5 });
      const all = [b.submit([fp32(1, 1, 0)], 1)];
      for (let i = 1; i <= 5; i++) all.push(b.submit([fp32(2, 1, i * 10)], 2));
      while (runner.runs.length < 4) {
        runner.runs.at(-1)!.complete();
        await flush();
      }
      runner.runs.at(-1)!.complete();
      await Promise.all(all);
      assert.deepEqual(runner.rowsPerRun, [1, 4, 4, 2]);
      assert.deepEqual(values(runner.runs[1]!.feeds[0]), [10, 11, 20, 21]);
    });

    it('runs a request larger than maxBatchSize alone', async () => {
      const runner = new FakeRunner();
      const b = batcher(runner, { maxBatchSize: 4 });
      const first = b.submit([fp32(1, 1, 0)], 1);
      const small = b.submit([fp32(1, 1, 5)], 1);
      const big = b.submit([fp32(10, 1, 100)], 10);
      const after = b.submit([fp32(1, 1, 7)], 1);
      for (let i = 0; i < 3; i++) {
        runner.runs.at(-1)!.complete();
        await flush();
      }
      runner.runs.at(-1)!.complete();
      await Promise.all([first, small, big, after]);
      assert.deepEqual(runner.rowsPerRun, [1, 1, 10, 1]);
      const bigResult = await big;
      assert.deepEqual(output(bigResult, 'x_out').dims, [10, 1]);
      assert.deepEqual(values(output(bigResult, 'x_out')), Array.from({ length: 10 }, (_, i) => (100 + i) * 10));
    });

    it('runs a request larger than maxBatchSize on an idle batcher', async () => {
      const runner = new FakeRunner(true);
      const b = batcher(runner, { maxBatchSize: 2 });
      const r = await b.submit([fp32(5, 2, 0)], 5);
      assert.deepEqual(runner.rowsPerRun, [5]);
      assert.deepEqual(output(r, 'x_out').dims, [5, 2]);
    });

    it('does not mix requests whose non-batch dimensions differ, and keeps their order', async () => {
      const runner = new FakeRunner();
      const b = batcher(runner);
      const all = [
        b.submit([fp32(1, 3, 0)], 1),
        b.submit([fp32(1, 3, 10)], 1),
        b.submit([fp32(1, 3, 20)], 1),
        b.submit([fp32(1, 4, 30)], 1),
        b.submit([fp32(1, 3, 40)], 1),
      ];
      while (runner.runs.length < 4) {
        runner.runs.at(-1)!.complete();
        await flush();
      }
      runner.runs.at(-1)!.complete();
      const results = await Promise.all(all);
      assert.deepEqual(runner.runs.map((r) => r.feeds[0]!.dims), [[1, 3], [2, 3], [1, 4], [1, 3]]);
      assert.deepEqual(values(runner.runs[2]!.feeds[0]), [30, 31, 32, 33]);
      assert.deepEqual(values(output(results[3]!, 'x_out')), [300, 310, 320, 330]);
    });

    it('does not mix requests whose second input differs in shape', async () => {
      const runner = new FakeRunner();
      const b = batcher(runner);
      const all = [
        b.submit([fp32(1, 2, 0), fp32(1, 2, 0, 'z')], 1),
        b.submit([fp32(1, 2, 10), fp32(1, 2, 10, 'z')], 1),
        b.submit([fp32(1, 2, 20), fp32(1, 5, 20, 'z')], 1),
      ];
      runner.runs[0]!.complete();
      await flush();
      runner.runs[1]!.complete();
      await flush();
      runner.runs[2]!.complete();
      await Promise.all(all);
      assert.deepEqual(runner.rowsPerRun, [1, 1, 1]);
    });

    for (const [label, opts] of [
      ['maxBatchSize is 0', { maxBatchSize: 0 }],
      ['batched is false', { batched: false }],
    ] as const) {
      it(`runs every request alone when ${label}`, async () => {
        const runner = new FakeRunner();
        const b = batcher(runner, { ...opts, maxQueueDelayMs: 50, preferredBatchSizes: [4] });
        const all = [0, 1, 2, 3].map((i) => b.submit([fp32(2, 3, i * 10)], 1));
        assert.equal(runner.runs.length, 1, 'no waiting for a batch that cannot form');
        while (runner.runs.length < 4) {
          runner.runs.at(-1)!.complete();
          await flush();
        }
        runner.runs.at(-1)!.complete();
        const results = await Promise.all(all);
        assert.deepEqual(runner.runs.map((r) => r.feeds[0]!.dims), [[2, 3], [2, 3], [2, 3], [2, 3]]);
        assert.deepEqual(runner.runs.map((r) => values(r.feeds[0])[0]), [0, 10, 20, 30]);
        for (const [i, r] of results.entries()) {
          assert.deepEqual(output(r, 'x_out').dims, [2, 3]);
          assert.equal(values(output(r, 'x_out'))[0], i * 100);
          assert.equal(r.batchRows, 1);
        }
      });
    }

    it('with long runs, spreads queued and running rows over the run slots: a freed slot takes its share, not the whole queue', async () => {
      const runner = new FakeRunner();
      // The fake's runs report 1,234 ns; a threshold of 0 ms makes every run count as long.
      const b = batcher(runner, { maxInFlight: 2, maxBatchSize: 64, spreadMinRunMs: 0 });
      // A and B start at once, one row each (each slot's share of two rows); C..H wait.
      const all = Array.from({ length: 8 }, (_, i) => b.submit([fp32(1, 1, i)], 1));
      assert.deepEqual(runner.rowsPerRun, [1, 1]);
      assert.equal(b.queueDepth, 6);
      runner.runs[0]!.complete();
      await flush();
      // Six queued + one running over two slots: four rows now, two left for the slot still busy.
      assert.deepEqual(runner.rowsPerRun, [1, 1, 4]);
      assert.equal(b.queueDepth, 2);
      runner.runs[1]!.complete();
      await flush();
      assert.deepEqual(runner.rowsPerRun, [1, 1, 4, 2]);
      runner.runs[2]!.complete();
      runner.runs[3]!.complete();
      const results = await Promise.all(all);
      // Every request still gets its own row back, in order.
      results.forEach((r, i) => assert.deepEqual(values(output(r, 'x_out')), [i * 10]));
    });

    it('with short runs, a freed slot takes the whole queue (batches as large as possible)', async () => {
      const runner = new FakeRunner();
      const b = batcher(runner, { maxInFlight: 2, maxBatchSize: 64 });
      const all = Array.from({ length: 8 }, (_, i) => b.submit([fp32(1, 1, i)], 1));
      assert.deepEqual(runner.rowsPerRun, [1, 1]);
      runner.runs[0]!.complete();
      await flush();
      assert.deepEqual(runner.rowsPerRun, [1, 1, 6]);
      runner.runs[1]!.complete();
      runner.runs[2]!.complete();
      await Promise.all(all);
    });

    it('starts spreading once runs average spreadMinRunMs, and stops only below half of it', async () => {
      const runner = new FakeRunner();
      const b = batcher(runner, { maxInFlight: 2, maxBatchSize: 64, spreadMinRunMs: 2 });
      /** One round: 8 requests, the first two start at once; answer the first with `ms`; rows the freed slot takes. */
      const round = async (ms: number): Promise<number> => {
        const first = runner.runs.length;
        const all = Array.from({ length: 8 }, (_, i) => b.submit([fp32(1, 1, i)], 1));
        runner.runs[first]!.complete(undefined, ms * 1e6);
        await flush();
        const taken = runner.rowsPerRun[first + 2]!;
        for (let i = first + 1; i < runner.runs.length; i++) runner.runs[i]!.complete(undefined, ms * 1e6);
        await flush();
        while (runner.active > 0) {
          for (const r of runner.runs.slice(-runner.active)) r.complete(undefined, ms * 1e6);
          await flush();
        }
        await Promise.all(all);
        return taken;
      };
      assert.equal(await round(0.1), 6, 'short runs: the freed slot takes the whole queue');
      // 0.1 ms then 12 ms runs: the moving average passes 2 ms within this round's runs.
      await round(12);
      assert.equal(await round(12), 4, 'long runs: the freed slot takes its share of queued + running rows');
      // 1.5 ms runs: under the threshold but above half of it, so the batcher keeps spreading.
      for (let i = 0; i < 3; i++) await round(1.5);
      assert.equal(await round(1.5), 4, 'between half and the whole threshold: still spreading');
      for (let i = 0; i < 6; i++) await round(0.1);
      assert.equal(await round(0.1), 6, 'below half: back to the whole queue');
    });

    it('runs a batch again, first in line, when its run never started; its requests are not failed', async () => {
      const runner = new FakeRunner();
      const events: { rows: number; ok: boolean }[] = [];
      const b = batcher(runner, { maxInFlight: 1, events: { onBatch: (e) => events.push({ rows: e.rows, ok: e.ok }) } });
      const a = track(b.submit([fp32(1, 2, 0)], 1));
      const later = track(b.submit([fp32(1, 2, 100)], 1));
      const original = (runner.runs[0]!.feeds[0]!.data as Float32Array).slice();
      // As a worker pool does: the feed buffer is transferred away (detached here), then the worker dies.
      structuredClone(runner.runs[0]!.feeds[0]!.data, { transfer: [(runner.runs[0]!.feeds[0]!.data as Float32Array).buffer as ArrayBuffer] });
      runner.runs[0]!.fail(new RunNotStartedError('worker thread exited before the run started'));
      await flush();
      assert.equal(a.settled, false);
      // The same request runs again, ahead of the one that arrived later (batched with it), with its own intact data.
      assert.equal(runner.runs.length, 2);
      assert.deepEqual(Array.from(runner.runs[1]!.feeds[0]!.data as Float32Array), [...original, 100, 101]);
      runner.runs[1]!.complete();
      await Promise.all([a.promise, later.promise]);
      assert.deepEqual(values(output(a.value!, 'x_out')), [0, 10]);
      assert.deepEqual(values(output(later.value!, 'x_out')), [1000, 1010]);
      assert.deepEqual(events.map((e) => e.ok), [false, true]);
    });

    it('never has more than maxInFlight runs at once', async () => {
      const runner = new FakeRunner();
      const b = batcher(runner, { maxInFlight: 2, maxBatchSize: 1 });
      const all = Array.from({ length: 7 }, (_, i) => b.submit([fp32(1, 1, i)], 1));
      assert.equal(runner.runs.length, 2);
      assert.equal(b.runsInFlight, 2);
      assert.equal(b.queueDepth, 5);
      let answered = 0;
      while (answered < runner.runs.length) {
        runner.runs[answered++]!.complete();
        await flush();
        assert.ok(runner.active <= 2);
      }
      await Promise.all(all);
      assert.equal(runner.runs.length, 7);
      assert.equal(runner.peak, 2);
      assert.deepEqual(runner.runs.map((r) => values(r.feeds[0])[0]), [0, 1, 2, 3, 4, 5, 6]);
    });

    it('gives outputs without the batch dimension whole to every request', async () => {
      const runner = new FakeRunner();
      const b = batcher(runner);
      const first = b.submit([fp32(1, 2, 0)], 1);
      const p = [b.submit([fp32(1, 2, 10)], 1), b.submit([fp32(2, 2, 20)], 2)];
      runner.runs[0]!.complete();
      await first;
      await flush();
      const shared: BatchTensor = { name: 'table', type: 'float32', dims: [5], data: new Float32Array([1, 2, 3, 4, 5]) };
      runner.runs[1]!.complete([...model(runner.runs[1]!.feeds), shared]);
      for (const r of await Promise.all(p)) {
        assert.deepEqual(output(r, 'table').dims, [5]);
        assert.deepEqual(values(output(r, 'table')), [1, 2, 3, 4, 5]);
      }
      const [one, two] = await Promise.all(p);
      assert.deepEqual(output(one!, 'x_out').dims, [1, 2]);
      assert.deepEqual(output(two!, 'x_out').dims, [2, 2]);
    });
  });

  describe('queue delay', () => {
    it('waits for a preferred batch size to fill instead of running the first request alone', async () => {
      const runner = new FakeRunner(true);
      const b = batcher(runner, { maxQueueDelayMs: 5000, preferredBatchSizes: [4], maxBatchSize: 8 });
      const all = [0, 1, 2].map((i) => b.submit([fp32(1, 1, i)], 1));
      await flush();
      assert.equal(runner.runs.length, 0);
      assert.equal(b.queueDepth, 3);
      all.push(b.submit([fp32(1, 1, 3)], 1));
      await Promise.all(all);
      assert.deepEqual(runner.rowsPerRun, [4]);
      assert.deepEqual(values(runner.runs[0]!.feeds[0]), [0, 1, 2, 3]);
    });

    it('runs what it has once the delay ends without reaching a preferred size', async () => {
      const runner = new FakeRunner(true);
      const b = batcher(runner, { maxQueueDelayMs: 20, preferredBatchSizes: [4] });
      // The batcher's delay timer is unref'd (a server keeps the loop alive in production); hold it open here.
      const keepAlive = setTimeout(() => undefined, 10_000);
      try {
        const all = [b.submit([fp32(1, 1, 0)], 1), b.submit([fp32(1, 1, 1)], 1)];
        assert.equal(runner.runs.length, 0);
        await Promise.all(all);
        assert.deepEqual(runner.rowsPerRun, [2]);
      } finally {
        clearTimeout(keepAlive);
      }
    });

    it('does not wait when the queued rows already reach the smallest preferred size', () => {
      const runner = new FakeRunner();
      const b = batcher(runner, { maxQueueDelayMs: 5000, preferredBatchSizes: [4, 2] });
      void b.submit([fp32(2, 1, 0)], 2);
      assert.deepEqual(runner.rowsPerRun, [2]);
      runner.runs[0]!.complete();
    });
  });

  describe('admission and deadlines', () => {
    it('fails a request whose timeout passed while queued and never runs it', async () => {
      const runner = new FakeRunner();
      const b = batcher(runner);
      const first = b.submit([fp32(1, 1, 0)], 1);
      const late = track(b.submit([fp32(1, 1, 666)], 1, 1));
      const patient = b.submit([fp32(1, 1, 2)], 1, 60_000);
      await sleep(15);
      runner.runs[0]!.complete();
      await first;
      await flush();
      assert.equal(late.settled, true);
      assert.ok(late.error instanceof ERR_DEADLINE_EXCEEDED);
      assert.match((late.error as Error).message, /timed out after waiting \d+ ms/);
      runner.runs.at(-1)!.complete();
      await patient;
      assert.equal(runner.runs.length, 2);
      for (const r of runner.runs) assert.ok(!values(r.feeds[0]).includes(666), 'the expired request never reaches the runner');
    });

    it('throws queueFull synchronously when maxQueueSize requests are waiting', async () => {
      const runner = new FakeRunner();
      const b = batcher(runner, { maxQueueSize: 2 });
      const accepted = [b.submit([fp32(1, 1, 0)], 1), b.submit([fp32(1, 1, 1)], 1), b.submit([fp32(1, 1, 2)], 1)];
      assert.equal(b.queueDepth, 2);
      assert.throws(() => b.submit([fp32(1, 1, 3)], 1), (err: unknown) => {
        assert.ok(err instanceof ERR_QUEUE_FULL);
        assert.match(err.message, /queue full \(2 requests waiting\)/);
        return true;
      });
      runner.runs[0]!.complete();
      await flush();
      runner.runs[1]!.complete();
      await Promise.all(accepted);
      assert.deepEqual(runner.runs.map((r) => values(r.feeds[0])), [[0], [1, 2]]);
      const again = b.submit([fp32(1, 1, 4)], 1);
      runner.runs[2]!.complete();
      await again;
    });
  });

  describe('failures and closing', () => {
    it('reruns the requests of a failed run one by one, so only the request whose own run fails gets the error', async () => {
      const runner = new FakeRunner();
      const batches: { rows: number; requests: number; ok: boolean }[] = [];
      const b = batcher(runner, { events: { onBatch: ({ rows, requests, ok }) => batches.push({ rows, requests, ok }) } });
      const first = b.submit([fp32(1, 2, 0)], 1);
      const poisoned = track(b.submit([fp32(1, 2, 10)], 1));
      const innocent = b.submit([fp32(2, 2, 20)], 2);
      const next = b.submit([fp32(1, 3, 30)], 1);
      runner.runs[0]!.complete();
      await first;
      await flush();
      assert.equal(runner.rowsPerRun[1], 3, 'the two requests share one run');
      runner.runs[1]!.fail(new Error('boom'));
      await flush();
      // Each request of the failed run runs alone, first in line, before the request that queued after them.
      assert.equal(runner.rowsPerRun[2], 1, 'the first request reruns alone');
      const boom = new Error('bad index');
      runner.runs[2]!.fail(boom);
      await flush();
      assert.equal(poisoned.error, boom, 'the poisoned request gets its own run error');
      assert.equal(runner.rowsPerRun[3], 2, 'the second request reruns alone');
      runner.runs[3]!.complete();
      assert.deepEqual(values(output(await innocent, 'x_out')), [200, 210, 220, 230]);
      await flush();
      runner.runs[4]!.complete();
      assert.deepEqual(values(output(await next, 'x_out')), [300, 310, 320]);
      assert.deepEqual(batches, [
        { rows: 1, requests: 1, ok: true },
        { rows: 3, requests: 2, ok: false },
        { rows: 1, requests: 1, ok: false },
        { rows: 2, requests: 1, ok: true },
        { rows: 1, requests: 1, ok: true },
      ]);
    });

    it('fails only the batch whose runner throws synchronously and keeps serving', async () => {
      let calls = 0;
      const runner: BatchRunner = (feeds) => {
        calls++;
        if (calls === 1) throw new Error('sync boom');
        return Promise.resolve({ outputs: model(feeds), computeNs: 1 });
      };
      const b = new DynamicBatcher(runner, {
        maxBatchSize: 8,
        batched: true,
        maxQueueDelayMs: 0,
        maxQueueSize: 10,
        maxInFlight: 1,
        queueFull: (n) => new ERR_QUEUE_FULL('m', '1', n),
        deadlineExceeded: (ms) => new ERR_DEADLINE_EXCEEDED(ms),
      });
      await assert.rejects(b.submit([fp32(1, 1, 0)], 1), /sync boom/);
      assert.equal(b.runsInFlight, 0);
      const r = await b.submit([fp32(1, 1, 5)], 1);
      assert.deepEqual(values(output(r, 'x_out')), [50]);
    });

    it('fails the requests of a run whose result cannot be split by rows and keeps serving', async () => {
      const runner = new FakeRunner();
      const b = batcher(runner);
      const first = b.submit([fp32(1, 1, 0)], 1);
      const doomed = [track(b.submit([fp32(1, 1, 1)], 1)), track(b.submit([fp32(1, 1, 2)], 1))];
      runner.runs[0]!.complete();
      await first;
      await flush();
      runner.runs[1]!.complete([{ name: 'broken' } as unknown as BatchTensor]);
      await flush();
      for (const d of doomed) assert.ok(d.error instanceof Error);
      assert.equal(b.runsInFlight, 0);
      const next = b.submit([fp32(1, 1, 3)], 1);
      runner.runs[2]!.complete();
      assert.deepEqual(values(output(await next, 'x_out')), [30]);
    });

    it('close() fails every queued request with its reason, refuses new ones and lets runs in flight finish', async () => {
      const runner = new FakeRunner();
      const b = batcher(runner);
      const running = b.submit([fp32(1, 1, 0)], 1);
      const queued = [track(b.submit([fp32(1, 1, 1)], 1)), track(b.submit([fp32(1, 1, 2)], 1))];
      const reason = new Error('shutting down');
      b.close(reason);
      await flush();
      for (const q of queued) assert.equal(q.error, reason);
      assert.equal(b.queueDepth, 0);
      await assert.rejects(b.submit([fp32(1, 1, 3)], 1), (err) => err === reason);
      runner.runs[0]!.complete();
      const r = await running;
      assert.deepEqual(values(output(r, 'x_out')), [0]);
      assert.equal(runner.runs.length, 1);
      await b.whenIdle();
    });
  });

  describe('whenIdle', () => {
    it('resolves at once when nothing is queued or running', async () => {
      const b = batcher(new FakeRunner());
      await b.whenIdle();
    });

    it('resolves only after every queued and running request has settled', async () => {
      const runner = new FakeRunner();
      const b = batcher(runner);
      const requests = [0, 1, 2].map((i) => track(b.submit([fp32(1, 1, i)], 1)));
      const idle = track(b.whenIdle());
      runner.runs[0]!.complete();
      await flush();
      assert.equal(idle.settled, false);
      runner.runs[1]!.complete();
      await idle.promise;
      for (const r of requests) assert.equal(r.settled, true, 'settled before whenIdle resolved');
      assert.equal(b.runsInFlight, 0);
      assert.equal(b.queueDepth, 0);
    });

    it('resolves after close() once the runs in flight finish', async () => {
      const runner = new FakeRunner();
      const b = batcher(runner);
      const running = b.submit([fp32(1, 1, 0)], 1);
      b.submit([fp32(1, 1, 1)], 1).catch(() => undefined);
      b.close(new Error('closed'));
      const idle = track(b.whenIdle());
      await flush();
      assert.equal(idle.settled, false);
      runner.runs[0]!.complete();
      await running;
      await idle.promise;
    });
  });

  describe('events', () => {
    it('reports queue depth on every change and one onBatch per run with its rows and requests', async () => {
      const runner = new FakeRunner();
      const depths: number[] = [];
      const batches: Parameters<NonNullable<BatchEvents['onBatch']>>[0][] = [];
      const b = batcher(runner, { events: { onQueueDepth: (d) => depths.push(d), onBatch: (info) => batches.push(info) } });
      const all = [b.submit([fp32(1, 1, 0)], 1), b.submit([fp32(2, 1, 1)], 2), b.submit([fp32(3, 1, 2)], 3)];
      assert.deepEqual(depths, [1, 0, 1, 2]);
      runner.runs[0]!.complete();
      await flush();
      assert.deepEqual(depths, [1, 0, 1, 2, 0]);
      runner.runs[1]!.complete();
      await Promise.all(all);
      assert.deepEqual(batches, [
        { rows: 1, requests: 1, computeNs: 1234, ok: true },
        { rows: 5, requests: 2, computeNs: 1234, ok: true },
      ]);
    });

    it('reports a queue depth of 0 after close() drops the queue', async () => {
      const runner = new FakeRunner();
      const depths: number[] = [];
      const b = batcher(runner, { events: { onQueueDepth: (d) => depths.push(d) } });
      void b.submit([fp32(1, 1, 0)], 1);
      b.submit([fp32(1, 1, 1)], 1).catch(() => undefined);
      b.submit([fp32(1, 1, 2)], 1).catch(() => undefined);
      assert.equal(depths.at(-1), 2);
      b.close(new Error('closed'));
      assert.equal(depths.at(-1), 0);
      runner.runs[0]!.complete();
    });

    it('reports the depth after expired requests are dropped', async () => {
      const runner = new FakeRunner();
      const depths: number[] = [];
      const b = batcher(runner, { events: { onQueueDepth: (d) => depths.push(d) } });
      const first = b.submit([fp32(1, 1, 0)], 1);
      b.submit([fp32(1, 1, 1)], 1, 1).catch(() => undefined);
      b.submit([fp32(1, 1, 2)], 1, 1).catch(() => undefined);
      await sleep(15);
      runner.runs[0]!.complete();
      await first;
      await flush();
      assert.equal(depths.at(-1), 0);
      assert.equal(runner.runs.length, 1);
      await b.whenIdle();
    });
  });
});
