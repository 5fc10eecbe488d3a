// One dynamic batcher per loaded version. Requests queue FIFO; whenever a run slot is free, requests are taken
// from the head (same non-batch dimensions, up to maxBatchSize rows), concatenated along the batch dimension into
// one run, and each request gets exactly its own rows of every output back. No timer at low load: an idle
// batcher dispatches at once, and batches grow by themselves while all slots are busy.
// Invariants: every accepted request is settled exactly once; a failed run fails only the requests in it.
import { performance } from 'node:perf_hooks';
import { concat, type DatatypeInfo, slice, type TensorData } from '../runtime/datatypes.js';
import type { OrtType } from '../runtime/datatypes.js';
import { RequestQueue } from './request-queue.js';

export interface BatchTensor {
  name: string;
  type: OrtType;
  dims: number[];
  data: TensorData;
}

export interface RequestInput extends BatchTensor {
  info: DatatypeInfo;
}

export interface BatchRunResult {
  outputs: BatchTensor[];
  computeNs: number;
}

/**
 * What a runner rejects with when the run never started (the worker it waited at died): the batch goes back to the
 * head of the queue and runs again, rather than failing requests that nothing was wrong with.
 */
export class RunNotStartedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunNotStartedError';
  }
}

/** Runs one batch; the batcher does not know what runs it (a worker pool in production, a fake in tests). */
export type BatchRunner = (feeds: BatchTensor[]) => Promise<BatchRunResult>;

export interface BatchResult {
  outputs: BatchTensor[];
  queueNs: number;
  computeNs: number;
  batchRows: number;
}

/** What the batcher reports; observability subscribes, the batcher never imports it. */
export interface BatchEvents {
  onBatch?(info: { rows: number; requests: number; computeNs: number; ok: boolean }): void;
  onQueueDepth?(depth: number): void;
}

export interface BatcherOptions {
  /** Rows per run at most; 0 runs every request alone. */
  maxBatchSize: number;
  /** Whether inputs have a batch (first) dimension that requests can be concatenated along. */
  batched: boolean;
  maxQueueDelayMs: number;
  preferredBatchSizes?: number[];
  /** Requests waiting at most; beyond it submit() throws the error made by `queueFull`. */
  maxQueueSize: number;
  /** Runs in flight at once (one per worker thread is a good default). */
  maxInFlight: number;
  /**
   * Runs at least this long (moving average of compute time, ms) spread the queue over every run slot; shorter
   * runs keep batches as large as the queue allows. Default 2 ms.
   */
  spreadMinRunMs?: number;
  queueFull: (waiting: number) => Error;
  deadlineExceeded: (waitedMs: number) => Error;
  events?: BatchEvents;
}

interface Pending {
  inputs: RequestInput[];
  rows: number;
  /** Non-batch dimensions of every input: requests batch together only when equal. */
  signature: string;
  enqueuedAt: number;
  deadline: number;
  /** Set after its batch failed: it runs alone next, so one bad request cannot fail the others again. */
  isolated?: boolean;
  resolve: (r: BatchResult) => void;
  reject: (e: Error) => void;
}

export class DynamicBatcher {
  private readonly queue = new RequestQueue<Pending>();
  private readonly opts: BatcherOptions;
  private readonly run: BatchRunner;
  private inFlight = 0;
  /** Rows of the runs in flight. */
  private inFlightRows = 0;
  /** Moving average of successful runs' compute time, ms (NaN before the first). */
  private runMs = Number.NaN;
  /**
   * Whether batches are spread over every slot (see take()): on once runs average spreadMinRunMs, off again only
   * below half of it, so a model near the threshold does not flip with every batch size the rule itself chooses.
   */
  private spreadRuns = false;
  private queuedRows = 0;
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];
  private closedWith: Error | undefined;
  private readonly minPreferred: number;

  constructor(run: BatchRunner, opts: BatcherOptions) {
    this.run = run;
    this.opts = { ...opts, maxInFlight: Math.max(1, opts.maxInFlight) };
    this.minPreferred = opts.preferredBatchSizes?.length ? Math.min(...opts.preferredBatchSizes) : 0;
  }

  get queueDepth(): number {
    return this.queue.length;
  }

  get runsInFlight(): number {
    return this.inFlight;
  }

  /**
   * Queues one request. `rows` is its batch dimension (1 for models without one); `timeoutMs` (optional) is how
   * long it may wait for a run before failing with deadlineExceeded. Throws queueFull synchronously.
   */
  submit(inputs: RequestInput[], rows: number, timeoutMs?: number): Promise<BatchResult> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (this.queue.length >= this.opts.maxQueueSize) throw this.opts.queueFull(this.queue.length);
    const now = performance.now();
    return new Promise<BatchResult>((resolve, reject) => {
      this.queue.push({
        inputs,
        rows,
        signature: this.opts.batched ? signatureOf(inputs) : '',
        enqueuedAt: now,
        deadline: timeoutMs === undefined ? Infinity : now + timeoutMs,
        resolve,
        reject,
      });
      this.queuedRows += rows;
      this.opts.events?.onQueueDepth?.(this.queue.length);
      this.dispatch();
    });
  }

  /** Resolves once nothing is queued or running. */
  whenIdle(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Fails every queued request with `reason` and refuses new ones; runs in flight still finish. */
  close(reason: Error): void {
    this.closedWith = reason;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const dropped = this.queue.drain();
    this.queuedRows = 0;
    if (dropped.length > 0) this.opts.events?.onQueueDepth?.(0);
    for (const p of dropped) p.reject(reason);
    this.notifyIdle();
  }

  private dispatch(): void {
    while (this.inFlight < this.opts.maxInFlight && this.queue.length > 0) {
      if (this.shouldWait()) return;
      const batch = this.take();
      if (batch.length > 0) this.execute(batch);
    }
    this.notifyIdle();
  }

  /** Waiting only helps when a preferred batch size could still fill before the oldest request's delay ends. */
  private shouldWait(): boolean {
    const delay = this.opts.maxQueueDelayMs;
    if (delay <= 0 || !this.opts.batched || this.opts.maxBatchSize === 0) return false;
    const target = this.minPreferred > 0 ? this.minPreferred : this.opts.maxBatchSize;
    if (this.queuedRows >= target) return false;
    const waitUntil = this.queue.peek()!.enqueuedAt + delay;
    const remaining = waitUntil - performance.now();
    if (remaining <= 0) return false;
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.dispatch();
      }, Math.ceil(remaining));
      this.timer.unref();
    }
    return true;
  }

  /** Takes the next batch from the head: same signature, within the row budget, expired requests failed. */
  private take(): Pending[] {
    const now = performance.now();
    const batch: Pending[] = [];
    const max = this.opts.batched ? this.opts.maxBatchSize : 0;
    // Long runs (a CNN): spread the rows in the system (queued and running) over every run slot, so that a slot that
    // frees up takes its share and leaves the rest for the next one, instead of draining the queue into one long run
    // while another worker runs dry. Short runs (a small MLP): the main thread's cost per run is what counts, so a
    // free slot shares only what is queued among the free slots, and batches stay large.
    const share = this.spreadRuns
      ? Math.ceil((this.queuedRows + this.inFlightRows) / this.opts.maxInFlight)
      : Math.ceil(this.queuedRows / (this.opts.maxInFlight - this.inFlight));
    const budget = max === 0 ? 0 : Math.min(max, Math.max(1, share));
    let rows = 0;
    while (this.queue.length > 0) {
      const head = this.queue.peek()!;
      if (batch.length > 0 && (max === 0 || head.isolated || batch[0]!.isolated || head.signature !== batch[0]!.signature || rows + head.rows > budget)) break;
      this.queue.shift();
      this.queuedRows -= head.rows;
      if (head.deadline < now) {
        head.reject(this.opts.deadlineExceeded(Math.round(now - head.enqueuedAt)));
        continue;
      }
      batch.push(head);
      rows += head.rows;
      if (max === 0 || head.isolated) break;
    }
    this.opts.events?.onQueueDepth?.(this.queue.length);
    return batch;
  }

  private execute(batch: Pending[]): void {
    this.inFlight++;
    const started = performance.now();
    const first = batch[0]!;
    const totalRows = batch.reduce((n, p) => n + p.rows, 0);
    this.inFlightRows += totalRows;
    let running: Promise<BatchRunResult>;
    // A runner (or concat) that throws synchronously must fail this batch like a rejected run, not escape into
    // submit() or a promise callback with the slot still taken and the other requests never settled.
    try {
      let feeds: BatchTensor[];
      if (batch.length === 1) {
        // A copy, like a batch of several (the runner may transfer the feed buffers to a worker thread): the
        // request keeps its own data for a rerun after a run that never started or failed.
        feeds = first.inputs.map((t) => ({ name: t.name, type: t.type, dims: t.dims, data: copyOf(t.data) }));
      } else {
        feeds = first.inputs.map((t, i) => {
          const parts = batch.map((p) => p.inputs[i]!.data);
          const length = parts.reduce((n, d) => n + d.length, 0);
          return { name: t.name, type: t.type, dims: [totalRows, ...t.dims.slice(1)], data: concat(t.info, parts, length) };
        });
      }
      running = this.run(feeds);
    } catch (err) {
      running = Promise.reject(err as Error);
    }
    // Requests are settled before the slot is released, so whenIdle() resolves only after every request has.
    running.then(
      (result) => {
        let ok = true;
        try {
          let offset = 0;
          for (const p of batch) {
            p.resolve({
              outputs: batch.length === 1 ? result.outputs : result.outputs.map((o) => rowsOf(o, offset, p.rows, totalRows)),
              queueNs: Math.round((started - p.enqueuedAt) * 1e6),
              computeNs: result.computeNs,
              batchRows: totalRows,
            });
            offset += p.rows;
          }
        } catch (err) {
          // A malformed result: fail the requests not yet answered (rejecting a resolved promise is a no-op).
          ok = false;
          for (const p of batch) p.reject(err as Error);
        }
        this.settled(batch.length, totalRows, result.computeNs, ok);
      },
      (err: Error) => {
        if (err instanceof RunNotStartedError) {
          // Nothing ran: the same batch, first in line again.
          this.queue.prepend(batch);
          this.queuedRows += totalRows;
        } else if (batch.length > 1) {
          // One request may have poisoned the run (an out-of-range index...): rerun each alone, first in line,
          // so only the requests whose own run fails get the error. Their buffers are intact: every run is on a copy.
          for (const p of batch) p.isolated = true;
          this.queue.prepend(batch);
          this.queuedRows += totalRows;
        } else {
          for (const p of batch) p.reject(err);
        }
        this.settled(batch.length, totalRows, 0, false);
      },
    );
  }

  private settled(requests: number, rows: number, computeNs: number, ok: boolean): void {
    this.inFlight--;
    this.inFlightRows -= rows;
    if (ok && computeNs > 0) {
      this.runMs = Number.isNaN(this.runMs) ? computeNs / 1e6 : 0.8 * this.runMs + 0.2 * (computeNs / 1e6);
      const threshold = this.opts.spreadMinRunMs ?? DEFAULT_SPREAD_MIN_RUN_MS;
      if (!this.spreadRuns && this.runMs >= threshold) this.spreadRuns = true;
      else if (this.spreadRuns && this.runMs < threshold / 2) this.spreadRuns = false;
    }
    this.opts.events?.onBatch?.({ rows, requests, computeNs, ok });
    this.dispatch();
  }

  private notifyIdle(): void {
    if (this.queue.length > 0 || this.inFlight > 0 || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

const DEFAULT_SPREAD_MIN_RUN_MS = 2;

function copyOf(data: TensorData): TensorData {
  return Array.isArray(data) ? data : data.slice();
}

function signatureOf(inputs: RequestInput[]): string {
  let s = '';
  for (const t of inputs) s += `${t.dims.slice(1).join(',')};`;
  return s;
}

/** One request's rows of a batch output; outputs without the batch dimension are given whole. */
function rowsOf(o: BatchTensor, offset: number, rows: number, totalRows: number): BatchTensor {
  if (o.dims[0] !== totalRows) return o;
  const perRow = totalRows === 0 ? 0 : o.data.length / totalRows;
  return { name: o.name, type: o.type, dims: [rows, ...o.dims.slice(1)], data: slice(o.data, offset * perRow, (offset + rows) * perRow) };
}
