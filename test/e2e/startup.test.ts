// Starting the real process (`node --import tsx src/main.ts`): the development token printed when no JWT config is
// set, the production refusal, every environment problem listed at once, and the request log (one JSON line per
// request, never the Authorization header or the token).
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { kill, type ServerProcess as Proc, spawnServer as spawnProcess } from '../helpers/process.js';
import { TEST_SECRET, token } from '../helpers/server.js';

const running: Proc[] = [];

/** Spawns the server with only these variables (plus PATH/HOME), so no JWT config leaks in from the test's shell. */
async function spawnServer(env: Record<string, string>): Promise<Proc> {
  const p = await spawnProcess({ MODEL_REPOSITORY: 'models', WORKER_THREADS: '1', ...env });
  running.push(p);
  return p;
}

/** Resolves when stdout matches, rejects if the process exits first. */
async function waitFor(p: Proc, pattern: RegExp): Promise<RegExpExecArray> {
  let gone = false;
  void p.exited.then(() => (gone = true));
  for (;;) {
    const m = pattern.exec(p.out.stdout);
    if (m) return m;
    if (gone) throw new Error(`server exited before printing ${pattern}:\nstderr:\n${p.out.stderr}\nstdout:\n${p.out.stdout}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stop(p: Proc): Promise<number | null> {
  return (await kill(p, 'SIGTERM')).code;
}

after(async () => {
  await Promise.all(running.map((p) => stop(p)));
});

describe('development start without JWT config', { concurrency: true }, () => {
  it('prints a ready-to-use token with scopes "predict admin" and a curl example that works', { timeout: 30_000 }, async () => {
    const p = await spawnServer({ LOG_LEVEL: 'warn' });
    const [, tok] = await waitFor(p, /export TOKEN=(\S+)/);
    await waitFor(p, /curl .*Authorization: Bearer \$TOKEN.*http:\/\/\S+/);
    const curl = /curl [^\n]*?(http:\/\/\S+)/.exec(p.out.stdout)!;
    assert.equal(new URL(curl[1]!).port, String(p.port), 'the curl example names the port the server listens on');

    const claims = JSON.parse(Buffer.from(tok!.split('.')[1]!, 'base64url').toString()) as { sub: string; scope: string; exp: number };
    assert.deepEqual(claims.scope.split(' ').sort(), ['admin', 'predict']);
    assert.ok(claims.exp > Date.now() / 1000);

    const meta = await fetch(curl[1]!, { headers: { authorization: `Bearer ${tok}` } });
    assert.equal(meta.status, 200, await meta.text());
    const infer = await fetch(`http://127.0.0.1:${p.port}/v2/models/breast_cancer/infer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: new Array(30).fill(1) }] }),
    });
    assert.equal(infer.status, 200, await infer.text());
    const noToken = await fetch(curl[1]!);
    assert.equal(noToken.status, 401, 'the random development secret still protects the routes');
    await noToken.arrayBuffer();
    assert.equal(await stop(p), 0);
  });

  it('signs with a secret that is not reused across starts (the printed token only works on its own server)', { timeout: 30_000 }, async () => {
    const a = await spawnServer({ LOG_LEVEL: 'warn' });
    const b = await spawnServer({ LOG_LEVEL: 'warn' });
    const [, tokA] = await waitFor(a, /export TOKEN=(\S+)/);
    await waitFor(b, /export TOKEN=(\S+)/);
    const res = await fetch(`http://127.0.0.1:${b.port}/v2/models/breast_cancer`, { headers: { authorization: `Bearer ${tokA}` } });
    assert.equal(res.status, 401);
    await res.arrayBuffer();
    await Promise.all([stop(a), stop(b)]);
  });
});

describe('refusing to start', { concurrency: true }, () => {
  it('refuses NODE_ENV=production without JWT config and says what to set', { timeout: 30_000 }, async () => {
    const p = await spawnServer({ NODE_ENV: 'production' });
    const { code } = await p.exited;
    assert.notEqual(code, 0);
    assert.match(p.out.stderr, /JWT_SECRET/);
    assert.match(p.out.stderr, /JWT_PUBLIC_KEY_FILE/);
    assert.doesNotMatch(p.out.stdout, /export TOKEN=/, 'no development token in production');
  });

  it('lists every problem of an invalid environment on stderr and exits non-zero', { timeout: 30_000 }, async () => {
    const p = await spawnServer({ JWT_SECRET: TEST_SECRET, PORT: 'abc', RATE_LIMIT_MAX: '-5', LOG_LEVEL: 'loud' });
    const { code } = await p.exited;
    assert.notEqual(code, 0);
    assert.match(p.out.stderr, /PORT/);
    assert.match(p.out.stderr, /RATE_LIMIT_MAX/);
    assert.match(p.out.stderr, /LOG_LEVEL/);
    assert.doesNotMatch(p.out.stderr, /\n\s+at .*\(/, 'a list of problems, not a stack trace');
  });

  it('refuses a JWT_SECRET shorter than 16 characters without echoing it', { timeout: 30_000 }, async () => {
    const p = await spawnServer({ JWT_SECRET: 'short-s3cret' });
    const { code } = await p.exited;
    assert.notEqual(code, 0);
    assert.match(p.out.stderr, /JWT_SECRET/);
    assert.ok(!p.out.stderr.includes('short-s3cret') && !p.out.stdout.includes('short-s3cret'), 'the secret is printed');
  });

  it('refuses JWT_SECRET and JWT_PUBLIC_KEY_FILE together', { timeout: 30_000 }, async () => {
    const p = await spawnServer({ JWT_SECRET: TEST_SECRET, JWT_PUBLIC_KEY_FILE: '/nonexistent.pem' });
    const { code } = await p.exited;
    assert.notEqual(code, 0);
    assert.match(p.out.stderr, /JWT_SECRET/);
    assert.match(p.out.stderr, /JWT_PUBLIC_KEY_FILE/);
  });

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ortserve-startup-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const badKeys: [string, () => string][] = [
    ['a JWT_PUBLIC_KEY_FILE that does not exist', () => path.join(dir, 'missing.pem')],
    ['a JWT_PUBLIC_KEY_FILE that is not a PEM public key', () => {
      const f = path.join(dir, 'garbage.pem');
      fs.writeFileSync(f, 'not a key\n');
      return f;
    }],
    ['a JWT_PUBLIC_KEY_FILE holding a key type it cannot verify (x25519)', () => {
      const f = path.join(dir, 'x25519.pem');
      fs.writeFileSync(f, String(generateKeyPairSync('x25519').publicKey.export({ type: 'spki', format: 'pem' })));
      return f;
    }],
  ];
  for (const [name, file] of badKeys) {
    it(`refuses ${name} with a one-line reason naming the variable`, { timeout: 30_000 }, async () => {
      const p = await spawnServer({ JWT_PUBLIC_KEY_FILE: file() });
      const { code } = await p.exited;
      assert.notEqual(code, 0);
      assert.match(p.out.stderr, /JWT_PUBLIC_KEY_FILE/);
      assert.doesNotMatch(p.out.stderr, /\n\s+at .*\(/, 'a reason, not a stack trace');
    });
  }
});

interface LogLine {
  msg?: string;
  reqId?: string;
  model?: string;
  version?: string;
  statusCode?: number;
  durationMs?: number;
}

describe('request log of the real process', () => {
  it('writes one JSON line per request with request id, model, version, status and duration, and never the token', { timeout: 30_000 }, async () => {
    const p = await spawnServer({ JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'info' });
    await waitFor(p, /"msg":"models loaded"/);
    const base = `http://127.0.0.1:${p.port}`;
    const good = token('predict', 'logger-test');
    const forged = `${good.slice(0, -6)}AAAAAA`;
    const scoped = token('predict:digits', 'scoped');
    const body = JSON.stringify({ inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: new Array(30).fill(1) }] });
    const send = async (id: string, url: string, authz?: string, post = true) => {
      const res = await fetch(`${base}${url}`, {
        method: post ? 'POST' : 'GET',
        headers: { 'x-request-id': id, ...(authz ? { authorization: authz } : {}), ...(post ? { 'content-type': 'application/json' } : {}) },
        ...(post ? { body } : {}),
      });
      await res.arrayBuffer();
      return res.status;
    };
    assert.equal(await send('log-ok-1', '/v2/models/breast_cancer/infer', `Bearer ${good}`), 200);
    assert.equal(await send('log-ok-2', '/v2/models/breast_cancer/versions/1/infer', `Bearer ${good}`), 200);
    assert.equal(await send('log-forged', '/v2/models/breast_cancer/infer', `Bearer ${forged}`), 401);
    assert.equal(await send('log-scoped', '/v2/models/breast_cancer/infer', `Bearer ${scoped}`), 403);
    assert.equal(await send('log-basic', '/v2/models/breast_cancer/infer', 'Basic dXNlcjpodW50ZXIy'), 401);
    assert.equal(await send('log-health', '/v2/health/live', undefined, false), 200);

    // The log line is written when the response is sent; wait until the last one is in.
    await waitFor(p, /"reqId":"log-health"/);
    assert.equal(await stop(p), 0);

    const lines = p.out.stdout.split('\n').filter((l) => l.length > 0);
    for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), `not a JSON line: ${l}`);
    const logs = lines.map((l) => JSON.parse(l) as LogLine);
    const of = (id: string) => logs.filter((l) => l.reqId === id && l.msg === 'request');

    for (const id of ['log-ok-1', 'log-ok-2', 'log-forged', 'log-scoped', 'log-basic', 'log-health']) assert.equal(of(id).length, 1, `one line for ${id}`);
    const ok1 = of('log-ok-1')[0]!;
    assert.equal(ok1.model, 'breast_cancer');
    assert.equal(ok1.version, '2');
    assert.equal(ok1.statusCode, 200);
    assert.equal(typeof ok1.durationMs, 'number');
    assert.ok(ok1.durationMs! >= 0);
    assert.equal(of('log-ok-2')[0]!.version, '1');
    assert.equal(of('log-forged')[0]!.statusCode, 401);
    assert.equal(of('log-scoped')[0]!.statusCode, 403);

    const everything = p.out.stdout + p.out.stderr;
    for (const secret of [good, forged, scoped, 'dXNlcjpodW50ZXIy', good.split('.')[2]!, scoped.split('.')[2]!, TEST_SECRET]) {
      assert.ok(!everything.includes(secret), `the log contains a credential: ${secret.slice(0, 12)}...`);
    }
    assert.doesNotMatch(everything, /authorization/i);
  });
});
