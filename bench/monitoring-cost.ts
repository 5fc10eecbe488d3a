// What per-request metrics and drift cost (issue 4's target: at most 10% fewer rps with them on).
// Alternates MONITORING_ENABLED=true/false on the MLP at concurrency 64, PAIRS times, each run its own server
// (`node dist/main.js`, bench/models, 127.0.0.1), and reports every run plus the medians, because run-to-run
// noise on this 2-core VM is larger than the effect. Bounded: PAIRS x 2 x (SECONDS + warm-up + start).
//   node --import tsx bench/monitoring-cost.ts        (env: PAIRS=3, SECONDS=8)
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../test/helpers/process.js';
import { ROOT } from '../test/helpers/repo.js';
import { benchSecret, median, requireWrkAndDist, waitReady, writeMlpBody } from './mlp-load.js';
import { parseWrkResult } from './wrk-result.js';

const PAIRS = Number(process.env.PAIRS ?? 3);
const SECONDS = Number(process.env.SECONDS ?? 8);
const { secret, token } = benchSecret();
const body = writeMlpBody();

function wrk(url: string, seconds: number): { rps: number; p50Ms: number; p99Ms: number; non2xx: number } {
  const r = spawnSync('timeout', ['-k', '5', String(seconds + 30), 'wrk', '-t1', '-c64', `-d${seconds}s`, '-s', path.join(ROOT, 'bench/wrk-infer.lua'), `${url}/v2/models/tabular/infer`, '--', body, token], { encoding: 'utf8' });
  const j = parseWrkResult(r.stdout);
  if (!j) throw new Error(`wrk failed: ${r.stderr.slice(-300)}`);
  return { rps: j.requests / (j.duration_us / 1e6), p50Ms: j.p50_us / 1000, p99Ms: j.p99_us / 1000, non2xx: j.status };
}

async function measure(monitoring: boolean): Promise<{ rps: number; p50Ms: number; p99Ms: number; non2xx: number }> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['dist/main.js'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: String(port), MODEL_REPOSITORY: 'bench/models', JWT_SECRET: secret, RATE_LIMIT_MAX: '0', LOG_LEVEL: 'warn', NODE_ENV: 'production', MONITORING_ENABLED: String(monitoring), REPOSITORY_POLL_INTERVAL_MS: '0' },
    stdio: 'ignore',
  });
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitReady(url);
    wrk(url, 2); // warm-up, unmeasured
    return wrk(url, SECONDS);
  } finally {
    child.kill('SIGKILL');
  }
}

requireWrkAndDist();
const on: number[] = [];
const off: number[] = [];
console.log(`## Monitoring on vs off (MLP, JSON, concurrency 64, ${SECONDS} s per run, ${PAIRS} alternating pairs)\n`);
console.log('| run | MONITORING_ENABLED | rps | p50 ms | p99 ms | non-2xx |');
console.log('|---:|---|---:|---:|---:|---:|');
for (let i = 0; i < PAIRS; i++) {
  for (const monitoring of [true, false]) {
    const r = await measure(monitoring);
    (monitoring ? on : off).push(r.rps);
    console.log(`| ${i + 1} | ${monitoring} | ${Math.round(r.rps).toLocaleString('en-US')} | ${r.p50Ms.toFixed(3)} | ${r.p99Ms.toFixed(2)} | ${r.non2xx} |`);
  }
}
const ratio = median(on) / median(off);
console.log(`\nmedian rps with monitoring ${Math.round(median(on)).toLocaleString('en-US')}, without ${Math.round(median(off)).toLocaleString('en-US')}: ${(ratio * 100).toFixed(1)}% (${((1 - ratio) * 100).toFixed(1)}% lower; target at most 10% lower); spread of the runs without monitoring: ${Math.round(Math.min(...off)).toLocaleString('en-US')}-${Math.round(Math.max(...off)).toLocaleString('en-US')} rps`);
fs.rmSync(body, { force: true });
