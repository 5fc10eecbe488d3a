// `ortserve serve` (the real process, flags over the environment, drained on SIGTERM) and `ortserve bench` (a short
// load run against a real server on a loopback port): its numbers, its refusal of a remote URL, and plain output
// when stderr is not a terminal.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { freePort, kill, type ServerProcess, waitReady } from '../helpers/process.js';
import { BUNDLED_MODELS, FIXTURE_MODELS, ROOT, startServer, type Started, TEST_SECRET, token } from '../helpers/server.js';
import { CLI, ensureBuilt, ortserve } from './run-cli.js';

before(() => ensureBuilt());

const hasScript = () => spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;
const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe('ortserve serve', () => {
  let p: ServerProcess | undefined;
  after(async () => {
    if (p) await kill(p);
  });

  it('starts the server with flags that override the environment, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    // The environment names a missing repository and another port; the flags win.
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', MODEL_REPOSITORY: '/nonexistent', PORT: '1', JWT_SECRET: TEST_SECRET };
    const args = ['serve', '--port', String(port), '--host', '127.0.0.1', '--model-repository', FIXTURE_MODELS, '--log-level', 'warn', '--worker-threads', '1', '--warmup', 'false'];
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = { stdout: '', stderr: '' };
    const log: string[] = [];
    child.stdout.setEncoding('utf8').on('data', (d: string) => (log.push(d), (out.stdout += d)));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (log.push(d), (out.stderr += d)));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    p = { child, port, out, log, exited };
    await waitReady(p, 'ortserve serve');

    const res = await fetch(`http://127.0.0.1:${port}/v2/models/dtype_fp32`, { headers: { authorization: `Bearer ${token()}` } });
    assert.equal(res.status, 200, 'the fixture repository from --model-repository is served');

    const exit = await kill(p, 'SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, log.join(''));
  });

  it('exits 2 naming the flag when a flag value is invalid, before starting anything', async () => {
    const run = await ortserve(['serve', '--port', 'eighty', '--max-batch-size=-3'], { JWT_SECRET: TEST_SECRET });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--port: /);
    assert.match(run.stderr, /--max-batch-size: /);
    assert.doesNotMatch(run.stderr, /\n\s+at /);
  });

  it('rejects a flag the environment has no variable for', async () => {
    const run = await ortserve(['serve', '--no-such-setting', '1']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /Unknown option '--no-such-setting'/);
  });
});

describe('ortserve bench', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ MODEL_REPOSITORY: BUNDLED_MODELS, WARMUP: 'false', MAX_BODY_BYTES: '4096' });
  });
  after(() => s.close());

  it('runs for the given seconds at the given concurrency and prints rps, p50 and no errors', async () => {
    const run = await ortserve(['bench', '--duration', '2', '--concurrency', '4', '--url', s.url, '--token', token()]);
    assert.equal(run.code, 0, run.stderr);
    const rps = Number(/^rps\s+([\d.]+)$/m.exec(run.stdout)?.[1]);
    assert.ok(rps > 0, run.stdout);
    const p50 = Number(/p50 ([\d.]+)/.exec(run.stdout)?.[1]);
    assert.ok(p50 > 0, run.stdout);
    assert.match(run.stdout, /^concurrency\s+4$/m);
    const requests = /^requests\s+(\d+) \((\d+) ok, 0 errors\)$/m.exec(run.stdout);
    assert.ok(requests, run.stdout);
    assert.equal(requests[1], requests[2]);
    assert.match(run.stdout, /^versions\s+2: \d+ \(100\.0%\)$/m, 'without a table the highest version answers');
    assert.match(run.stderr, /^bench: breast_cancer at /m);
    assert.doesNotMatch(run.stdout + run.stderr, /\r/, 'no carriage returns when not on a terminal');
  });

  it('builds valid requests from the metadata of another model, with --json output', async () => {
    const run = await ortserve(['bench', '--model', 'digits', '--duration', '1', '--concurrency', '2', '--batch', '3', '--json'], { ORTSERVE_URL: s.url, ORTSERVE_TOKEN: token('predict:digits') });
    assert.equal(run.code, 0, run.stderr);
    const r = JSON.parse(run.stdout) as { ok: number; requests: number; errors: Record<string, number>; latencyMs: { p50: number } };
    assert.ok(r.ok > 0);
    assert.equal(r.requests, r.ok);
    assert.deepEqual(r.errors, {});
    assert.ok(r.latencyMs.p50 > 0);
  });

  it('counts errors by status with the server message, and exits 1 when no request succeeds', async () => {
    // 64 rows of breast_cancer are about 13 KB of JSON, beyond this server's MAX_BODY_BYTES; the metadata call is fine.
    const run = await ortserve(['bench', '--duration', '1', '--concurrency', '2', '--batch', '64', '--url', s.url, '--token', token()]);
    assert.equal(run.code, 1, run.stdout);
    assert.match(run.stdout, /^requests\s+(\d+) \(0 ok, \1 errors\)$/m);
    assert.match(run.stdout, /^errors\s+HTTP 413: \d+ \(.+\)$/m);
    assert.match(run.stdout, /latency ms\s+n\/a/);
    assert.match(run.stderr, /no request succeeded/);
  });

  it('stops at the metadata call with the server message for a version that does not exist', async () => {
    const run = await ortserve(['bench', '--duration', '1', '--version', '9'], { ORTSERVE_URL: s.url, ORTSERVE_TOKEN: token() });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /version '9' of model 'breast_cancer' not found \(HTTP 404\)/);
  });

  it('redraws its progress line with \\r when stderr is a terminal (under script(1))', { skip: hasScript() ? false : 'script(1) from util-linux is not installed' }, async () => {
    const command = [process.execPath, CLI, 'bench', '--duration', '1', '--concurrency', '2', '--url', s.url, '--token', token()].map(shellQuote).join(' ');
    const run = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = spawn('script', ['-qefc', command, '/dev/null'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TERM: 'dumb' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, out }));
    });
    assert.equal(run.code, 0, run.out);
    assert.match(run.out, /\r[|/\\-] bench \d\.\d\/1 s, \d+ requests/, 'a spinner line redrawn in place');
    assert.match(run.out, /\r\x1b\[K/, 'the line is erased before the results');
    assert.match(run.out, /rps\s+[\d.]+/);
  });

  it('refuses a URL that is not loopback unless --allow-remote', async () => {
    const run = await ortserve(['bench', '--url', 'http://example.com:8080', '--duration', '1']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /not a loopback address/);
    assert.match(run.stderr, /--allow-remote/);
  });
});
