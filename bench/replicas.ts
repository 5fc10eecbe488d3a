// Does a second HTTP process help the small model on this machine? The MLP at concurrency 64 is bound by one
// process's main thread (docs/benchmarks.md), so the way past it is more processes. This measures the simplest
// form of that which keeps every lifecycle guarantee today: two replicas on one model repository (each with one
// worker thread, so both together have as many threads as one default server), each under wrk -c32 at the same
// time, against one default server under wrk -c64. Alternates the two setups PAIRS times, each run on fresh
// servers, and reports the rps (summed over the replicas) and the cores the whole machine used meanwhile.
//   node --import tsx bench/replicas.ts        (env: PAIRS=3, SECONDS=8; needs wrk and dist/)
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../test/helpers/process.js';
import { ROOT } from '../test/helpers/repo.js';
import { benchSecret, median, requireWrkAndDist, waitReady, writeMlpBody } from './mlp-load.js';
import { CLK_TCK, machineTicks } from './proc.js';
import { parseWrkResult, socketErrors } from './wrk-result.js';

const PAIRS = Number(process.env.PAIRS ?? 3);
const SECONDS = Number(process.env.SECONDS ?? 8);
const { secret, token } = benchSecret();
const body = writeMlpBody();

interface Load {
  requests: number;
  seconds: number;
  non2xx: number;
  errors: number;
}

function wrk(url: string, connections: number, seconds: number): Promise<Load> {
  return new Promise((resolve, reject) => {
    const child = spawn('timeout', ['-k', '5', String(seconds + 30), 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '-s', path.join(ROOT, 'bench/wrk-infer.lua'), `${url}/v2/models/tabular/infer`, '--', body, token], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', () => {
      const j = parseWrkResult(out);
      if (!j) return reject(new Error('wrk printed no result'));
      resolve({ requests: j.requests, seconds: j.duration_us / 1e6, non2xx: j.status, errors: socketErrors(j) });
    });
  });
}

/** Busy ticks of the whole machine: process time and the kernel's interrupt work (loopback TCP) alike. */
function busyTicks(): number {
  const m = machineTicks();
  return m.busy + m.interrupts;
}

async function measure(replicas: number): Promise<{ rps: number; cores: number; non2xx: number; errors: number }> {
  const children: ChildProcess[] = [];
  try {
    const urls: string[] = [];
    for (let i = 0; i < replicas; i++) {
      const port = await freePort();
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: String(port), MODEL_REPOSITORY: 'bench/models', JWT_SECRET: secret, RATE_LIMIT_MAX: '0', LOG_LEVEL: 'warn', NODE_ENV: 'production' };
      if (replicas > 1) env.WORKER_THREADS = '1';
      children.push(spawn(process.execPath, ['dist/main.js'], { cwd: ROOT, env, stdio: 'ignore' }));
      urls.push(`http://127.0.0.1:${port}`);
    }
    await Promise.all(urls.map(waitReady));
    const connections = 64 / replicas;
    await Promise.all(urls.map((u) => wrk(u, connections, 2))); // warm-up, unmeasured
    const t0 = busyTicks();
    const loads = await Promise.all(urls.map((u) => wrk(u, connections, SECONDS)));
    const cores = (busyTicks() - t0) / CLK_TCK / SECONDS;
    return {
      rps: loads.reduce((n, l) => n + l.requests / l.seconds, 0),
      cores,
      non2xx: loads.reduce((n, l) => n + l.non2xx, 0),
      errors: loads.reduce((n, l) => n + l.errors, 0),
    };
  } finally {
    for (const c of children) c.kill('SIGKILL');
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

requireWrkAndDist();
const rps: Record<number, number[]> = { 1: [], 2: [] };
console.log(`## One server vs two replicas (MLP, JSON, 64 connections in all, ${SECONDS} s per run, ${PAIRS} alternating pairs, ${os.availableParallelism()} cores)\n`);
console.log('| run | setup | rps | machine cores busy | non-2xx | socket errors |');
console.log('|---:|---|---:|---:|---:|---:|');
for (let i = 0; i < PAIRS; i++) {
  for (const replicas of [1, 2]) {
    const r = await measure(replicas);
    rps[replicas]!.push(r.rps);
    const setup = replicas === 1 ? 'one server (default worker threads), wrk -c64' : 'two replicas (WORKER_THREADS=1 each), wrk -c32 each';
    console.log(`| ${i + 1} | ${setup} | ${fmt(r.rps)} | ${r.cores.toFixed(2)} | ${r.non2xx} | ${r.errors} |`);
  }
}
console.log(`\nmedian rps: one server ${fmt(median(rps[1]!))}, two replicas ${fmt(median(rps[2]!))} (${(median(rps[2]!) / median(rps[1]!)).toFixed(2)}x)`);
fs.rmSync(body, { force: true });
