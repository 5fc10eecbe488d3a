// Resident memory of the real server over many lifecycle cycles (issue 5's memory guarantee).
//   node --import tsx scripts/lifecycle-memory.ts [cycles=200]
// Starts `node --import tsx src/main.ts` on a temporary copy of models/, then runs N cycles of: upload a new
// version (the bytes of breast_cancer/2), route all traffic to it (and send a few requests), route back to
// version 2, DELETE it. After each cycle it reads the server's VmRSS from /proc/<pid>/status. Prints RSS after
// cycle 10 and at the end, the growth between them and per cycle; exits 1 if that growth exceeds 50 MB.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { mintToken } from '../src/http/token.js';
import { freePort } from '../test/helpers/process.js';
import { removeRepo, ROOT, tempRepo } from '../test/helpers/repo.js';

const CYCLES = Number(process.argv[2] ?? 200);
const WARM_CYCLES = 10;
const LIMIT_MB = 50;
const WORKERS = Number(process.env.WORKER_THREADS ?? 2);
const REQUESTS_PER_CYCLE = 20;
const SECRET = 'lifecycle-memory-secret-0123456789';
const ADMIN = `Bearer ${mintToken({ secret: SECRET }, { sub: 'lifecycle-memory', scope: 'admin predict', expiresInSeconds: 24 * 3600 })}`;
const FORWARDED = ['WORKER_THREADS', 'DRIFT_ENABLED', 'MONITORING_ENABLED', 'WARMUP', 'REPOSITORY_POLL_INTERVAL_MS', 'FEEDBACK_MAX_PENDING'];
const ROW = JSON.stringify({ inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: Array.from({ length: 30 }, (_, i) => (i % 4) / 4) }] });

if (!Number.isInteger(CYCLES) || CYCLES <= WARM_CYCLES) {
  process.stderr.write(`usage: node --import tsx scripts/lifecycle-memory.ts [cycles > ${WARM_CYCLES}]\n`);
  process.exit(2);
}

function rssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}

async function call(base: string, method: string, url: string, body?: Uint8Array | object): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = { authorization: ADMIN };
  let payload: RequestInit['body'];
  if (body instanceof Uint8Array) {
    payload = body;
    headers['content-type'] = 'application/octet-stream';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(`${base}${url}`, { method, headers, body: payload });
  return { status: res.status, text: await res.text() };
}

async function expect(what: string, status: number, res: Promise<{ status: number; text: string }>): Promise<string> {
  const r = await res;
  if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status} ${r.text.slice(0, 300)}`);
  return r.text;
}

async function sessionsLoaded(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(/^model_sessions_loaded (\d+)/m.exec(text)?.[1] ?? NaN);
}

/** Where the memory is, from the server's own /metrics: the main thread's V8 heap, external memory, worker heaps. */
async function heaps(base: string): Promise<string> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const mb = (re: RegExp) => (Number(re.exec(text)?.[1] ?? NaN) / 2 ** 20).toFixed(1);
  const workers = [...text.matchAll(/^runtime_worker_heap_used_bytes\{[^}]*\} (\d+)/gm)].map((m) => (Number(m[1]) / 2 ** 20).toFixed(1));
  return `main heap used ${mb(/^nodejs_heap_size_used_bytes (\d+)/m)} MB, external ${mb(/^nodejs_external_memory_bytes (\d+)/m)} MB, worker heaps ${workers.join(' + ')} MB`;
}

async function main(): Promise<void> {
  const repo = tempRepo('ortserve-lifecycle-memory-');
  const bytes = new Uint8Array(fs.readFileSync(path.join(repo, 'breast_cancer/2/model.onnx')));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      MODEL_REPOSITORY: repo,
      PORT: String(port),
      HOST: '127.0.0.1',
      JWT_SECRET: SECRET,
      RATE_LIMIT_MAX: '0',
      LOG_LEVEL: 'warn',
      WORKER_THREADS: String(WORKERS),
      // Polling off: one server, and the poller's race with uploads (docs/lifecycle.md) cannot interfere.
      REPOSITORY_POLL_INTERVAL_MS: '0',
      // Server settings to compare runs with, e.g. DRIFT_ENABLED=false node --import tsx scripts/lifecycle-memory.ts
      ...Object.fromEntries(FORWARDED.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]!])),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const cleanup = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    removeRepo(repo);
  };
  process.on('exit', cleanup);
  try {
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error('the server exited during start-up');
      const ok = await fetch(`${base}/v2/health/ready`).then((r) => r.status === 200, () => false);
      if (ok) break;
      if (i > 300) throw new Error('the server did not become ready within 30 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    await expect('set table', 200, call(base, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '2': 100 } }));
    const pid = child.pid!;
    const sessionsAtStart = await sessionsLoaded(base);
    const rss: number[] = [rssMb(pid)];
    const started = performance.now();
    console.log(`lifecycle-memory: ${CYCLES} cycles, ${WORKERS} worker threads, server pid ${pid}, RSS at start ${rss[0]!.toFixed(1)} MB, ${sessionsAtStart} sessions`);
    for (let c = 1; c <= CYCLES; c++) {
      const v = String(c + 2);
      await expect(`cycle ${c}: upload ${v}`, 201, call(base, 'PUT', `/admin/models/breast_cancer/versions/${v}`, bytes));
      await expect(`cycle ${c}: route to ${v}`, 200, call(base, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { [v]: 100 } }));
      const served = await Promise.all(Array.from({ length: REQUESTS_PER_CYCLE }, () => expect(`cycle ${c}: infer`, 200, call(base, 'POST', '/v2/models/breast_cancer/infer', JSON.parse(ROW)))));
      for (const text of served) if ((JSON.parse(text) as { model_version: string }).model_version !== v) throw new Error(`cycle ${c}: served by a version other than ${v}`);
      await expect(`cycle ${c}: route back`, 200, call(base, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '2': 100 } }));
      await expect(`cycle ${c}: delete ${v}`, 200, call(base, 'DELETE', `/admin/models/breast_cancer/versions/${v}`));
      rss.push(rssMb(pid));
      if (c % 20 === 0 || c === WARM_CYCLES) {
        console.log(`  cycle ${String(c).padStart(4)}: RSS ${rss[c]!.toFixed(1)} MB, sessions ${await sessionsLoaded(base)}, ${await heaps(base)}, ${((performance.now() - started) / 1000).toFixed(1)} s`);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const atWarm = rss[WARM_CYCLES]!;
    const atEnd = rss[CYCLES]!;
    const growth = atEnd - atWarm;
    const perCycleKb = (growth * 1024) / (CYCLES - WARM_CYCLES);
    const sessionsAtEnd = await sessionsLoaded(base);
    console.log(`RSS at start:           ${rss[0]!.toFixed(1)} MB`);
    console.log(`RSS after cycle ${WARM_CYCLES}:     ${atWarm.toFixed(1)} MB`);
    console.log(`RSS after cycle ${CYCLES}:    ${atEnd.toFixed(1)} MB (max ${Math.max(...rss).toFixed(1)} MB)`);
    console.log(`growth after cycle ${WARM_CYCLES}: ${growth.toFixed(1)} MB over ${CYCLES - WARM_CYCLES} cycles = ${perCycleKb.toFixed(0)} KB per cycle (limit ${LIMIT_MB} MB)`);
    console.log(`sessions loaded: ${sessionsAtStart} at start, ${sessionsAtEnd} at the end; ${seconds.toFixed(1)} s (${((seconds * 1000) / CYCLES).toFixed(0)} ms per cycle)`);
    if (sessionsAtEnd !== sessionsAtStart) console.log('  sessions were not all released');
    process.exitCode = growth > LIMIT_MB || sessionsAtEnd !== sessionsAtStart ? 1 : 0;
  } finally {
    cleanup();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`lifecycle-memory: ${err.message}\n`);
  process.exit(1);
});
