// Runs the README's walkthrough block as it stands, on a free port, and checks what its commands print.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { freePort } from '../helpers/process.js';
import { ROOT } from '../helpers/server.js';

function walkthrough(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const m = /<!-- walkthrough:start -->\s*```sh\n([\s\S]*?)```\s*<!-- walkthrough:end -->/.exec(readme);
  assert.ok(m, 'README.md has a walkthrough block');
  return m[1]!;
}

describe('README walkthrough', () => {
  it('runs as written and every command answers as the README says', { timeout: 180_000 }, async () => {
    const port = await freePort();
    const script = walkthrough().replaceAll('localhost:8080', `localhost:${port}`);
    assert.match(script, /npm start/);
    const logFile = path.join(ROOT, 'ortserve.log');
    const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', script], {
      cwd: ROOT,
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', RATE_LIMIT_MAX: '0', NODE_ENV: '' },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => resolve(-1), 150_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // the group is already gone
    }
    const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
    fs.rmSync(logFile, { force: true });
    assert.equal(code, 0, `walkthrough failed (exit ${code})\nstdout:\n${out}\nstderr:\n${err}\nserver log:\n${log.slice(-3000)}`);

    assert.match(out, /\{"ready":true\}/);
    const jsonLines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const metadata = jsonLines.find((j) => j.platform === 'onnxruntime_onnx');
    assert.ok(metadata, 'metadata printed');
    assert.deepEqual(metadata.versions, ['1', '2']);
    const infers = jsonLines.filter((j) => j.model_name === 'breast_cancer') as { model_version: string; outputs: { data: number[] }[] }[];
    assert.deepEqual(infers.map((j) => j.model_version), ['2', '1']);
    for (const r of infers) {
      const [m0, b0, m1, b1] = r.outputs[0]!.data as [number, number, number, number];
      assert.ok(m0 > b0, 'row 0 of the example is malignant');
      assert.ok(b1 > m1, 'row 1 of the example is benign');
    }
    assert.match(out, /x-model-version: 2/i);
    const predict = /\{"predictions":.*\}/.exec(out);
    assert.ok(predict, 'v1 predictions printed');
    const digits = jsonLines.find((j) => j.model_name === 'digits') as { outputs: { data: number[] }[] } | undefined;
    assert.ok(digits, 'digits answered');
    const logits = digits.outputs[0]!.data;
    assert.equal(logits.indexOf(Math.max(...logits)), 0, 'the example digit is a 0');
  });
});
