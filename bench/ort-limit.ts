// Raw onnxruntime in-process, no HTTP: the limit the server is measured against. Per bench model and batch size,
// worker threads (each with its own session, spinning off) run the same prepared batch back-to-back for a few
// seconds; rows/s = rows finished by all workers / the longest worker's wall time.
// Layouts: two workers x one intra-op thread (ortserve's design), and one session x two intra-op threads.
// Run alone: `node --import tsx bench/ort-limit.ts` (env BENCH_ORT_SECONDS, default 2 s per batch size;
// BENCH_QUIET_WAIT_SECONDS as in run.ts).
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { MODELS, modelPath, rowFloat32, type BenchModel } from './models.js';
import { CLK_TCK, cpuTicks, machineCores, machineTicks, waitForQuiet } from './proc.js';

export const BATCH_SIZES = [1, 8, 32, 64, 128] as const;

export interface Layout {
  name: string;
  workers: number;
  intraOpNumThreads: number;
}

export const LAYOUTS: readonly Layout[] = [
  { name: '2 workers x 1 intra-op thread', workers: 2, intraOpNumThreads: 1 },
  { name: '1 session x 2 intra-op threads', workers: 1, intraOpNumThreads: 2 },
];

export interface LimitRow {
  model: BenchModel['name'];
  layout: string;
  batch: number;
  rowsPerSecond: number;
  runs: number;
  /** Mean wall time of one run (ms), averaged over workers. */
  msPerRun: number;
  /** Cores of process time used by other processes on the machine meanwhile (should be near 0). */
  otherCores: number;
}

export interface LimitResult {
  rows: LimitRow[];
  /** Best rows/s per measured model over every layout and batch size, with where it was reached. */
  best: Partial<Record<BenchModel['name'], LimitRow>>;
  /** Best rows/s per measured model for each layout. */
  bestByLayout: Partial<Record<BenchModel['name'], Record<string, LimitRow>>>;
  secondsPerPoint: number;
}

type FromWorker = { type: 'loaded' } | { type: 'ready' } | { type: 'done'; rows: number; runs: number; ms: number } | { type: 'error'; message: string };

const WORKER_URL = new URL('./ort-limit-worker.mjs', import.meta.url);

class LimitWorker {
  private readonly worker: Worker;
  private waiting: ((m: FromWorker) => void) | undefined;
  private failure: Error | undefined;

  constructor(m: BenchModel, intraOpNumThreads: number) {
    this.worker = new Worker(WORKER_URL, {
      workerData: { modelPath: modelPath(m), inputName: m.input, rowShape: m.rowShape, row: rowFloat32(m), intraOpNumThreads, allowSpinning: false },
    });
    this.worker.on('message', (msg: FromWorker) => this.deliver(msg));
    this.worker.on('error', (err) => {
      this.failure = err;
      this.deliver({ type: 'error', message: String(err.stack ?? err) });
    });
  }

  private deliver(msg: FromWorker): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.(msg);
  }

  /** Waits for the next message of `type`; rejects on a worker error or after `timeoutMs`. */
  next<T extends FromWorker['type']>(type: T, timeoutMs = 120_000): Promise<Extract<FromWorker, { type: T }>> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`in-process limit: no '${type}' from the worker within ${timeoutMs} ms`)), timeoutMs);
      this.waiting = (msg) => {
        clearTimeout(timer);
        if (msg.type === type) resolve(msg as Extract<FromWorker, { type: T }>);
        else reject(new Error(msg.type === 'error' ? msg.message : `in-process limit: expected '${type}', got '${msg.type}'`));
      };
    });
  }

  send(msg: object): void {
    this.worker.postMessage(msg);
  }

  /** Releases the session (its intra-op threads) and ends the thread; terminates it if that takes over 5 s. */
  async close(): Promise<void> {
    const exited = once(this.worker, 'exit');
    this.worker.postMessage({ cmd: 'close' });
    const timer = setTimeout(() => void this.worker.terminate(), 5000);
    await exited;
    clearTimeout(timer);
  }
}

export async function measureOrtLimit(opts: {
  secondsPerPoint: number;
  quietWaitSeconds?: number;
  log?: (line: string) => void;
  /** Only these bench models (default: all). */
  models?: readonly BenchModel['name'][];
}): Promise<LimitResult> {
  const log = opts.log ?? (() => {});
  const rows: LimitRow[] = [];
  const models = MODELS.filter((m) => opts.models === undefined || opts.models.includes(m.name));
  for (const m of models) {
    for (const layout of LAYOUTS) {
      const workers: LimitWorker[] = [];
      try {
        for (let i = 0; i < layout.workers; i++) workers.push(new LimitWorker(m, layout.intraOpNumThreads));
        await Promise.all(workers.map((w) => w.next('loaded')));
        for (const batch of BATCH_SIZES) {
          const ready = workers.map((w) => w.next('ready'));
          for (const w of workers) w.send({ cmd: 'prepare', batch });
          await Promise.all(ready);
          if (opts.quietWaitSeconds) {
            const waited = await waitForQuiet(opts.quietWaitSeconds, []);
            if (waited === undefined) log(`machine not quiet after ${opts.quietWaitSeconds} s: measuring anyway`);
          }
          const done = workers.map((w) => w.next('done'));
          const m0 = machineTicks();
          const self0 = cpuTicks('/proc/self/stat');
          const t0 = performance.now();
          const endAt = Date.now() + opts.secondsPerPoint * 1000;
          for (const w of workers) w.send({ cmd: 'run', endAt });
          const results = await Promise.all(done);
          const ownCores = (cpuTicks('/proc/self/stat') - self0) / CLK_TCK / ((performance.now() - t0) / 1000);
          const otherCores = Math.max(0, machineCores(m0, machineTicks()) - ownCores);
          const total = results.reduce((a, r) => a + r.rows, 0);
          const wall = Math.max(...results.map((r) => r.ms));
          const runs = results.reduce((a, r) => a + r.runs, 0);
          const row: LimitRow = {
            model: m.name,
            layout: layout.name,
            batch,
            rowsPerSecond: (total / wall) * 1000,
            runs,
            msPerRun: results.reduce((a, r) => a + r.ms / r.runs, 0) / results.length,
            otherCores,
          };
          rows.push(row);
          log(`in-process ${m.name} ${layout.name} batch ${batch}: ${Math.round(row.rowsPerSecond)} rows/s, other processes ${otherCores.toFixed(2)} cores`);
        }
      } finally {
        await Promise.all(workers.map((w) => w.close()));
      }
    }
  }
  const best = {} as LimitResult['best'];
  const bestByLayout = {} as LimitResult['bestByLayout'];
  for (const m of models) {
    const mine = rows.filter((r) => r.model === m.name);
    best[m.name] = mine.reduce((a, b) => (b.rowsPerSecond > a.rowsPerSecond ? b : a));
    const byLayout: Record<string, LimitRow> = (bestByLayout[m.name] = {});
    for (const layout of LAYOUTS) {
      byLayout[layout.name] = mine.filter((r) => r.layout === layout.name).reduce((a, b) => (b.rowsPerSecond > a.rowsPerSecond ? b : a));
    }
  }
  return { rows, best, bestByLayout, secondsPerPoint: opts.secondsPerPoint };
}

export function ortVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('onnxruntime-node/package.json') as { version: string }).version;
}

/** Markdown table: rows/s per model, layout and batch size; the best per model in bold; a dagger where other processes used > 0.2 cores. */
export function limitTable(result: LimitResult): string {
  const lines = [`| model | layout | ${BATCH_SIZES.map((b) => `batch ${b}`).join(' | ')} |`, `|---|---|${BATCH_SIZES.map(() => '---:').join('|')}|`];
  for (const m of MODELS) {
    for (const layout of LAYOUTS) {
      const cells = BATCH_SIZES.map((b) => {
        const r = result.rows.find((x) => x.model === m.name && x.layout === layout.name && x.batch === b);
        if (!r) return 'n/a';
        const text = Math.round(r.rowsPerSecond).toLocaleString('en-US') + (r.otherCores > 0.2 ? ' †' : '');
        return r === result.best[m.name] ? `**${text}**` : text;
      });
      lines.push(`| ${m.name} | ${layout.name} | ${cells.join(' | ')} |`);
    }
  }
  const noisy = result.rows.filter((r) => r.otherCores > 0.2);
  if (noisy.length) lines.push('', `† other processes used more than 0.2 cores during that point (up to ${Math.max(...noisy.map((r) => r.otherCores)).toFixed(2)}): the figure is low.`);
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const seconds = Number(process.env.BENCH_ORT_SECONDS ?? 2);
  const quietWaitSeconds = Number(process.env.BENCH_QUIET_WAIT_SECONDS ?? 0);
  const result = await measureOrtLimit({ secondsPerPoint: seconds, quietWaitSeconds, log: (l) => process.stderr.write(`${l}\n`) });
  process.stdout.write(`onnxruntime-node ${ortVersion()}, rows/s, ${seconds} s per point, allow_spinning 0\n\n${limitTable(result)}\n`);
}
