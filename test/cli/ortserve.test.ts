// The `ortserve` CLI (node dist/cli/ortserve.js) against a real server on a loopback port with a private copy of the
// bundled models: the models table, setting and rolling back traffic (checked through the admin API itself),
// uploads, tokens it mints, and its errors (unreachable server, 401/403, bad usage) and help texts.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { envSchema } from '../../src/config/env.js';
import { freePort } from '../helpers/process.js';
import { FIXTURE_MODELS, removeRepo, tempRepo } from '../helpers/repo.js';
import { auth, startServer, type Started, TEST_SECRET, token } from '../helpers/server.js';
import { ensureBuilt, ortserve } from './run-cli.js';

interface ModelsBody {
  models: { name: string; versions: { version: string; state: string }[]; traffic: { weights: Record<string, number> | null; shadow: { version: string; fraction: number } | null; revision: number } }[];
}

describe('ortserve CLI against a running server', () => {
  let s: Started;
  let repo: string;
  let admin: Record<string, string>;

  const adminModels = async (): Promise<ModelsBody> => {
    const res = await fetch(`${s.url}/admin/models`, { headers: auth('admin') });
    assert.equal(res.status, 200);
    return (await res.json()) as ModelsBody;
  };
  const trafficOf = async (model: string) => (await adminModels()).models.find((m) => m.name === model)!.traffic;

  before(async () => {
    ensureBuilt();
    repo = tempRepo('ortserve-cli-');
    s = await startServer({ MODEL_REPOSITORY: repo, WARMUP: 'false', REPOSITORY_POLL_INTERVAL_MS: '0' });
    admin = { ORTSERVE_URL: s.url, ORTSERVE_TOKEN: token('admin', 'cli-test') };
  });
  after(async () => {
    await s.close();
    removeRepo(repo);
  });

  it('lists every model and version with its state, traffic and shadow columns', async () => {
    const run = await ortserve(['models'], admin);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^MODEL\s+VERSION\s+STATE\s+WEIGHT\s+SHADOW/);
    assert.ok(lines.some((l) => /^breast_cancer\s+1\s+ready\s+-\s/.test(l)), run.stdout);
    assert.ok(lines.some((l) => /^breast_cancer\s+2\s+ready\s+default\s/.test(l)), 'without a table the highest version serves');
    assert.ok(lines.some((l) => /^digits\s+1\s+ready\s/.test(l)), run.stdout);
  });

  it('prints the raw admin answer with --json, taking --url and --token from flags', async () => {
    const run = await ortserve(['models', '--json', '--url', s.url, '--token', token('admin')]);
    assert.equal(run.code, 0, run.stderr);
    const body = JSON.parse(run.stdout) as ModelsBody;
    assert.deepEqual(body, await adminModels());
  });

  it('mints its own admin token from JWT_SECRET when no token is given', async () => {
    const run = await ortserve(['models', '--json'], { ORTSERVE_URL: s.url, JWT_SECRET: TEST_SECRET });
    assert.equal(run.code, 0, run.stderr);
    assert.ok((JSON.parse(run.stdout) as ModelsBody).models.length >= 2);
  });

  it('sets traffic weights and a shadow, shows the table, and rolls back to the previous table', async () => {
    const before = await trafficOf('breast_cancer');
    assert.equal(before.weights, null);

    const set = await ortserve(['traffic', 'breast_cancer', '1=90', '2=10'], admin);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^1\s+90%\s+-$/m);
    assert.match(set.stdout, /^2\s+10%\s+-$/m);
    const afterSet = await trafficOf('breast_cancer');
    assert.deepEqual(afterSet.weights, { '1': 90, '2': 10 });
    assert.equal(afterSet.revision, before.revision + 1);

    const shadow = await ortserve(['traffic', 'breast_cancer', '--shadow', '2:0.25'], admin);
    assert.equal(shadow.code, 0, shadow.stderr);
    const afterShadow = await trafficOf('breast_cancer');
    assert.deepEqual(afterShadow.weights, { '1': 90, '2': 10 }, '--shadow alone keeps the weights');
    assert.deepEqual(afterShadow.shadow, { version: '2', fraction: 0.25 });

    const table = await ortserve(['models'], admin);
    assert.match(table.stdout, /^breast_cancer\s+1\s+ready\s+90%\s+-\s/m);
    assert.match(table.stdout, /^breast_cancer\s+2\s+ready\s+10%\s+25%\s/m);

    const show = await ortserve(['traffic', 'breast_cancer'], admin);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, new RegExp(`revision ${afterShadow.revision}`));

    const back = await ortserve(['rollback', 'breast_cancer'], admin);
    assert.equal(back.code, 0, back.stderr);
    const afterBack = await trafficOf('breast_cancer');
    assert.deepEqual(afterBack.weights, { '1': 90, '2': 10 });
    assert.equal(afterBack.shadow, null, 'the shadow is gone again');

    const again = await ortserve(['rollback', 'breast_cancer'], admin);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await trafficOf('breast_cancer')).weights, null, 'back to no table');
    assert.match(again.stdout, /no traffic table/);
  });

  it("exits 1 with the server's reason when the server refuses a table", async () => {
    const run = await ortserve(['traffic', 'breast_cancer', '1=50', '2=60'], admin);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /weights must sum to 100 \(got 110\)/);
    assert.match(run.stderr, /HTTP 409/);
    assert.equal((await trafficOf('breast_cancer')).weights, null, 'nothing changed');

    const noTable = await ortserve(['traffic', 'digits', '--shadow', '1:0.5'], admin);
    assert.equal(noTable.code, 2, 'a shadow alone needs weights when there is no table');
    assert.match(noTable.stderr, /give the weights too/);

    const bad = await ortserve(['traffic', 'breast_cancer', '1:90'], admin);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /VERSION=WEIGHT/);
  });

  it('uploads a model file with its sha256 and the new version serves', async () => {
    const file = path.join(FIXTURE_MODELS, 'dtype_fp32', '1', 'model.onnx');
    const run = await ortserve(['upload', 'fresh', '1', file], admin);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^fresh version 1: ready$/m);
    assert.match(run.stderr, new RegExp(`uploaded ${fs.statSync(file).size} bytes`));
    assert.doesNotMatch(run.stdout + run.stderr, /\r/, 'no carriage returns when not on a terminal');
    const models = await adminModels();
    assert.deepEqual(models.models.find((m) => m.name === 'fresh')?.versions.map((v) => [v.version, v.state]), [['1', 'ready']]);
    assert.ok(fs.existsSync(path.join(repo, 'fresh', '1', 'model.onnx')));

    const infer = await fetch(`${s.url}/v2/models/fresh/infer`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] }),
    });
    assert.equal(infer.status, 200);
  });

  it("reports the server's error for a file that is not a model, or one whose inputs differ, until --force", async () => {
    const notModel = await ortserve(['upload', 'breast_cancer', '3', path.join(FIXTURE_MODELS, 'README.md')], admin);
    assert.equal(notModel.code, 1);
    assert.match(notModel.stderr, /not a servable ONNX model/);
    assert.match(notModel.stderr, /HTTP 422/);
    assert.ok(!fs.existsSync(path.join(repo, 'breast_cancer', '3')));

    const other = path.join(FIXTURE_MODELS, 'dtype_fp32', '1', 'model.onnx');
    const mismatch = await ortserve(['upload', 'breast_cancer', '3', other], admin);
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stderr, /differ from live version/);

    const forced = await ortserve(['upload', 'breast_cancer', '3', other, '--force', '--json'], admin);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal((JSON.parse(forced.stdout) as { state: string }).state, 'ready');

    const existing = await ortserve(['upload', 'breast_cancer', '3', other, '--force'], admin);
    assert.equal(existing.code, 1);
    assert.match(existing.stderr, /already exists/);

    const missing = await ortserve(['upload', 'breast_cancer', '4', path.join(repo, 'no-such.onnx')], admin);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read .*no-such\.onnx: ENOENT/);
  });

  it('unloads a version and loads the model again', async () => {
    const unload = await ortserve(['unload', 'digits', '1'], admin);
    assert.equal(unload.code, 0, unload.stderr);
    assert.equal((await adminModels()).models.find((m) => m.name === 'digits')!.versions[0]!.state, 'unloaded');
    const load = await ortserve(['load', 'digits'], admin);
    assert.equal(load.code, 0, load.stderr);
    assert.equal((await adminModels()).models.find((m) => m.name === 'digits')!.versions[0]!.state, 'ready');
  });

  it('mints a token the server accepts, with JWT_SECRET or --secret', async () => {
    const run = await ortserve(['token', '--sub', 'alice', '--scope', 'predict admin', '--expires', '120'], { JWT_SECRET: TEST_SECRET });
    assert.equal(run.code, 0, run.stderr);
    const tok = run.stdout.trim();
    assert.equal(run.stdout, `${tok}\n`);
    const payload = JSON.parse(Buffer.from(tok.split('.')[1]!, 'base64url').toString()) as { sub: string; exp: number; iat: number };
    assert.equal(payload.sub, 'alice');
    assert.equal(payload.exp - payload.iat, 120);
    const res = await fetch(`${s.url}/admin/models`, { headers: { authorization: `Bearer ${tok}` } });
    assert.equal(res.status, 200);

    const flag = await ortserve(['token', '--sub', 'bob', '--secret', TEST_SECRET]);
    assert.equal(flag.code, 0, flag.stderr);
    const ok = await fetch(`${s.url}/v2/models/breast_cancer`, { headers: { authorization: `Bearer ${flag.stdout.trim()}` } });
    assert.equal(ok.status, 200, 'the default scope is predict');

    const none = await ortserve(['token', '--sub', 'bob']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /JWT_SECRET/);
  });

  it('says it cannot reach a server that is not there, and exits 1', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const run = await ortserve(['models', '--url', url, '--token', 'x']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, new RegExp(`cannot reach ${url.replace(/\./g, '\\.')}: .*ECONNREFUSED`));
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'a message, not a stack trace');
  });

  it("shows the server's 401 and 403 messages with a hint about the token and its scope", async () => {
    const [missing, wrongKey, predictOnly] = await Promise.all([
      ortserve(['models'], { ORTSERVE_URL: s.url }),
      ortserve(['models', '--token', 'not.a.token'], { ORTSERVE_URL: s.url }),
      ortserve(['rollback', 'breast_cancer'], { ORTSERVE_URL: s.url, ORTSERVE_TOKEN: token('predict', 'eve') }),
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /HTTP 401/);
    assert.match(missing.stderr, /hint: no token was sent/);

    assert.equal(wrongKey.code, 1);
    assert.match(wrongKey.stderr, /HTTP 401/);
    assert.match(wrongKey.stderr, /hint: the server refused the token/);

    assert.equal(predictOnly.code, 1);
    assert.match(predictOnly.stderr, /token for 'eve' lacks scope 'admin'/);
    assert.match(predictOnly.stderr, /HTTP 403/);
    assert.match(predictOnly.stderr, /--scope admin/);
  });

  it('exits 2 with the usage on stderr for an unknown command, an unknown flag or a missing argument', async () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['models', '--bogus'], /Unknown option '--bogus'/],
      [['traffic'], /missing <model>/],
      [['upload', 'm', '1'], /missing <file>/],
      [['bench', '--concurrency', 'lots'], /--concurrency must be a whole number/],
      [[], /usage: ortserve <command>/],
    ];
    const runs = await Promise.all(cases.map(([args]) => ortserve(args, admin)));
    cases.forEach(([args, message], i) => {
      const run = runs[i]!;
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.equal(run.stdout, '', args.join(' '));
      assert.match(run.stderr, message);
      assert.match(run.stderr, /usage: ortserve/);
    });
  });

  it('prints help with each subcommand\'s flags on --help and -h, and exits 0', async () => {
    const expected: Record<string, string[]> = {
      serve: ['--port', '--model-repository', '--jwt-secret', '--worker-threads'],
      token: ['--sub', '--scope', '--expires', '--secret', '--key-file'],
      models: ['--url', '--token', '--json'],
      traffic: ['--shadow', '--url', '--token'],
      rollback: ['--url', '--token'],
      upload: ['--force', '--url', '--token'],
      load: ['--url'],
      unload: ['--url'],
      bench: ['--model', '--concurrency', '--duration', '--allow-remote', '--url', '--token', 'npm run bench'],
    };
    const cases = Object.entries(expected).flatMap(([command, flags]) => ['--help', '-h'].map((h) => ({ command, flags, h })));
    const runs = await Promise.all(cases.map(({ command, h }) => ortserve([command, h])));
    cases.forEach(({ command, flags, h }, i) => {
      const run = runs[i]!;
      assert.equal(run.code, 0, `${command} ${h}: ${run.stderr}`);
      assert.match(run.stdout, new RegExp(`^usage: ortserve ${command}`));
      for (const f of flags) assert.ok(run.stdout.includes(f), `${command} --help mentions ${f}`);
    });
    const top = await ortserve(['--help']);
    assert.equal(top.code, 0);
    for (const command of Object.keys(expected)) assert.match(top.stdout, new RegExp(`^  ${command} `, 'm'));
  });

  it('offers a serve flag for every environment variable of the config schema, with its default', async () => {
    const run = await ortserve(['serve', '--help']);
    for (const variable of Object.keys(envSchema.shape)) {
      const flag = `--${variable.toLowerCase().replace(/_/g, '-')}`;
      assert.match(run.stdout, new RegExp(`^  ${flag} [^\\n]*(\\n\\s+)?${variable}\\b`, 'm'), `${flag} (${variable})`);
    }
    assert.match(run.stdout, /PORT\s+default 8080/);
    assert.match(run.stdout, /--log-level fatal\|error\|warn\|info\|debug\|trace\|silent/);
    assert.match(run.stdout, /--warmup true\|false/);
  });
});
