// The token CLI (`node --import tsx src/cli/token.ts`): mints a token the server accepts, with JWT_SECRET or a PEM
// private key; refuses to run without a key (exit 2); --help prints the usage.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TEST_SECRET, startServer, type Started } from '../helpers/server.js';
import { type Run, runNode } from './run-cli.js';

function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return runNode(['--import', 'tsx', 'src/cli/token.ts', ...args], env);
}

function decode(tok: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [h, p] = tok.split('.');
  return { header: JSON.parse(Buffer.from(h!, 'base64url').toString()), payload: JSON.parse(Buffer.from(p!, 'base64url').toString()) };
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

describe('token CLI', { concurrency: true }, () => {
  let s: Started;
  before(async () => {
    s = await startServer({ WARMUP: 'false' }, false);
  });
  after(() => s.close());

  it('mints an HS256 token with JWT_SECRET that the server accepts', async () => {
    const run = await cli(['--sub', 'alice', '--scope', 'predict'], { JWT_SECRET: TEST_SECRET });
    assert.equal(run.code, 0, run.stderr);
    const tok = run.stdout.trim();
    assert.match(tok, JWT_SHAPE);
    assert.equal(run.stdout, `${tok}\n`, 'stdout is the token and a newline, nothing else');
    const { header, payload } = decode(tok);
    assert.equal(header.alg, 'HS256');
    assert.equal(payload.sub, 'alice');
    assert.equal(payload.scope, 'predict');
    assert.equal(typeof payload.exp, 'number');
    assert.ok((payload.exp as number) > Date.now() / 1000, 'exp is in the future');
    assert.ok((payload.exp as number) <= Date.now() / 1000 + 3600 + 5, 'default lifetime is one hour');

    const res = await s.app.inject({ method: 'GET', url: '/v2/models/dtype_fp32', headers: { authorization: `Bearer ${tok}` } });
    assert.equal(res.statusCode, 200, res.body);
  });

  it('honours --scope with several scopes and --expires-in', async () => {
    const run = await cli(['--sub', 'ops', '--scope', 'predict:dtype_int8 admin', '--expires-in', '120'], { JWT_SECRET: TEST_SECRET });
    assert.equal(run.code, 0, run.stderr);
    const tok = run.stdout.trim();
    const { payload } = decode(tok);
    assert.equal(payload.scope, 'predict:dtype_int8 admin');
    assert.equal((payload.exp as number) - (payload.iat as number), 120);
    const own = await s.app.inject({ method: 'GET', url: '/v2/models/dtype_int8', headers: { authorization: `Bearer ${tok}` } });
    assert.equal(own.statusCode, 200);
    const other = await s.app.inject({ method: 'GET', url: '/v2/models/dtype_fp32', headers: { authorization: `Bearer ${tok}` } });
    assert.equal(other.statusCode, 403);
  });

  it('adds JWT_ISSUER and JWT_AUDIENCE when they are set', async () => {
    const run = await cli(['--sub', 'svc'], { JWT_SECRET: TEST_SECRET, JWT_ISSUER: 'https://issuer.example', JWT_AUDIENCE: 'ortserve' });
    assert.equal(run.code, 0, run.stderr);
    const { payload } = decode(run.stdout.trim());
    assert.equal(payload.iss, 'https://issuer.example');
    assert.equal(payload.aud, 'ortserve');
    assert.equal(payload.scope, 'predict', 'the default scope is predict');
  });

  it('without JWT_SECRET or --key-file exits 2 with a message and prints no token', async () => {
    const run = await cli(['--sub', 'alice', '--scope', 'predict']);
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /JWT_SECRET/);
    assert.match(run.stderr, /--key-file/);
  });

  it('prints the usage on --help and exits 0', async () => {
    for (const flag of ['--help', '-h']) {
      const run = await cli([flag]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /usage:/);
      assert.match(run.stdout, /--sub/);
      assert.match(run.stdout, /--scope/);
      assert.match(run.stdout, /--expires-in/);
      assert.match(run.stdout, /--key-file/);
    }
  });

  it('exits 2 with the usage when --sub is missing or an option is unknown', async () => {
    for (const args of [['--scope', 'predict'], ['--sub', 'alice', '--bogus']]) {
      const run = await cli(args, { JWT_SECRET: TEST_SECRET });
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stdout}`);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /usage:/);
    }
  });

  it('rejects an --expires-in that is not a positive whole number of seconds', async () => {
    for (const value of ['0', '-5', 'soon', '1.5']) {
      const run = await cli(['--sub', 'alice', '--expires-in', value], { JWT_SECRET: TEST_SECRET });
      assert.equal(run.code, 2, `--expires-in ${value}: ${run.stdout}`);
      assert.match(run.stderr, /--expires-in/);
    }
  });

  describe('with --key-file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ortserve-cli-'));
    let rsa: Started;
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const privateFile = path.join(dir, 'private.pem');
    const publicFile = path.join(dir, 'public.pem');
    before(async () => {
      fs.writeFileSync(privateFile, String(privateKey.export({ type: 'pkcs8', format: 'pem' })));
      fs.writeFileSync(publicFile, String(publicKey.export({ type: 'spki', format: 'pem' })));
      rsa = await startServer({ WARMUP: 'false', JWT_SECRET: '', JWT_PUBLIC_KEY_FILE: publicFile }, false);
    });
    after(async () => {
      await rsa.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('mints an RS256 token with a PEM private key that a JWT_PUBLIC_KEY_FILE server accepts', async () => {
      const run = await cli(['--sub', 'bob', '--scope', 'predict', '--key-file', privateFile]);
      assert.equal(run.code, 0, run.stderr);
      const tok = run.stdout.trim();
      assert.equal(decode(tok).header.alg, 'RS256');
      const res = await rsa.app.inject({ method: 'GET', url: '/v2/models/dtype_fp32', headers: { authorization: `Bearer ${tok}` } });
      assert.equal(res.statusCode, 200, res.body);
    });

    it('exits 2 with a message naming the file when it cannot be read or holds no private key', async () => {
      for (const file of [path.join(dir, 'missing.pem'), publicFile]) {
        const run = await cli(['--sub', 'bob', '--key-file', file]);
        assert.equal(run.code, 2, `${file}: ${run.stdout}`);
        assert.equal(run.stdout, '');
        assert.ok(run.stderr.includes(path.basename(file)), run.stderr);
        assert.doesNotMatch(run.stderr, /\n\s+at .*\(/, 'a message, not a stack trace');
      }
    });
  });
});
