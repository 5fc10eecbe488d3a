// A fixed pool of session worker threads. Every loaded version exists in every worker (memory x workers), so
// a batch can go to whichever worker is least busy. Own pool rather than piscina: a load or unload must reach
// every worker, and a dead worker must be replaced and given back every session, which a task queue
// that sends each task to one worker cannot express.
// Invariants: a run is answered exactly once (result, failure, or worker death); a replacement worker takes
// runs only after it has loaded every registered session.
import { Worker } from 'node:worker_threads';
import type { SessionOptions } from '../config/model-config.js';
import type { FromWorker, TensorMetadata, ToWorker, WireTensor } from './protocol.js';

export interface SessionSignature {
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

export interface RunResult {
  outputs: WireTensor[];
  computeNs: number;
}

export class RunError extends Error {
  /**
   * False for a run that was still waiting in a worker's queue when that worker died: it never reached
   * onnxruntime, so running it elsewhere is safe (its caller still holds its inputs).
   */
  readonly started: boolean;
  constructor(message: string, started = true) {
    super(message);
    this.name = 'RunError';
    this.started = started;
  }
}

interface Registered {
  bytes: Uint8Array;
  options: SessionOptions;
}

interface PendingRun {
  resolve: (r: RunResult) => void;
  reject: (e: Error) => void;
}

interface PendingLoad {
  resolve: (sig: SessionSignature) => void;
  reject: (e: Error) => void;
}

class PoolWorker {
  readonly thread: Worker;
  ready = false;
  inFlight = 0;
  readonly runs = new Map<number, PendingRun>();
  readonly loads = new Map<string, PendingLoad>();
  readonly heapProbes = new Map<number, (usedBytes: number) => void>();
  /** Set once the worker is given up (died, or killed): its pending work has been failed exactly once. */
  dead = false;
  /** Fails its pending work and schedules a replacement (set by the pool). */
  die: (reason: string) => void = () => undefined;
  constructor(thread: Worker) {
    this.thread = thread;
  }
}

// From TypeScript sources (tests, `npm run dev`) a bootstrap registers tsx's loader first; from dist/ it is plain JS.
const fromSource = import.meta.url.endsWith('.ts');
const workerUrl = new URL(`./session-worker${fromSource ? '.ts' : '.js'}`, import.meta.url);
function startWorker(): Worker {
  if (!fromSource) return new Worker(workerUrl);
  return new Worker(new URL('./dev-worker-bootstrap.mjs', import.meta.url), { workerData: { entry: workerUrl.href } });
}

/**
 * Asks a worker to exit between runs. `Worker.terminate()` while onnxruntime is inside `session.run` aborts the
 * whole process (Napi::Error, SIGABRT, seen in the pool's tests), so a worker leaves by its own process.exit,
 * which it can only reach between two runs. Threads are unref'd, so ref() keeps the loop alive until it exits.
 */
function stopThread(thread: Worker, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve) => {
    if (thread.threadId === -1) return resolve();
    thread.ref();
    const timer = setTimeout(() => resolve(), timeoutMs);
    timer.unref();
    thread.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    thread.postMessage({ type: 'exit' } satisfies ToWorker);
  });
}

export interface WorkerPoolOptions {
  size: number;
  /** Called when a worker thread dies unexpectedly (it is replaced). */
  onWorkerExit?: (index: number, reason: string) => void;
}

/** How long a run waits for a ready worker while every worker is being replaced. */
const WORKER_WAIT_MS = 30_000;

export class WorkerPool {
  private readonly workers: PoolWorker[] = [];
  private readonly registry = new Map<string, Registered>();
  private nextRunId = 1;
  /** Deaths since a worker last completed a run or a restore; drives the respawn back-off. */
  private consecutiveDeaths = 0;
  private closed = false;
  /** Runs that found no ready worker (every worker being replaced): started when one is ready again. */
  private readonly waitingForWorker: (() => void)[] = [];
  private readonly onWorkerExit: WorkerPoolOptions['onWorkerExit'];

  constructor(options: WorkerPoolOptions) {
    this.onWorkerExit = options.onWorkerExit;
    for (let i = 0; i < options.size; i++) this.workers.push(this.spawn(i, true));
  }

  get size(): number {
    return this.workers.length;
  }

  /** Sessions held across all workers (registered versions x workers). */
  get sessionCount(): number {
    return this.registry.size * this.workers.length;
  }

  /** V8 heap used by each worker thread, in worker order (0 for a worker that does not answer within 1 s). */
  heapUsedBytes(): Promise<number[]> {
    return Promise.all(
      this.workers.map(
        (w) =>
          new Promise<number>((resolve) => {
            const id = this.nextRunId++;
            const timer = setTimeout(() => {
              w.heapProbes.delete(id);
              resolve(0);
            }, 1000);
            timer.unref();
            w.heapProbes.set(id, (bytes) => {
              clearTimeout(timer);
              resolve(bytes);
            });
            w.thread.postMessage({ type: 'heap', id } satisfies ToWorker);
          }),
      ),
    );
  }

  /** Loads (and warms up) a session under `key` in every worker; resolves with its signature. */
  async load(key: string, bytes: Uint8Array, options: SessionOptions, warmup: boolean): Promise<SessionSignature> {
    this.registry.set(key, { bytes, options });
    try {
      const sigs = await Promise.all(this.workers.map((w) => this.loadIn(w, key, bytes, options, warmup)));
      return sigs[0]!;
    } catch (err) {
      this.unload(key);
      throw err;
    }
  }

  /** Releases the session under `key` in every worker. Runs already sent to a worker finish first there. */
  unload(key: string): void {
    this.registry.delete(key);
    for (const w of this.workers) w.thread.postMessage({ type: 'unload', key } satisfies ToWorker);
  }

  /**
   * Runs one batch on the least busy ready worker. Input buffers are transferred (unusable afterwards). While no
   * worker is ready (the only one is being replaced and reloads its sessions), the run waits for one, up to
   * WORKER_WAIT_MS, instead of failing requests that did nothing wrong.
   */
  run(key: string, feeds: WireTensor[], outputNames: string[]): Promise<RunResult> {
    if (this.closed) return Promise.reject(new RunError('worker pool is closed'));
    let best: PoolWorker | undefined;
    for (const w of this.workers) if (w.ready && (best === undefined || w.inFlight < best.inFlight)) best = w;
    if (!best) return this.afterWorkerReady().then(() => this.run(key, feeds, outputNames));
    const worker = best;
    const id = this.nextRunId++;
    const transfer: ArrayBuffer[] = [];
    for (const f of feeds) {
      // Transfer only buffers the tensor owns whole; a view into a larger buffer (a pooled Buffer) is copied.
      const d = f.data;
      if (!Array.isArray(d) && d.byteOffset === 0 && d.byteLength === d.buffer.byteLength && d.buffer instanceof ArrayBuffer && !transfer.includes(d.buffer)) {
        transfer.push(d.buffer);
      }
    }
    return new Promise<RunResult>((resolve, reject) => {
      worker.runs.set(id, { resolve, reject });
      worker.inFlight++;
      worker.thread.postMessage({ type: 'run', id, key, feeds, outputNames } satisfies ToWorker, transfer);
    });
  }

  private afterWorkerReady(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waitingForWorker.indexOf(wake);
        if (i >= 0) this.waitingForWorker.splice(i, 1);
        reject(new RunError(`no worker thread became ready within ${WORKER_WAIT_MS} ms`));
      }, WORKER_WAIT_MS);
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waitingForWorker.push(wake);
    });
  }

  /** Terminates every worker; pending runs fail. */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.waitingForWorker.splice(0)) wake();
    await Promise.all(this.workers.map((w) => stopThread(w.thread)));
  }

  /** For fault tests and operators: stop one worker as if it had crashed (it is replaced). */
  async killWorker(index: number): Promise<void> {
    const w = this.workers[index];
    if (!w) return;
    // As a crash would: its runs in flight fail now and a replacement starts; the thread itself leaves between
    // two runs (terminating it inside session.run would abort the process) and its late answers are ignored.
    w.die('killed');
    await stopThread(w.thread);
  }

  private loadIn(w: PoolWorker, key: string, bytes: Uint8Array, options: SessionOptions, warmup: boolean): Promise<SessionSignature> {
    return new Promise((resolve, reject) => {
      w.loads.set(key, { resolve, reject });
      w.thread.postMessage({ type: 'load', key, bytes, options, warmup } satisfies ToWorker);
    });
  }

  private spawn(index: number, ready: boolean): PoolWorker {
    const thread = startWorker();
    const w = new PoolWorker(thread);
    thread.unref();
    thread.on('message', (msg: FromWorker) => this.onMessage(w, msg));
    const onDeath = (reason: string) => {
      if (w.dead || this.workers[index] !== w) return;
      w.dead = true;
      const failure = new RunError(`worker thread exited (${reason})`);
      // A worker runs its runs one at a time in the order they were sent (Map order): only the oldest had started.
      let first = true;
      for (const p of w.runs.values()) {
        p.reject(first ? failure : new RunError(`worker thread exited (${reason}) before the run started`, false));
        first = false;
      }
      for (const p of w.loads.values()) p.reject(failure);
      w.runs.clear();
      w.loads.clear();
      w.ready = false;
      if (this.closed) return;
      this.onWorkerExit?.(index, reason);
      // Back off when workers keep dying (a model that crashes the runtime on load, a broken install).
      const delayMs = this.consecutiveDeaths === 0 ? 0 : Math.min(10_000, 100 * 2 ** this.consecutiveDeaths);
      this.consecutiveDeaths++;
      const timer = setTimeout(() => {
        if (this.closed || this.workers[index] !== w) return;
        const replacement = this.spawn(index, false);
        this.workers[index] = replacement;
        void this.restore(replacement);
      }, delayMs);
      timer.unref();
    };
    w.die = onDeath;
    thread.on('error', (err) => onDeath(err.message));
    thread.on('exit', (code) => onDeath(`exit code ${code}`));
    w.ready = ready;
    return w;
  }

  /** Gives a replacement worker every registered session, then lets it take runs. */
  private async restore(w: PoolWorker): Promise<void> {
    const keys = [...this.registry.entries()];
    await Promise.all(keys.map(([key, r]) => this.loadIn(w, key, r.bytes, r.options, false).catch(() => undefined)));
    if (this.workers.includes(w)) {
      w.ready = true;
      this.consecutiveDeaths = 0;
      for (const wake of this.waitingForWorker.splice(0)) wake();
    }
  }

  private onMessage(w: PoolWorker, msg: FromWorker): void {
    switch (msg.type) {
      case 'heap': {
        const probe = w.heapProbes.get(msg.id);
        w.heapProbes.delete(msg.id);
        probe?.(msg.usedBytes);
        return;
      }
      case 'loaded':
      case 'load-failed': {
        const p = w.loads.get(msg.key);
        if (!p) return;
        w.loads.delete(msg.key);
        if (msg.type === 'loaded') p.resolve({ inputs: msg.inputs, outputs: msg.outputs });
        else p.reject(new RunError(msg.message));
        return;
      }
      case 'result':
      case 'run-failed': {
        const p = w.runs.get(msg.id);
        if (!p) return;
        w.runs.delete(msg.id);
        w.inFlight--;
        if (msg.type === 'result') {
          this.consecutiveDeaths = 0;
          p.resolve({ outputs: msg.outputs, computeNs: msg.computeNs });
        }
        else p.reject(new RunError(msg.message));
        return;
      }
    }
  }
}
