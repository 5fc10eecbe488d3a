// `npm run bench`: ortserve under load from wrk, next to raw onnxruntime in-process and (optionally) the reference
// peers, all in one run, all on 127.0.0.1, bounded in time. Prints a markdown report and writes it to
// bench/results/latest.md. See docs/benchmarks.md.
//
// Env: BENCH_SECONDS (measured seconds per load run, default 10), BENCH_WARMUP_SECONDS (unmeasured load before each
// run, default 2), BENCH_ORT_SECONDS (seconds per batch size in-process, default 2), PEERS_DIR (a prepared copy of
// the reference peers: peers/naive.mjs and peers/echo.mjs with their node_modules), BENCH_MAX_SECONDS (hard bound
// on the whole bench, default 900), BENCH_OUT (report path, default bench/results/latest.md), BENCH_WRK (wrk binary,
// default: wrk on PATH or /usr/bin/wrk), BENCH_QUIET_WAIT_SECONDS (default 0: on a shared machine, wait up to this
// long before each measurement until other processes use < 0.15 cores; raise BENCH_MAX_SECONDS with it).
// Other variables pass through to ortserve (WORKER_THREADS, MAX_QUEUE_DELAY_MS, ...), and the report lists them.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { mintToken } from '../src/http/token.js';
import { MODEL_REPOSITORY, MODELS, ROOT, binaryBody, jsonBody, modelPath, type BenchModel } from './models.js';
import { limitTable, measureOrtLimit, ortVersion, type LimitResult, type LimitRow } from './ort-limit.js';
import { CLK_TCK, cpuTicks, machineCores, machineTicks, reapedChildTicks, waitForQuiet } from './proc.js';
import { parseWrkResult, socketErrors, type WrkResult } from './wrk-result.js';

// ------------------------------------------------------------------------------------------------ settings

function numberEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min) {
    process.stderr.write(`bench: ${name}=${raw} is not a number >= ${min}\n`);
    process.exit(2);
  }
  return v;
}

const SECONDS = Math.round(numberEnv('BENCH_SECONDS', 10, 1));
const WARMUP_SECONDS = Math.round(numberEnv('BENCH_WARMUP_SECONDS', 2, 0));
const ORT_SECONDS = numberEnv('BENCH_ORT_SECONDS', 2, 0.2);
const MAX_SECONDS = numberEnv('BENCH_MAX_SECONDS', 900, 10);
const QUIET_WAIT_SECONDS = numberEnv('BENCH_QUIET_WAIT_SECONDS', 0, 0);
/** Every server's loads are measured this many times, in turn (ortserve, unbatched, naive, echo, then again); each row reports its median run. */
const ROUNDS = Math.round(numberEnv('BENCH_ROUNDS', 1, 1));
const PEERS_DIR = process.env.PEERS_DIR ? path.resolve(process.env.PEERS_DIR) : undefined;
const OUT = path.resolve(process.env.BENCH_OUT ?? path.join(ROOT, 'bench', 'results', 'latest.md'));
const LUA = path.join(ROOT, 'bench', 'wrk-infer.lua');
const MAIN_JS = path.join(ROOT, 'dist', 'main.js');
const HOST = '127.0.0.1';
const JWT_SECRET = randomBytes(24).toString('base64url');
/** The environment the bench sets for ortserve (batching-off adds MAX_BATCH_SIZE=0). */
const ORTSERVE_ENV: Record<string, string> = {
  HOST,
  MODEL_REPOSITORY,
  JWT_SECRET: '<random per run>',
  RATE_LIMIT_MAX: '0',
  LOG_LEVEL: 'warn',
  NODE_ENV: 'production',
  SHUTDOWN_TIMEOUT_MS: '5000',
};
/** Variables read by ortserve that the bench passes through when they are set. */
const PASS_THROUGH = ['WORKER_THREADS', 'MAX_BATCH_SIZE', 'MAX_QUEUE_DELAY_MS', 'MAX_QUEUE_SIZE', 'MAX_BODY_BYTES', 'WARMUP', 'UV_THREADPOOL_SIZE', 'NODE_OPTIONS'];

const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

// ------------------------------------------------------------------------------------------------ child processes

/** Every child we started and have not seen exit; `group` children are killed as a process group (wrk under timeout). */
const children = new Map<ChildProcess, { group: boolean }>();

function track(child: ChildProcess, group: boolean): ChildProcess {
  children.set(child, { group });
  child.once('exit', () => children.delete(child));
  return child;
}

function kill(child: ChildProcess, signal: NodeJS.Signals): void {
  const entry = children.get(child);
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    if (entry?.group) process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    // already gone
  }
}

async function stop(child: ChildProcess, graceMs = 8000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  kill(child, 'SIGTERM');
  const timedOut = await Promise.race([exited.then(() => false), sleep(graceMs).then(() => true)]);
  if (timedOut) {
    log(`pid ${child.pid} did not exit within ${graceMs} ms of SIGTERM: SIGKILL`);
    kill(child, 'SIGKILL');
    await exited;
  }
}

function killAllNow(): void {
  for (const child of [...children.keys()]) kill(child, 'SIGKILL');
}

process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping every child process`);
    killAllNow();
    process.exit(130);
  });
}
const watchdog = setTimeout(() => {
  log(`the bench ran longer than BENCH_MAX_SECONDS=${MAX_SECONDS}: stopping`);
  killAllNow();
  process.exit(1);
}, MAX_SECONDS * 1000);
watchdog.unref();

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, HOST, resolve);
  });
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

// ------------------------------------------------------------------------------------------------ /proc sampling

interface CpuSample {
  /** utime+stime of the server's main thread, of the whole server process (all threads), in ticks. */
  main: number;
  process: number;
  /** cutime+cstime of this process: grows by a child's CPU when it is reaped (wrk, through timeout). */
  reaped: number;
  /** Busy and total ticks of the whole machine (/proc/stat). */
  systemBusy: number;
  systemTotal: number;
  at: number;
}

function sampleCpu(pid: number): CpuSample {
  const m = machineTicks();
  return {
    main: cpuTicks(`/proc/${pid}/task/${pid}/stat`),
    process: cpuTicks(`/proc/${pid}/stat`),
    reaped: reapedChildTicks(),
    systemBusy: m.busy,
    systemTotal: m.total,
    at: performance.now(),
  };
}

function memoryKb(pid: number): { rss: number; hwm: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

// ------------------------------------------------------------------------------------------------ servers

type ServerKind = 'ortserve' | 'ortserve-unbatched' | 'naive' | 'echo';

interface Server {
  kind: ServerKind;
  label: string;
  /** With BENCH_ROUNDS > 1: which round this server process measured. */
  round?: number;
  child: ChildProcess;
  pid: number;
  base: string;
  logTail: string[];
  warnLines: number;
  logLines: number;
  exit?: string;
}

async function startServer(kind: ServerKind): Promise<Server> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST, MODEL_REPOSITORY };
  let args: string[];
  let cwd: string;
  let label: string;
  if (kind === 'ortserve' || kind === 'ortserve-unbatched') {
    Object.assign(env, ORTSERVE_ENV, { JWT_SECRET });
    if (kind === 'ortserve-unbatched') env.MAX_BATCH_SIZE = '0';
    args = [MAIN_JS];
    cwd = ROOT;
    label = kind === 'ortserve' ? 'ortserve' : 'ortserve, batching off';
  } else {
    args = [path.join(PEERS_DIR!, 'peers', `${kind}.mjs`)];
    cwd = PEERS_DIR!;
    label = kind;
  }
  const child = track(spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] }), false);
  const server: Server = { kind, label, child, pid: child.pid!, base: `http://${HOST}:${port}`, logTail: [], warnLines: 0, logLines: 0 };
  const onLine = (line: string) => {
    if (!line.trim()) return;
    server.logLines++;
    // pino levels: 40 warn, 50 error, 60 fatal; plain text from the peers counts as a line only
    if (/"level":(40|50|60)\b/.test(line) || /\b(error|warn)/i.test(line)) server.warnLines++;
    server.logTail.push(line.length > 400 ? `${line.slice(0, 400)}...` : line);
    if (server.logTail.length > 8) server.logTail.shift();
  };
  for (const stream of [child.stdout!, child.stderr!]) {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    });
  }
  child.once('exit', (code, signal) => {
    server.exit = signal ? `killed by ${signal}` : `exit code ${code}`;
  });
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (server.exit) throw new Error(`${label} exited while starting (${server.exit}):\n${server.logTail.join('\n')}`);
    try {
      const res = await fetch(`${server.base}/v2/health/ready`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop(child);
      throw new Error(`${label} was not ready within 90 s:\n${server.logTail.join('\n')}`);
    }
    await sleep(100);
  }
  log(`${label} ready on ${server.base} (pid ${server.pid})`);
  return server;
}

const alive = (s: Server) => s.exit === undefined && s.child.exitCode === null && s.child.signalCode === null;

// ------------------------------------------------------------------------------------------------ requests

type BodyKind = 'json' | 'binary';

interface Body {
  kind: BodyKind;
  file: string;
  bytes: Buffer;
  headerLength?: number;
}

interface Probe {
  status: number;
  /** Empty when the answer is a 2xx with the expected output; otherwise what was wrong. */
  problem: string;
  outputs?: number[];
}

function headersFor(body: Body, token: string): Record<string, string> {
  const h: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body.kind === 'binary') {
    h['content-type'] = 'application/octet-stream';
    h['inference-header-content-length'] = String(body.headerLength);
  } else h['content-type'] = 'application/json';
  return h;
}

/** One request with the load's body: checks status, output name, shape and values. */
async function probe(url: string, m: BenchModel, body: Body, token: string): Promise<Probe> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: headersFor(body, token), body: body.bytes, signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    return { status: 0, problem: `request failed: ${(err as Error).message}` };
  }
  const raw = Buffer.from(await res.arrayBuffer());
  const headerLength = Number(res.headers.get('inference-header-content-length') ?? raw.length);
  const text = raw.subarray(0, headerLength).toString('utf8');
  if (res.status < 200 || res.status > 299) return { status: res.status, problem: `HTTP ${res.status}: ${text.slice(0, 300)}` };
  try {
    const json = JSON.parse(text) as { outputs?: { name: string; shape: number[]; data?: number[]; parameters?: { binary_data_size?: number } }[] };
    const out = json.outputs?.find((o) => o.name === m.output);
    if (!out) return { status: res.status, problem: `no output '${m.output}' in ${text.slice(0, 200)}` };
    if (JSON.stringify(out.shape) !== JSON.stringify([1, m.outputPerRow])) return { status: res.status, problem: `output shape ${JSON.stringify(out.shape)}, expected [1,${m.outputPerRow}]` };
    let data: number[];
    if (out.data) data = out.data;
    else {
      const size = out.parameters?.binary_data_size ?? 0;
      const bytes = raw.subarray(headerLength, headerLength + size);
      data = Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
    }
    if (data.length !== m.outputPerRow || !data.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      return { status: res.status, problem: `output data is not ${m.outputPerRow} finite numbers` };
    }
    return { status: res.status, problem: '', outputs: data };
  } catch (err) {
    return { status: res.status, problem: `response is not V2 JSON: ${(err as Error).message}` };
  }
}

interface StatsSample {
  inference: number;
  execution: number;
  fail: number;
  success: number;
  queueNs: number;
  computeNs: number;
}

async function stats(server: Server, m: BenchModel, token: string): Promise<StatsSample | undefined> {
  if (server.kind !== 'ortserve' && server.kind !== 'ortserve-unbatched') return undefined;
  try {
    const res = await fetch(`${server.base}/v2/models/${m.name}/versions/1/stats`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
    if (!res.ok) return undefined;
    const s = ((await res.json()) as { model_stats: { inference_count: number; execution_count: number; inference_stats: Record<string, { count: number; ns: number }> }[] }).model_stats[0];
    if (!s) return undefined;
    const is = s.inference_stats;
    return { inference: s.inference_count, execution: s.execution_count, fail: is.fail?.count ?? 0, success: is.success?.count ?? 0, queueNs: is.queue?.ns ?? 0, computeNs: is.compute_infer?.ns ?? 0 };
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------------------------------------ wrk

async function wrk(url: string, body: Body, concurrency: number, seconds: number, token: string): Promise<WrkResult> {
  const args = ['-k', '5', String(seconds + 30), WRK!, '-t1', `-c${concurrency}`, `-d${seconds}s`, '--timeout', '10s', '-s', LUA, url, '--', body.file, token];
  if (body.kind === 'binary') args.push(String(body.headerLength));
  // detached: own process group, so a stop kills timeout and wrk together
  const child = track(spawn('timeout', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true }), true);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
  const [code] = (await once(child, 'exit')) as [number | null];
  const result = parseWrkResult(out);
  if (!result) throw new Error(`wrk gave no result (exit ${code}): ${out.trim().split('\n').slice(-3).join(' | ')}`);
  return result;
}

// ------------------------------------------------------------------------------------------------ one load run

/** A round's CNN binary c=64 load and the in-process best measured just before it (issue 3: "measured just before"). */
interface BinaryPair {
  round: number;
  limit: LimitRow;
  /** Other processes used > 0.2 cores during one of the in-process points. */
  noisy: boolean;
  run?: LoadRun;
}

interface LoadRun {
  server: ServerKind;
  serverLabel: string;
  model: BenchModel;
  body: BodyKind;
  concurrency: number;
  probe?: Probe;
  /** A request after the load when it had errors: what the server answers then. */
  after?: Probe;
  skipped?: string;
  wrk?: WrkResult;
  rps?: number;
  errors?: number;
  meanBatch?: number;
  serverFails?: number;
  meanQueueUs?: number;
  meanComputeUs?: number;
  mainUsPerReq?: number;
  processUsPerReq?: number;
  mainBusy?: number;
  processCores?: number;
  wrkCores?: number;
  otherCores?: number;
  /** With BENCH_ROUNDS > 1: rps of this load in every round, in round order (this run is the median one). */
  roundsRps?: (number | undefined)[];
}

/**
 * Per load (same position in every round), the run with the median rps, carrying every round's rps. On this VM
 * one configuration's rps moves by up to a third between runs minutes apart; the median of rounds that alternate
 * the servers compares them under the same conditions more often than one pass does.
 */
function medianRuns(rounds: LoadRun[][]): LoadRun[] {
  if (rounds.length === 1) return rounds[0]!;
  return rounds[0]!.map((_, i) => {
    const same = rounds.map((r) => r[i]).filter((r): r is LoadRun => r !== undefined);
    const measured = same.filter((r) => r.rps !== undefined).sort((a, b) => a.rps! - b.rps!);
    const chosen = measured.length > 0 ? measured[Math.floor((measured.length - 1) / 2)]! : same[0]!;
    return { ...chosen, roundsRps: same.map((r) => r.rps) };
  });
}

async function loadRun(server: Server, m: BenchModel, body: Body, concurrency: number, token: string): Promise<LoadRun> {
  const run: LoadRun = { server: server.kind, serverLabel: server.label, model: m, body: body.kind, concurrency };
  const name = `${server.label} ${m.name} ${body.kind} c=${concurrency}`;
  if (!alive(server)) {
    run.skipped = `server not running (${server.exit})`;
    return run;
  }
  const url = `${server.base}/v2/models/${m.name}/versions/1/infer`;
  run.probe = await probe(url, m, body, token);
  if (run.probe.problem) {
    run.skipped = `probe: ${run.probe.problem}`;
    log(`${name}: skipped, ${run.skipped}`);
    return run;
  }
  if (QUIET_WAIT_SECONDS > 0) {
    const waited = await waitForQuiet(QUIET_WAIT_SECONDS, [server.pid]);
    if (waited === undefined) log(`${name}: machine not quiet after ${QUIET_WAIT_SECONDS} s, measuring anyway`);
  }
  if (WARMUP_SECONDS > 0) await wrk(url, body, concurrency, WARMUP_SECONDS, token);
  const s0 = await stats(server, m, token);
  const c0 = sampleCpu(server.pid);
  const r = await wrk(url, body, concurrency, SECONDS, token);
  const c1 = sampleCpu(server.pid);
  const s1 = await stats(server, m, token);
  const secs = r.duration_us / 1e6;
  const wall = (c1.at - c0.at) / 1000;
  run.wrk = r;
  run.rps = r.requests / secs;
  run.errors = socketErrors(r);
  const perReq = (t: number) => (r.requests > 0 ? (t / CLK_TCK / r.requests) * 1e6 : NaN);
  run.mainUsPerReq = perReq(c1.main - c0.main);
  run.processUsPerReq = perReq(c1.process - c0.process);
  run.mainBusy = (c1.main - c0.main) / CLK_TCK / wall;
  run.processCores = (c1.process - c0.process) / CLK_TCK / wall;
  run.wrkCores = (c1.reaped - c0.reaped) / CLK_TCK / wall;
  const used = machineCores({ busy: c0.systemBusy, total: c0.systemTotal }, { busy: c1.systemBusy, total: c1.systemTotal });
  run.otherCores = Math.max(0, used - run.processCores - run.wrkCores);
  if (s0 && s1) {
    const exec = s1.execution - s0.execution;
    run.meanBatch = exec > 0 ? (s1.inference - s0.inference) / exec : NaN;
    run.serverFails = s1.fail - s0.fail;
    const ok = s1.success - s0.success;
    run.meanQueueUs = ok > 0 ? (s1.queueNs - s0.queueNs) / ok / 1000 : NaN;
    run.meanComputeUs = ok > 0 ? (s1.computeNs - s0.computeNs) / ok / 1000 : NaN;
  }
  if (run.errors > 0 || r.status > 0 || !alive(server)) {
    run.after = alive(server) ? await probe(url, m, body, token) : { status: 0, problem: `server exited (${server.exit})` };
  }
  log(
    `${name}: ${Math.round(run.rps)} rps, p50 ${fmtMs(r.p50_us)} ms, p99 ${fmtMs(r.p99_us)} ms, errors ${run.errors}, non-2xx ${r.status}` +
      (run.meanBatch !== undefined ? `, mean batch ${fmt(run.meanBatch, 2)}` : '') +
      `, main ${fmt(run.mainUsPerReq, 1)} us/req`,
  );
  return run;
}

// ------------------------------------------------------------------------------------------------ formatting

function fmt(v: number | undefined, digits = 0): string {
  if (v === undefined || !Number.isFinite(v)) return 'n/a';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
function fmtMs(us: number | undefined): string {
  if (us === undefined || !Number.isFinite(us)) return 'n/a';
  const ms = us / 1000;
  return fmt(ms, ms < 10 ? 3 : ms < 100 ? 2 : ms < 1000 ? 1 : 0);
}
const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 ? a / b : undefined);
const fmtX = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? 'n/a' : `${fmt(v, 2)}x`);
const pct = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? 'n/a' : `${fmt(v * 100, 0)}%`);

function firstLine(file: string, re: RegExp): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').find((l) => re.test(l));
  } catch {
    return undefined;
  }
}

function packageVersion(dir: string, pkg: string): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

function machine(): string[] {
  const cpu = firstLine('/proc/cpuinfo', /^model name/)?.split(':')[1]?.trim() ?? 'unknown';
  const memKb = Number(/(\d+)/.exec(firstLine('/proc/meminfo', /^MemTotal/) ?? '')?.[1] ?? NaN);
  const mem = Number.isFinite(memKb) ? `${fmt(memKb / 1024 / 1024, 1)} GiB` : 'unknown';
  let nproc = 'unknown';
  let wrkVersion = 'unknown';
  let commit = 'unknown';
  try {
    nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  } catch {}
  try {
    execFileSync(WRK!, ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    // wrk -v prints its version and exits 1
    wrkVersion = String((err as { stdout?: string }).stdout ?? '').split('\n')[0]?.replace(/\s+Copyright.*/, '').trim() || 'unknown';
  }
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (dirty) commit += ' plus uncommitted changes';
  } catch {}
  const lines = [
    `- CPU: ${cpu}; nproc ${nproc}; memory ${mem}; Linux ${os.release()}`,
    `- Node ${process.version}; ortserve's onnxruntime-node ${ortVersion()}, fastify ${packageVersion(ROOT, 'fastify')}; ${wrkVersion}`,
  ];
  if (PEERS_DIR) lines.push(`- peers (PEERS_DIR): onnxruntime-node ${packageVersion(PEERS_DIR, 'onnxruntime-node')}, fastify ${packageVersion(PEERS_DIR, 'fastify')}`);
  lines.push(`- ortserve commit ${commit}`);
  return lines;
}

// ------------------------------------------------------------------------------------------------ report

interface Target {
  what: string;
  measured: string;
  goal: string;
  met: string;
}

/** The pairs with a measured load, each with its ratio, sorted by ratio. */
function binaryPairRatios(pairs: BinaryPair[]): (BinaryPair & { run: LoadRun & { rps: number }; ratio: number })[] {
  return pairs
    .filter((p): p is BinaryPair & { run: LoadRun & { rps: number } } => p.run?.rps !== undefined)
    .map((p) => ({ ...p, ratio: p.run.rps / p.limit.rowsPerSecond }))
    .sort((a, b) => a.ratio - b.ratio);
}

function report(ctx: {
  started: Date;
  finished: Date;
  loadStart: number[];
  loadEnd: number[];
  limit?: LimitResult;
  limitError?: string;
  binaryPairs: BinaryPair[];
  runs: LoadRun[];
  servers: Server[];
  notes: string[];
}): string {
  const { runs, limit } = ctx;
  const find = (server: ServerKind, model: BenchModel['name'], body: BodyKind, c: number) =>
    runs.find((r) => r.server === server && r.model.name === model && r.body === body && r.concurrency === c && r.rps !== undefined);
  const clean = (...rs: (LoadRun | undefined)[]) => rs.every((r) => r && r.errors === 0 && r.wrk!.status === 0);
  const verdict = (ok: boolean | undefined, rs: (LoadRun | undefined)[]) =>
    ok === undefined ? 'n/a' : !clean(...rs) ? `${ok ? 'yes' : 'no'}, but with errors or non-2xx` : ok ? 'yes' : 'no';

  const targets: Target[] = [];
  const peersNote = PEERS_DIR ? 'n/a' : 'n/a (no PEERS_DIR)';
  {
    const o = find('ortserve', 'tabular', 'json', 64);
    const n = find('naive', 'tabular', 'json', 64);
    const e = find('echo', 'tabular', 'json', 64);
    const rn = ratio(o?.rps, n?.rps);
    const re = ratio(o?.rps, e?.rps);
    targets.push({ what: 'MLP, c=64: ortserve rps / naive rps', measured: rn === undefined ? peersNote : `${fmtX(rn)} (${fmt(o?.rps)} / ${fmt(n?.rps)})`, goal: '>= 2x', met: verdict(rn === undefined ? undefined : rn >= 2, [o, n]) });
    targets.push({ what: 'MLP, c=64: ortserve rps / echo rps', measured: re === undefined ? peersNote : `${fmtX(re)} (${fmt(o?.rps)} / ${fmt(e?.rps)})`, goal: '>= 0.7x', met: verdict(re === undefined ? undefined : re >= 0.7, [o, e]) });
    targets.push({
      what: 'MLP, c=64: main-thread CPU per request, ortserve vs echo',
      measured: e ? `${fmt(o?.mainUsPerReq, 1)} us vs ${fmt(e.mainUsPerReq, 1)} us (${fmtX(ratio(o?.mainUsPerReq, e.mainUsPerReq))})` : `${fmt(o?.mainUsPerReq, 1)} us vs ${peersNote}`,
      goal: 'record',
      met: '',
    });
  }
  {
    const o = find('ortserve', 'vision', 'json', 64);
    const n = find('naive', 'vision', 'json', 64);
    const rn = ratio(o?.rps, n?.rps);
    targets.push({ what: 'CNN JSON, c=64: ortserve rps / naive rps', measured: rn === undefined ? peersNote : `${fmtX(rn)} (${fmt(o?.rps)} / ${fmt(n?.rps)})`, goal: '>= 2x', met: verdict(rn === undefined ? undefined : rn >= 2, [o, n]) });
    const tail = ratio(o?.wrk?.p99_us, o?.wrk?.p50_us);
    targets.push({ what: 'CNN JSON, c=64: ortserve p99 / p50', measured: `${fmtX(tail)} (${fmtMs(o?.wrk?.p99_us)} ms / ${fmtMs(o?.wrk?.p50_us)} ms)`, goal: '<= 3x', met: verdict(tail === undefined ? undefined : tail <= 3, [o]) });
  }
  const pairs = binaryPairRatios(ctx.binaryPairs);
  {
    const o = find('ortserve', 'vision', 'binary', 64);
    if (pairs.length > 0) {
      // Each round's load against the in-process best measured just before it; the median of those ratios.
      const median = pairs[Math.floor((pairs.length - 1) / 2)]!;
      const others = pairs.length > 1 ? `; all rounds ${[...pairs].sort((a, b) => a.round - b.round).map((p) => fmtX(p.ratio)).join(', ')}` : '';
      targets.push({
        what: 'CNN binary, c=64: ortserve images/s / in-process best measured just before',
        measured: `${fmtX(median.ratio)} (${pairs.length > 1 ? `median round, ${median.round}: ` : ''}${fmt(median.run.rps)} / ${fmt(median.limit.rowsPerSecond)}, best: ${median.limit.layout}, batch ${median.limit.batch}${others})`,
        goal: '>= 0.8x',
        met: verdict(median.ratio >= 0.8, [median.run]),
      });
    } else {
      const best = limit?.best.vision;
      const r = ratio(o?.rps, best?.rowsPerSecond);
      targets.push({
        what: 'CNN binary, c=64: ortserve images/s / in-process best (measured at the start)',
        measured: r === undefined ? 'n/a' : `${fmtX(r)} (${fmt(o?.rps)} / ${fmt(best?.rowsPerSecond)}, best: ${best?.layout}, batch ${best?.batch})`,
        goal: '>= 0.8x',
        met: verdict(r === undefined ? undefined : r >= 0.8, [o]),
      });
    }
  }
  {
    const o = find('ortserve', 'tabular', 'json', 1);
    const n = find('naive', 'tabular', 'json', 1);
    const d = o?.wrk && n?.wrk ? (o.wrk.p50_us - n.wrk.p50_us) / 1000 : undefined;
    targets.push({
      what: 'MLP, c=1: ortserve p50 - naive p50',
      measured: d === undefined ? peersNote : `${d >= 0 ? '+' : ''}${fmt(d, 3)} ms (${fmtMs(o?.wrk?.p50_us)} ms vs ${fmtMs(n?.wrk?.p50_us)} ms)`,
      goal: '<= +0.15 ms',
      met: verdict(d === undefined ? undefined : d <= 0.15, [o, n]),
    });
    const ov = find('ortserve', 'vision', 'json', 1);
    const nv = find('naive', 'vision', 'json', 1);
    const r = ratio(ov?.wrk?.p50_us, nv?.wrk?.p50_us);
    targets.push({ what: 'CNN JSON, c=1: ortserve p50 / naive p50', measured: r === undefined ? peersNote : `${fmtX(r)} (${fmtMs(ov?.wrk?.p50_us)} ms vs ${fmtMs(nv?.wrk?.p50_us)} ms)`, goal: '<= 1.25x', met: verdict(r === undefined ? undefined : r <= 1.25, [ov, nv]) });
  }
  for (const [model, body] of [['tabular', 'json'], ['vision', 'json'], ['vision', 'binary']] as const) {
    const on = find('ortserve', model, body, 64);
    const off = find('ortserve-unbatched', model, body, 64);
    targets.push({
      what: `${model === 'tabular' ? 'MLP' : 'CNN'} ${body}, c=64: batching on / off`,
      measured: `rps ${fmtX(ratio(on?.rps, off?.rps))} (${fmt(on?.rps)} vs ${fmt(off?.rps)}); process CPU per request ${fmt(on?.processUsPerReq, 0)} us vs ${fmt(off?.processUsPerReq, 0)} us; main thread ${fmt(on?.mainUsPerReq, 1)} us vs ${fmt(off?.mainUsPerReq, 1)} us`,
      goal: 'record',
      met: '',
    });
  }

  const out: string[] = [];
  out.push('# ortserve benchmark report', '');
  out.push(
    `Produced by \`npm run bench\` (bench/run.ts) on ${ctx.started.toISOString()} in ${fmt((ctx.finished.getTime() - ctx.started.getTime()) / 1000)} s: ` +
      `wrk with 1 thread, ${SECONDS} s measured per run after ${WARMUP_SECONDS} s of unmeasured warm-up at the same concurrency, one request = one row (MLP) or one image (CNN), ` +
      `every server alone on 127.0.0.1 while it is measured.${ROUNDS > 1 ? ` ${ROUNDS} rounds, each measuring every server in turn; every row below is the round with the median rps (all rounds under "Rounds").` : ''} In-process limit: ${ORT_SECONDS} s per batch size.${QUIET_WAIT_SECONDS ? ` Before each measurement the bench waited (up to ${QUIET_WAIT_SECONDS} s) for other processes to use < 0.15 cores.` : ''}${PEERS_DIR ? ' Peers from PEERS_DIR.' : ' PEERS_DIR not set: no naive/echo figures.'}`,
    '',
  );
  out.push('## Machine', '', ...machine(), `- load average (1/5/15 min) at start ${ctx.loadStart.map((l) => fmt(l, 2)).join(' / ')}, at end ${ctx.loadEnd.map((l) => fmt(l, 2)).join(' / ')}`, '');
  const troubled = runs.filter((r) => r.skipped || (r.errors ?? 0) > 0 || (r.wrk?.status ?? 0) > 0 || (r.serverFails ?? 0) > 0);
  const crashed = ctx.servers.filter((s) => s.exit !== undefined && !s.exit.includes('SIGTERM') && s.exit !== 'exit code 0');
  if (troubled.length || crashed.length || ctx.notes.length) {
    out.push('## Problems seen in this run', '');
    for (const s of crashed) out.push(`- ${s.label}${s.round ? ` (round ${s.round})` : ''} exited during the bench (${s.exit}); last log lines:`, '', '```', ...s.logTail, '```', '');
    for (const r of troubled) {
      const what = `${r.serverLabel}, ${r.model.name} ${r.body}, c=${r.concurrency}`;
      if (r.skipped) out.push(`- ${what}: not measured, ${r.skipped}`);
      else
        out.push(
          `- ${what}: ${r.errors} socket errors, ${r.wrk!.status} non-2xx of ${fmt(r.wrk!.requests)} requests` +
            (r.serverFails ? `, server counted ${r.serverFails} failed inferences` : '') +
            (r.after ? `; a request after the load: ${r.after.problem || `HTTP ${r.after.status}, correct output`}` : ''),
        );
    }
    for (const n of ctx.notes) out.push(`- ${n}`);
    out.push('');
  }
  const noisy = runs.filter((r) => (r.otherCores ?? 0) > 0.2);
  const noisyLimit = limit?.rows.filter((r) => r.otherCores > 0.2) ?? [];
  if (noisyLimit.length) {
    out.push(`**The machine was not quiet** during ${noisyLimit.length} of ${limit!.rows.length} in-process points (marked †).`, '');
  }
  if (noisy.length) {
    out.push(
      `**The machine was not quiet:** in ${noisy.length} of ${runs.filter((r) => r.wrk).length} load runs other processes used more than 0.2 cores ` +
        `(up to ${fmt(Math.max(...noisy.map((r) => r.otherCores!)), 2)}; column "other cores" below), so those figures are low and the ratios noisy.`,
      '',
    );
  }
  out.push('## Targets (issue 3), ratios from this run', '', '| target | measured | goal | met |', '|---|---|---|---|');
  for (const t of targets) out.push(`| ${t.what} | ${t.measured} | ${t.goal} | ${t.met} |`);
  out.push('');
  out.push(
    '## Load runs',
    '',
    'rps = requests answered (any status) / seconds; p50/p99 from wrk; errors = socket errors (connect, read, write, timeout); non-2xx = HTTP status >= 400; ' +
      'mean batch = rows / runs from the server\'s stats extension over the measured window (ortserve only).',
    '',
    '| server | model | body | c | rps | p50 ms | p99 ms | p99/p50 | max ms | errors | non-2xx | mean batch |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const r of runs) {
    if (!r.wrk) {
      out.push(`| ${r.serverLabel} | ${r.model.name} | ${r.body} | ${r.concurrency} | not measured | | | | | | | |`);
      continue;
    }
    const w = r.wrk;
    out.push(
      `| ${r.serverLabel} | ${r.model.name} | ${r.body} | ${r.concurrency} | ${fmt(r.rps)} | ${fmtMs(w.p50_us)} | ${fmtMs(w.p99_us)} | ${fmtX(ratio(w.p99_us, w.p50_us))} | ${fmtMs(w.max_us)} | ${fmt(r.errors)} | ${fmt(w.status)} | ${r.meanBatch === undefined ? '-' : fmt(r.meanBatch, 2)} |`,
    );
  }
  out.push('');
  if (ROUNDS > 1) {
    out.push('## Rounds', '', `rps of every load in each of the ${ROUNDS} rounds; the tables report the median round's run.`, '');
    out.push(`| server | model | body | c | ${Array.from({ length: ROUNDS }, (_, i) => `round ${i + 1}`).join(' | ')} | spread (max / min) |`);
    out.push(`|---|---|---|---:|${'---:|'.repeat(ROUNDS)}---:|`);
    for (const r of runs) {
      const rps = r.roundsRps ?? [];
      const seen = rps.filter((v): v is number => v !== undefined);
      const spread = seen.length > 1 ? fmtX(Math.max(...seen) / Math.min(...seen)) : '-';
      out.push(`| ${r.serverLabel} | ${r.model.name} | ${r.body} | ${r.concurrency} | ${rps.map((v) => (v === undefined ? '-' : fmt(v))).join(' | ')} | ${spread} |`);
    }
    out.push('');
  }
  out.push(
    '## CPU per request',
    '',
    `From /proc (clock tick ${CLK_TCK} Hz) over the measured window: the server's main thread (/proc/<pid>/task/<pid>/stat) and the whole server process ` +
      '(/proc/<pid>/stat, every thread: workers, onnxruntime, libuv, GC), per request and as cores in use; wrk\'s own CPU; "other" = user+system time of every ' +
      'other process on the machine (/proc/stat minus the server and wrk; irq/softirq time, where the kernel counts much of loopback TCP, is left out): ' +
      'should be near 0. Queue and compute are the server\'s own per-request means (stats extension).',
    '',
    '| server | model | body | c | main us/req | process us/req | main thread busy | process cores | wrk cores | other cores | queue us | compute us |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const r of runs) {
    if (!r.wrk) continue;
    out.push(
      `| ${r.serverLabel} | ${r.model.name} | ${r.body} | ${r.concurrency} | ${fmt(r.mainUsPerReq, 1)} | ${fmt(r.processUsPerReq, 1)} | ${pct(r.mainBusy)} | ${fmt(r.processCores, 2)} | ${fmt(r.wrkCores, 2)} | ${fmt(r.otherCores, 2)} | ${r.meanQueueUs === undefined ? '-' : fmt(r.meanQueueUs, 0)} | ${r.meanComputeUs === undefined ? '-' : fmt(r.meanComputeUs, 0)} |`,
    );
  }
  out.push('');
  out.push('## Raw onnxruntime in-process (the limit)', '');
  if (pairs.length > 0) {
    out.push(
      'Just before the CNN binary c=64 load of each round (ortserve started, idle), bench/ort-limit.ts measured the vision points again (both layouts, every batch size); ' +
        'the binary target compares each round\'s load with the best of those, and reports the median of the rounds\' ratios.',
      '',
      '| round | in-process best just before | where | ortserve binary c=64 images/s | ratio |',
      '|---:|---:|---|---:|---:|',
      ...[...pairs]
        .sort((a, b) => a.round - b.round)
        .map((p) => `| ${p.round} | ${fmt(p.limit.rowsPerSecond)}${p.noisy ? ' †' : ''} | ${p.limit.layout}, batch ${p.limit.batch} | ${fmt(p.run.rps)} | ${fmtX(p.ratio)} |`),
      '',
    );
    if (pairs.some((p) => p.noisy)) out.push('† other processes used more than 0.2 cores during one of that round\'s in-process points.', '');
    out.push('At the start of the run, every model:', '');
  }
  if (limit) {
    out.push(
      `bench/ort-limit.ts, measured first in this run: rows/s with the same row repeated into a batch, run back-to-back for ${limit.secondsPerPoint} s per batch size; ` +
        'each worker thread has its own session (allow_spinning 0, graph optimisation all); best per model in bold.',
      '',
      limitTable(limit),
      '',
    );
  } else out.push(`not measured: ${ctx.limitError}`, '');
  out.push('## Checks', '');
  const agree = (a: LoadRun | undefined, b: LoadRun | undefined) => {
    const x = a?.probe?.outputs;
    const y = b?.probe?.outputs;
    if (!x || !y) return 'n/a';
    const d = Math.max(...x.map((v, i) => Math.abs(v - y[i]!)));
    return d === 0 ? 'identical' : `max |difference| ${d.toExponential(1)}`;
  };
  out.push(
    '- Before each load, one request with the same body was checked: 2xx, the expected output name, shape [1, n] and finite values.',
    `- Outputs agree: CNN ortserve JSON vs binary body ${agree(find('ortserve', 'vision', 'json', 1), find('ortserve', 'vision', 'binary', 1))}; ` +
      `ortserve vs naive: MLP ${agree(find('ortserve', 'tabular', 'json', 1), find('naive', 'tabular', 'json', 1))}, CNN ${agree(find('ortserve', 'vision', 'json', 1), find('naive', 'vision', 'json', 1))}.`,
  );
  for (const s of ctx.servers) {
    const mem = (s as Server & { mem?: { rss: number; hwm: number } }).mem;
    out.push(
      `- ${s.label}${s.round ? ` (round ${s.round})` : ''}: ${s.logLines} lines of output, ${s.warnLines} at warn level or above` +
        (mem ? `; memory after its runs: RSS ${fmt(mem.rss / 1024)} MB, peak ${fmt(mem.hwm / 1024)} MB` : '') +
        (s.warnLines ? `; last: \`${(s.logTail.at(-1) ?? '').replaceAll('`', "'").slice(0, 300)}\`` : ''),
    );
  }
  const passed = PASS_THROUGH.filter((k) => process.env[k] !== undefined).map((k) => `${k}=${process.env[k]}`);
  out.push(
    `- ortserve ran as \`node dist/main.js\` with ${Object.entries(ORTSERVE_ENV).map(([k, v]) => `${k}=${k === 'MODEL_REPOSITORY' ? 'bench/models' : v}`).join(' ')} and a free port; ` +
      `"batching off" adds MAX_BATCH_SIZE=0.${passed.length ? ` Passed through from the environment: ${passed.join(' ')}.` : ''}`,
  );
  out.push('');
  return out.join('\n');
}

// ------------------------------------------------------------------------------------------------ main

function findWrk(): string | undefined {
  const given = process.env.BENCH_WRK;
  if (given) return fs.existsSync(given) ? given : undefined;
  for (const dir of (process.env.PATH ?? '').split(':').concat('/usr/bin')) {
    const p = path.join(dir || '.', 'wrk');
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {}
  }
  return undefined;
}
const WRK = findWrk();

function preflight(): void {
  const fail = (msg: string) => {
    process.stderr.write(`bench: ${msg}\n`);
    process.exit(2);
  };
  if (!WRK) fail('wrk is not installed: apt-get install -y wrk');
  if (!fs.existsSync(MAIN_JS)) fail(`${path.relative(ROOT, MAIN_JS)} is missing: run \`npm run build\` (npm run bench does it first)`);
  for (const m of MODELS) if (!fs.existsSync(modelPath(m))) fail(`${path.relative(ROOT, modelPath(m))} is missing: run /usr/bin/python3 scripts/make_bench_models.py`);
  if (PEERS_DIR) {
    for (const f of ['peers/naive.mjs', 'peers/echo.mjs', 'node_modules/fastify/package.json', 'node_modules/onnxruntime-node/package.json']) {
      if (!fs.existsSync(path.join(PEERS_DIR, f))) fail(`PEERS_DIR=${PEERS_DIR} has no ${f}: copy the reference peers there and run npm install in it`);
    }
  }
}

async function main(): Promise<number> {
  preflight();
  const started = new Date();
  const loadStart = os.loadavg();
  if (loadStart[0]! > 0.5) log(`load average is ${fmt(loadStart[0], 2)}: something else is using the CPU, figures will be low (see "other cores")`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ortserve-bench-'));
  const token = mintToken({ secret: JWT_SECRET }, { sub: 'bench', scope: 'predict', expiresInSeconds: 3600 });
  const bodies = new Map<string, Body>();
  for (const m of MODELS) {
    const json = jsonBody(m);
    const jf = path.join(tmp, `${m.name}.json`);
    fs.writeFileSync(jf, json);
    bodies.set(`${m.name}/json`, { kind: 'json', file: jf, bytes: json });
    const bin = binaryBody(m);
    const bf = path.join(tmp, `${m.name}.bin`);
    fs.writeFileSync(bf, bin.body);
    bodies.set(`${m.name}/binary`, { kind: 'binary', file: bf, bytes: bin.body, headerLength: bin.headerLength });
  }
  const body = (m: BenchModel, kind: BodyKind) => bodies.get(`${m.name}/${kind}`)!;
  const tabular = MODELS.find((m) => m.name === 'tabular')!;
  const vision = MODELS.find((m) => m.name === 'vision')!;
  log(`bodies: MLP JSON ${body(tabular, 'json').bytes.length} B; CNN JSON ${body(vision, 'json').bytes.length} B, binary ${body(vision, 'binary').bytes.length} B`);

  let runs: LoadRun[] = [];
  const servers: Server[] = [];
  const notes: string[] = [];
  let limit: LimitResult | undefined;
  let limitError: string | undefined;
  const binaryPairs: BinaryPair[] = [];
  let exitCode = 0;

  try {
    log('raw onnxruntime in-process');
    try {
      limit = await measureOrtLimit({ secondsPerPoint: ORT_SECONDS, quietWaitSeconds: QUIET_WAIT_SECONDS, log });
    } catch (err) {
      limitError = (err as Error).message;
      log(`in-process limit failed: ${limitError}`);
    }

    type Plan = { kind: ServerKind; loads: [BenchModel, BodyKind, number][] };
    const full: [BenchModel, BodyKind, number][] = [
      [tabular, 'json', 1], [tabular, 'json', 64],
      [vision, 'json', 1], [vision, 'json', 64],
      [vision, 'binary', 1], [vision, 'binary', 64],
    ];
    const plans: Plan[] = [
      { kind: 'ortserve', loads: full },
      { kind: 'ortserve-unbatched', loads: [[tabular, 'json', 64], [vision, 'json', 64], [vision, 'binary', 64]] },
    ];
    if (PEERS_DIR) {
      const jsonOnly = full.filter(([, b]) => b === 'json');
      plans.push({ kind: 'naive', loads: jsonOnly }, { kind: 'echo', loads: jsonOnly });
    }
    const rounds: LoadRun[][] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      if (ROUNDS > 1) log(`round ${round} of ${ROUNDS}`);
      const roundRuns: LoadRun[] = [];
      rounds.push(roundRuns);
      for (const plan of plans) {
        let server: Server;
        try {
          server = await startServer(plan.kind);
        } catch (err) {
          notes.push(`${plan.kind} did not start: ${(err as Error).message.split('\n')[0]}`);
          log((err as Error).message);
          if (plan.kind.startsWith('ortserve')) exitCode = 1;
          continue;
        }
        if (ROUNDS > 1) server.round = round;
        servers.push(server);
        try {
          for (const [m, b, c] of plan.loads) {
            if (plan.kind === 'ortserve' && m === vision && b === 'binary' && c === 64 && limit) {
              // The binary target compares with the in-process best "measured just before": the vision points
              // again, in this round, with ortserve started but idle.
              try {
                const justBefore = await measureOrtLimit({ secondsPerPoint: ORT_SECONDS, quietWaitSeconds: QUIET_WAIT_SECONDS, log, models: ['vision'] });
                binaryPairs.push({ round, limit: justBefore.best.vision!, noisy: justBefore.rows.some((r) => r.otherCores > 0.2) });
              } catch (err) {
                log(`in-process limit before round ${round}'s binary load failed: ${(err as Error).message}`);
              }
            }
            try {
              const run = await loadRun(server, m, body(m, b), c, token);
              roundRuns.push(run);
              const pair = binaryPairs.find((p) => p.round === round);
              if (pair && plan.kind === 'ortserve' && m === vision && b === 'binary' && c === 64) pair.run = run;
            } catch (err) {
              const run: LoadRun = { server: plan.kind, serverLabel: server.label, model: m, body: b, concurrency: c, skipped: (err as Error).message };
              roundRuns.push(run);
              log(`${server.label} ${m.name} ${b} c=${c}: ${run.skipped}`);
            }
          }
          if (alive(server)) (server as Server & { mem?: { rss: number; hwm: number } }).mem = memoryKb(server.pid);
          else if (plan.kind.startsWith('ortserve')) exitCode = 1;
        } finally {
          const wasAlive = alive(server);
          await stop(server.child);
          if (wasAlive) server.exit = undefined; // stopped by us: not a crash
        }
      }
    }
    runs = medianRuns(rounds);
  } finally {
    killAllNow();
    fs.rmSync(tmp, { recursive: true, force: true });
  }

  const text = report({ started, finished: new Date(), loadStart, loadEnd: os.loadavg(), limit, limitError, binaryPairs, runs, servers, notes });
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, text);
  process.stdout.write(`${text}\n`);
  log(`report written to ${path.relative(ROOT, OUT) || OUT}`);
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    killAllNow();
    process.exit(1);
  },
);
