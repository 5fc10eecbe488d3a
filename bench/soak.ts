// Soak: ortserve (`node dist/main.js`, the bundled models/) at saturation for SOAK_SECONDS, driven by wrk on
// 127.0.0.1. Not a test and not in CI: `node --import tsx bench/soak.ts` after `npm run build`. Prints a markdown
// report and exits non-zero when a check fails:
// - every response (warm-up included) is 2xx, 429 or 503 (overload answers); anything else, or a socket error
//   (reset, timeout), fails;
// - the server's resident memory (VmRSS of /proc/<pid>/status, sampled every second) at the end of the measured
//   run exceeds its level at the start by more than SOAK_MAX_RSS_GROWTH_MB (median of 5 samples at each end);
// - the server exits, or a checked request per route before or after the load fails.
// The warm-up lasts until the server's bounded buffers are full: at least SOAK_WARMUP_SECONDS and until it has
// answered FEEDBACK_MAX_PENDING requests (the feedback store remembers that many recent predictions, about 30 MB at
// the default 100,000), at most SOAK_WARMUP_MAX_SECONDS; memory growth before that point is the buffers filling,
// not a leak. Reported, not bounded: the event loop's p99 delay (prom-client's nodejs_eventloop_lag_p99_seconds,
// read from /metrics every 5 s; each read covers the window since the previous one), the JS heap, wrk's
// latencies, the CPU of the server and of the rest of the machine.
//
// The server's old space is capped (SOAK_MAX_OLD_SPACE_MB, default 160; its live heap under this load is about
// 70-80 MB, the feedback store included) so that V8 collects garbage during the run and RSS follows what is live:
// uncapped on a large machine, V8 lets the heap grow well past its live set before a full collection (+71 MB of
// used heap in 60 s on a 24 GB machine), which looks like a leak in a 60 s run. A real leak then shows as growth,
// or as the server dying of heap exhaustion.
//
// Env: SOAK_SECONDS (default 60), SOAK_WARMUP_SECONDS (10), SOAK_WARMUP_MAX_SECONDS (300), SOAK_CONNECTIONS (64,
// spread over the three loads), SOAK_MAX_RSS_GROWTH_MB (32), SOAK_MAX_OLD_SPACE_MB (160; 0 leaves V8's default),
// SOAK_WRK (wrk binary, default wrk on PATH), SOAK_OUT (also write the report there), SOAK_QUIET_WAIT_SECONDS (0:
// on a shared machine, wait up to this long for other processes to use < 0.15 cores). ortserve's WORKER_THREADS,
// MAX_BATCH_SIZE, MAX_QUEUE_DELAY_MS, MAX_QUEUE_SIZE, RATE_LIMIT_MAX, RATE_LIMIT_WINDOW, FEEDBACK_MAX_PENDING,
// MONITORING_ENABLED, DRIFT_ENABLED and NODE_OPTIONS pass through (RATE_LIMIT_MAX is 0 unless set: the soak loads
// the inference path, not 429s).
// Exit codes: 0 every check passed, 1 a check failed, 2 something is missing (wrk, dist/main.js).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../src/config/env.js';
import { mintToken } from '../src/http/token.js';
import { CLK_TCK, cpuTicks, machineCores, machineTicks, waitForQuiet } from './proc.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAIN_JS = path.join(ROOT, 'dist', 'main.js');
const MODEL_REPOSITORY = path.join(ROOT, 'models');
const HOST = '127.0.0.1';
const ALLOWED_NON_2XX = new Set([429, 503]);

function numberEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min) {
    process.stderr.write(`soak: ${name}=${raw} is not a number >= ${min}\n`);
    process.exit(2);
  }
  return v;
}

const SECONDS = Math.round(numberEnv('SOAK_SECONDS', 60, 5));
const WARMUP_SECONDS = Math.round(numberEnv('SOAK_WARMUP_SECONDS', 10, 5));
const WARMUP_MAX_SECONDS = Math.max(WARMUP_SECONDS, Math.round(numberEnv('SOAK_WARMUP_MAX_SECONDS', 300, 5)));
const WARMUP_CHUNK_SECONDS = 5;
const CONNECTIONS = Math.round(numberEnv('SOAK_CONNECTIONS', 64, 3));
const MAX_RSS_GROWTH_MB = numberEnv('SOAK_MAX_RSS_GROWTH_MB', 32, 0);
const MAX_OLD_SPACE_MB = Math.round(numberEnv('SOAK_MAX_OLD_SPACE_MB', 160, 0));
const QUIET_WAIT_SECONDS = numberEnv('SOAK_QUIET_WAIT_SECONDS', 0, 0);
const SCRAPE_EVERY_S = 5;
const PASS_THROUGH = ['WORKER_THREADS', 'MAX_BATCH_SIZE', 'MAX_QUEUE_DELAY_MS', 'MAX_QUEUE_SIZE', 'RATE_LIMIT_MAX', 'RATE_LIMIT_WINDOW', 'FEEDBACK_MAX_PENDING', 'MONITORING_ENABLED', 'DRIFT_ENABLED', 'NODE_OPTIONS'];

const log = (line: string) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

function fail(message: string, code = 2): never {
  process.stderr.write(`soak: ${message}\n`);
  process.exit(code);
}

function findWrk(): string | undefined {
  for (const candidate of [process.env.SOAK_WRK, 'wrk', '/usr/bin/wrk'].filter((c): c is string => !!c)) {
    try {
      execFileSync(candidate, ['-v'], { stdio: ['ignore', 'pipe', 'pipe'] });
      return candidate;
    } catch (err) {
      // wrk -v prints its version and exits 1; only a missing binary is ENOENT.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return candidate;
    }
  }
  return undefined;
}

// ------------------------------------------------------------------------------------------------ children

const children = new Set<ChildProcess>();
function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
function killAll(): void {
  for (const c of children) {
    try {
      if (c.pid !== undefined) process.kill(c.spawnargs[0] === 'timeout' ? -c.pid : c.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, HOST, resolve));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

// ------------------------------------------------------------------------------------------------ loads

interface Load {
  label: string;
  path: string;
  body: string;
  connections: number;
}

const ROW = Array.from({ length: 30 }, (_, i) => ((i * 7919) % 100) / 10);
const IMAGE = Array.from({ length: 64 }, (_, i) => ((i * 37) % 17) / 16);

function loads(total: number): Load[] {
  const half = Math.max(1, Math.floor(total / 2));
  const quarter = Math.max(1, Math.floor((total - half) / 2));
  return [
    { label: 'breast_cancer V2 JSON, unversioned', path: '/v2/models/breast_cancer/infer', body: JSON.stringify({ inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: ROW }] }), connections: half },
    { label: 'breast_cancer v1 :predict', path: '/v1/models/breast_cancer:predict', body: JSON.stringify({ instances: [ROW] }), connections: quarter },
    { label: 'digits V2 JSON', path: '/v2/models/digits/infer', body: JSON.stringify({ inputs: [{ name: 'image', shape: [1, 1, 8, 8], datatype: 'FP32', data: IMAGE }] }), connections: total - half - quarter },
  ];
}

/** wrk script: the prepared POST on every request, statuses counted per thread and summed in done(). */
const LUA = `
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  local file = assert(io.open(args[1], "rb"))
  wrk.body = file:read("*a")
  file:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. args[2]
  statuses = {}
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do total[k] = (total[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(total) do table.insert(parts, string.format('"%d":%d', k, v)) end
  local e = summary.errors
  io.write(string.format('SOAK_RESULT {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,' ..
    '"p50_us":%d,"p99_us":%d,"max_us":%d,"statuses":{%s}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, table.concat(parts, ",")))
end
`;

interface WrkResult {
  requests: number;
  duration_us: number;
  connect: number;
  read: number;
  write: number;
  timeout: number;
  p50_us: number;
  p99_us: number;
  max_us: number;
  statuses: Record<string, number>;
}

async function runWrk(wrk: string, script: string, url: string, bodyFile: string, token: string, connections: number, seconds: number): Promise<WrkResult> {
  const args = ['-k', '5', String(seconds + 30), wrk, '-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', script, url, '--', bodyFile, token];
  const child = track(spawn('timeout', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true }));
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
  const [code] = (await once(child, 'exit')) as [number | null];
  const line = out.split('\n').find((l) => l.startsWith('SOAK_RESULT '));
  if (!line) throw new Error(`wrk gave no result (exit ${code}): ${out.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(line.slice('SOAK_RESULT '.length)) as WrkResult;
}

// ------------------------------------------------------------------------------------------------ sampling

function rssKb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
}

interface Scrape {
  lagP99Seconds?: number;
  heapUsedBytes?: number;
  /** Inference requests answered with success, over every model and version. */
  served: number;
}

async function scrape(base: string): Promise<Scrape | undefined> {
  try {
    const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(4000) })).text();
    const value = (name: string) => {
      const m = new RegExp(`^${name} ([0-9.eE+-]+)`, 'm').exec(text);
      return m ? Number(m[1]) : undefined;
    };
    let served = 0;
    for (const m of text.matchAll(/^inference_requests_total\{[^}]*outcome="success"[^}]*\} ([0-9.eE+]+)/gm)) served += Number(m[1]);
    return { lagP99Seconds: value('nodejs_eventloop_lag_p99_seconds'), heapUsedBytes: value('nodejs_heap_size_used_bytes'), served };
  } catch {
    return undefined;
  }
}

/** One checked request: 200 and the output the route promises. */
async function check(base: string, load: Load, token: string): Promise<string> {
  try {
    const res = await fetch(`${base}${load.path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: load.body, signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    if (res.status !== 200) return `HTTP ${res.status}: ${text.slice(0, 200)}`;
    const body = JSON.parse(text) as { outputs?: unknown[]; predictions?: unknown[] };
    if (!(body.outputs?.length ?? body.predictions?.length)) return `no outputs or predictions: ${text.slice(0, 200)}`;
    return '';
  } catch (err) {
    return `request failed: ${(err as Error).message}`;
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)]!;
};
const mb = (kb: number) => (kb / 1024).toFixed(1);
const ms = (us: number) => (us / 1000).toFixed(us < 10_000 ? 2 : 1);

// ------------------------------------------------------------------------------------------------ main

async function main(): Promise<number> {
  const wrk = findWrk();
  if (!wrk) fail('wrk is not installed: apt-get install -y wrk');
  if (!fs.existsSync(MAIN_JS)) fail(`${MAIN_JS} is missing: npm run build`);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ortserve-soak-'));
  const script = path.join(tmp, 'soak.lua');
  fs.writeFileSync(script, LUA);
  const secret = randomBytes(24).toString('base64url');
  const token = mintToken({ secret }, { sub: 'soak', scope: 'predict', expiresInSeconds: 24 * 3600 });

  const port = await freePort();
  const base = `http://${HOST}:${port}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HOST,
    PORT: String(port),
    MODEL_REPOSITORY,
    JWT_SECRET: secret,
    RATE_LIMIT_MAX: '0',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    SHUTDOWN_TIMEOUT_MS: '5000',
  };
  const passed: string[] = [];
  for (const name of PASS_THROUGH) {
    if (process.env[name] !== undefined && process.env[name] !== '') {
      env[name] = process.env[name];
      passed.push(`${name}=${process.env[name]}`);
    }
  }
  const nodeArgs = MAX_OLD_SPACE_MB > 0 ? [`--max-old-space-size=${MAX_OLD_SPACE_MB}`] : [];
  const server = track(spawn(process.execPath, [...nodeArgs, MAIN_JS], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  const pid = server.pid!;
  let serverLog = '';
  let warnLines = 0;
  for (const stream of [server.stdout!, server.stderr!]) {
    stream.setEncoding('utf8').on('data', (c: string) => {
      serverLog = (serverLog + c).slice(-4000);
      warnLines += (c.match(/"level":(40|50|60)\b/g) ?? []).length;
    });
  }
  let exitedWith: string | undefined;
  server.once('exit', (code, signal) => (exitedWith = signal ? `killed by ${signal}` : `exit code ${code}`));
  for (let i = 0; ; i++) {
    if (exitedWith) fail(`ortserve exited while starting (${exitedWith}):\n${serverLog}`, 1);
    const ok = await fetch(`${base}/v2/health/ready`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 900) fail(`ortserve not ready within 90 s:\n${serverLog}`, 1);
    await sleep(100);
  }
  const feedbackMaxPending = loadConfig(env).feedback.maxPending;
  log(`ortserve ready on ${base} (pid ${pid}); warm-up >= ${WARMUP_SECONDS} s and >= ${feedbackMaxPending} requests, then ${SECONDS} s measured, ${CONNECTIONS} connections`);

  const plan = loads(CONNECTIONS);
  const checksBefore = await Promise.all(plan.map((l) => check(base, l, token)));
  const files = plan.map((l, i) => {
    const f = path.join(tmp, `body-${i}.json`);
    fs.writeFileSync(f, l.body);
    return f;
  });
  const runAll = (seconds: number) => Promise.all(plan.map((l, i) => runWrk(wrk!, script, `${base}${l.path}`, files[i]!, token, l.connections, seconds)));

  if (QUIET_WAIT_SECONDS > 0) {
    const waited = await waitForQuiet(QUIET_WAIT_SECONDS, [pid]);
    log(waited === undefined ? `machine not quiet after ${QUIET_WAIT_SECONDS} s: soaking anyway` : `machine quiet after ${waited.toFixed(0)} s`);
  }
  // Sampling through both phases: RSS and CPU every second, /metrics every SCRAPE_EVERY_S seconds.
  const started = performance.now();
  const now = () => (performance.now() - started) / 1000;
  const rss: { t: number; kb: number }[] = [];
  const scrapes: { t: number; s: Scrape }[] = [];
  const cpu: { t: number; ticks: number; machine: { busy: number; total: number } }[] = [];
  let sampling = true;
  const sampler = (async () => {
    for (let k = 0; sampling; k++) {
      const t = now();
      try {
        rss.push({ t, kb: rssKb(pid) });
        cpu.push({ t, ticks: cpuTicks(`/proc/${pid}/stat`), machine: machineTicks() });
      } catch {
        return;
      }
      if (k % SCRAPE_EVERY_S === 0 && k > 0) {
        const sc = await scrape(base);
        if (sc) scrapes.push({ t, s: sc });
      }
      await sleep(Math.max(0, started + (k + 1) * 1000 - performance.now()));
    }
  })();

  // Warm-up in chunks, until the buffers are full (or the bound is reached).
  const warmup: WrkResult[] = [];
  let served = 0;
  while (exitedWith === undefined) {
    warmup.push(...(await runAll(Math.min(WARMUP_CHUNK_SECONDS, Math.max(1, WARMUP_MAX_SECONDS - Math.floor(now()))))));
    served = (await scrape(base))?.served ?? served;
    if ((now() >= WARMUP_SECONDS && served >= feedbackMaxPending) || now() >= WARMUP_MAX_SECONDS) break;
  }
  const warmupSeconds = now();
  const warmupFull = served >= feedbackMaxPending;
  log(`warm-up: ${warmupSeconds.toFixed(0)} s, ${served} requests served${warmupFull ? '' : ` (fewer than FEEDBACK_MAX_PENDING=${feedbackMaxPending}: the feedback store may still be filling)`}`);
  const results = exitedWith === undefined ? await runAll(SECONDS) : [];
  sampling = false;
  await sampler;
  const aliveThroughRun = exitedWith === undefined;
  const checksAfter = exitedWith ? plan.map(() => `server exited (${exitedWith})`) : await Promise.all(plan.map((l) => check(base, l, token)));

  // Stop the server (SIGTERM, then SIGKILL after the grace period).
  if (!exitedWith) {
    const exited = once(server, 'exit');
    server.kill('SIGTERM');
    if (await Promise.race([exited.then(() => false), sleep(10_000).then(() => true)])) server.kill('SIGKILL');
  }
  fs.rmSync(tmp, { recursive: true, force: true });

  // ---------------------------------------------------------------------------------------------- report
  const statuses: Record<string, number> = {};
  for (const r of [...warmup, ...results]) for (const [k, n] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + n;
  const disallowed = Object.entries(statuses).filter(([k]) => !(Number(k) >= 200 && Number(k) < 300) && !ALLOWED_NON_2XX.has(Number(k)));
  const socketErrors = [...warmup, ...results].reduce((n, r) => n + r.connect + r.read + r.write + r.timeout, 0);
  const t0 = warmupSeconds;
  const measured = rss.filter((x) => x.t >= t0);
  const startWindow = measured.slice(0, 5).map((x) => x.kb);
  const endWindow = measured.slice(-5).map((x) => x.kb);
  const rssStart = median(startWindow);
  const rssEnd = median(endWindow);
  const rssMax = Math.max(...measured.map((x) => x.kb));
  const growthMb = (rssEnd - rssStart) / 1024;
  const trajectory = measured.filter((_, i) => i % 10 === 0 || i === measured.length - 1).map((x) => mb(x.kb)).join(', ');
  const measuredScrapes = scrapes.filter((x) => x.t >= t0 + SCRAPE_EVERY_S - 0.5);
  const lagMs = measuredScrapes.map((x) => (x.s.lagP99Seconds ?? NaN) * 1000).filter(Number.isFinite);
  const heapStart = measuredScrapes[0]?.s.heapUsedBytes;
  const heapEnd = measuredScrapes.at(-1)?.s.heapUsedBytes;
  const cpuFrom = cpu.find((c) => c.t >= t0);
  const cpuTo = cpu.at(-1);
  const cores = cpuFrom && cpuTo && cpuTo.t > cpuFrom.t ? (cpuTo.ticks - cpuFrom.ticks) / CLK_TCK / (cpuTo.t - cpuFrom.t) : NaN;
  const machine = cpuFrom && cpuTo && cpuTo.t > cpuFrom.t ? machineCores(cpuFrom.machine, cpuTo.machine) : NaN;
  const warmupRequests = warmup.reduce((n, r) => n + r.requests, 0);

  const checks: { what: string; value: string; bound: string; ok: boolean }[] = [
    { what: 'responses other than 2xx, 429, 503 (warm-up included)', value: disallowed.length ? disallowed.map(([k, n]) => `${n} x ${k}`).join(', ') : '0', bound: '0', ok: disallowed.length === 0 },
    { what: 'socket errors: connect, read, write, timeout > 10 s (warm-up included)', value: String(socketErrors), bound: '0', ok: socketErrors === 0 },
    { what: 'RSS growth over the measured run (median of 5 samples at each end)', value: `${growthMb >= 0 ? '+' : ''}${growthMb.toFixed(1)} MB`, bound: `<= ${MAX_RSS_GROWTH_MB} MB`, ok: Number.isFinite(growthMb) && growthMb <= MAX_RSS_GROWTH_MB },
    { what: 'server alive through the run', value: aliveThroughRun ? 'yes' : `no (${exitedWith})`, bound: 'yes', ok: aliveThroughRun },
    { what: 'checked request per route before / after', value: [...checksBefore, ...checksAfter].filter(Boolean).join('; ') || 'all 200 with outputs', bound: 'all 200', ok: [...checksBefore, ...checksAfter].every((c) => c === '') },
  ];

  const lines: string[] = [];
  lines.push(`### Soak: ${SECONDS} s at saturation after a ${warmupSeconds.toFixed(0)} s warm-up`);
  lines.push('');
  lines.push(
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, node ${process.version}, ${os.availableParallelism()} CPUs (${os.cpus()[0]?.model.trim() ?? 'unknown'}), ` +
      `\`node ${nodeArgs.join(' ')}${nodeArgs.length ? ' ' : ''}dist/main.js\` on models/ with RATE_LIMIT_MAX=0, LOG_LEVEL=warn${passed.length ? `, ${passed.join(', ')}` : ''}; wrk -t1 per load, ${CONNECTIONS} connections in all, on 127.0.0.1. ` +
      `Warm-up: ${warmupRequests} requests in ${warmupSeconds.toFixed(0)} s (${served} answered 200 in all by then, FEEDBACK_MAX_PENDING=${feedbackMaxPending}${warmupFull ? '' : ': **not reached**'}), ` +
      `statuses ${Object.entries(warmup.reduce<Record<string, number>>((m, r) => { for (const [k, n] of Object.entries(r.statuses)) m[k] = (m[k] ?? 0) + n; return m; }, {})).map(([k, n]) => `${n} x ${k}`).join(', ') || 'none'}.`,
  );
  lines.push('');
  lines.push('Measured run:');
  lines.push('');
  lines.push('| load | connections | requests | rps | p50 ms | p99 ms | max ms | statuses | socket errors |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---|---:|');
  for (const [i, r] of results.entries()) {
    const l = plan[i]!;
    const st = Object.entries(r.statuses).map(([k, n]) => `${n} x ${k}`).join(', ');
    lines.push(`| ${l.label} | ${l.connections} | ${r.requests} | ${Math.round(r.requests / (r.duration_us / 1e6))} | ${ms(r.p50_us)} | ${ms(r.p99_us)} | ${ms(r.max_us)} | ${st} | ${r.connect + r.read + r.write + r.timeout} |`);
  }
  lines.push('');
  lines.push('| measure (measured run) | value |');
  lines.push('|---|---:|');
  lines.push(`| RSS at the start (median of the first ${startWindow.length} samples) | ${mb(rssStart)} MB |`);
  lines.push(`| RSS at the end (median of the last ${endWindow.length} samples) | ${mb(rssEnd)} MB |`);
  lines.push(`| RSS max | ${mb(rssMax)} MB |`);
  lines.push(`| RSS every 10 s | ${trajectory} MB |`);
  lines.push(`| JS heap used (nodejs_heap_size_used_bytes), first / last scrape | ${heapStart !== undefined && heapEnd !== undefined ? `${mb(heapStart / 1024)} / ${mb(heapEnd / 1024)} MB` : 'n/a'} |`);
  lines.push(`| event-loop delay p99 (nodejs_eventloop_lag_p99_seconds, ${lagMs.length} windows of ${SCRAPE_EVERY_S} s): median / worst | ${lagMs.length ? `${median(lagMs).toFixed(1)} / ${Math.max(...lagMs).toFixed(1)} ms` : 'n/a'} |`);
  lines.push(`| server CPU (all threads) | ${Number.isFinite(cores) ? cores.toFixed(2) : 'n/a'} cores |`);
  lines.push(`| rest of the machine meanwhile (wrk and any other process) | ${Number.isFinite(machine - cores) ? Math.max(0, machine - cores).toFixed(2) : 'n/a'} cores of ${os.availableParallelism()} |`);
  lines.push(`| server warn/error log lines (whole run) | ${warnLines} |`);
  lines.push('');
  lines.push('| check | value | bound | result |');
  lines.push('|---|---|---|---|');
  for (const c of checks) lines.push(`| ${c.what} | ${c.value} | ${c.bound} | ${c.ok ? 'pass' : '**FAIL**'} |`);
  const report = `${lines.join('\n')}\n`;
  process.stdout.write(report);
  if (process.env.SOAK_OUT) fs.writeFileSync(path.resolve(process.env.SOAK_OUT), report);
  const failed = checks.filter((c) => !c.ok);
  if (failed.length > 0) {
    log(`FAILED: ${failed.map((c) => c.what).join('; ')}`);
    if (exitedWith || warnLines > 0) log(`server log tail:\n${serverLog}`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`soak: ${err.stack ?? err.message}\n`);
    killAll();
    process.exit(1);
  },
);
