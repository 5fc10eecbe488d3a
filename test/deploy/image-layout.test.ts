// The image's runtime stage, reproduced without a Docker engine: the files its COPY lines take (package.json, the
// compiled dist/ from the build stage's `npm run build`, the bundled models with their owner; node_modules is
// linked from this checkout), its ENV, USER and WORKDIR, and its CMD run as written. Running as the image's
// non-root uid (when these tests run as root, as CI does) with the code owned by root, the server starts in
// production mode, serves the bundled models, writes an upload into the repository and nowhere else, and exits 0
// on SIGTERM.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, cp, lstat, mkdir, mkdtemp, readdir, rm, stat, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/process.js';
import { ROOT, TEST_SECRET, token } from '../helpers/server.js';
import { copyTarget, execForm, parseCopy, parseDockerfile, parseEnv, type Stage } from './dockerfile.js';

const IS_ROOT = process.getuid?.() === 0;

/** Every path below `dir` (not following links), with its size and mtime, for a before/after comparison. */
async function snapshot(dir: string, skip: (rel: string) => boolean, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = path.posix.join(rel, e.name);
    if (skip(r)) continue;
    const st = await lstat(path.join(dir, r));
    out.push(`${r} ${st.size} ${st.mtimeMs}`);
    if (e.isDirectory()) out.push(...(await snapshot(dir, skip, r)));
  }
  return out;
}

interface Layout {
  root: string;
  workdir: string;
  env: Record<string, string>;
  uid: number | undefined;
  gid: number | undefined;
  cmd: string[];
}

/** Lays out the final stage's filesystem under `root` by following its instructions. */
async function layOut(stages: Stage[], root: string): Promise<Layout> {
  const final = stages.at(-1)!;
  const layout: Layout = { root, workdir: '/', env: {}, uid: undefined, gid: undefined, cmd: [] };
  const host = (p: string) => path.join(root, p);
  for (const ins of final.instructions) {
    switch (ins.keyword) {
      case 'WORKDIR':
        layout.workdir = path.posix.resolve(layout.workdir, ins.args);
        await mkdir(host(layout.workdir), { recursive: true, mode: 0o755 });
        break;
      case 'ENV':
        Object.assign(layout.env, parseEnv(ins.args));
        break;
      case 'USER': {
        const [u, g] = ins.args.split(':');
        layout.uid = Number(u);
        layout.gid = Number(g ?? u);
        break;
      }
      case 'CMD':
        layout.cmd = execForm(ins.args)!;
        break;
      case 'COPY': {
        const c = parseCopy(ins);
        for (const src of c.sources) {
          const name = path.posix.basename(src.replace(/\/$/, ''));
          // The stages' node_modules and dist are folders; a context path is whatever it is here.
          const isDir = c.flags.from ? true : (await stat(path.join(ROOT, src))).isDirectory();
          const dest = host(copyTarget(src, isDir, c, layout.workdir));
          await mkdir(path.dirname(dest), { recursive: true, mode: 0o755 });
          if (c.flags.from && name === 'node_modules') {
            // The deps stage's `npm ci --omit=dev`: this checkout's node_modules (a superset) stands in for it.
            await symlink(path.join(ROOT, 'node_modules'), dest);
          } else if (c.flags.from && name === 'dist') {
            // The build stage's `npm run build`, written to the layout instead of ./dist.
            const script = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { build: string } }).scripts.build;
            for (const step of script.split('&&').map((x) => x.trim())) {
              const [tool, ...args] = step.split(/\s+/);
              if (tool === 'tsc') {
                const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), ...args, '--outDir', dest], { cwd: ROOT, encoding: 'utf8' });
                assert.equal(r.status, 0, `${step}: ${r.stdout}${r.stderr}`);
              } else {
                assert.deepEqual([tool, ...args], ['node', 'scripts/build-console.mjs'], `npm run build step not reproduced by this test: ${step}`);
                const r = spawnSync(process.execPath, ['scripts/build-console.mjs', '--no-typecheck', '--dist', dest], { cwd: ROOT, encoding: 'utf8' });
                assert.equal(r.status, 0, `${step}: ${r.stdout}${r.stderr}`);
              }
            }
          } else {
            assert.equal(c.flags.from, undefined, `COPY --from=${c.flags.from} ${src}: not reproduced by this test`);
            await cp(path.join(ROOT, src), dest, { recursive: true });
            if (c.flags.chown && IS_ROOT) {
              const [u, g] = c.flags.chown.split(':').map(Number);
              spawnSync('chown', ['-R', `${u}:${g ?? u}`, dest]);
            }
          }
        }
        break;
      }
      default:
        // RUN (the user is created in /etc/passwd: irrelevant here), EXPOSE, HEALTHCHECK, STOPSIGNAL.
        break;
    }
  }
  return layout;
}

describe('the runtime stage of the Dockerfile, laid out and run as written', () => {
  let tmp: string;
  let layout: Layout;
  let child: ChildProcess | undefined;
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  let base = '';
  const output = { text: '' };

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'ortserve-image-'));
    await chmod(tmp, 0o755);
    layout = await layOut(parseDockerfile(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')), tmp);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const [cmd, ...args] = layout.cmd;
    assert.equal(cmd, 'node');
    // Absolute paths of the image (MODEL_REPOSITORY=/app/models) are paths inside the layout here.
    const env = Object.fromEntries(Object.entries(layout.env).map(([k, v]) => [k, v.startsWith('/') && existsSync(path.join(tmp, v)) ? path.join(tmp, v) : v]));
    child = spawn(process.execPath, args, {
      cwd: path.join(tmp, layout.workdir),
      // HOST: loopback only here; the image listens on 0.0.0.0.
      env: { PATH: process.env.PATH ?? '', ...env, HOST: '127.0.0.1', PORT: String(port), JWT_SECRET: TEST_SECRET, WORKER_THREADS: '1', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(IS_ROOT && layout.uid !== undefined ? { uid: layout.uid, gid: layout.gid } : {}),
    });
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (output.text += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (output.text += d));
    exited = new Promise((resolve) => child!.on('exit', (code, signal) => resolve({ code, signal })));
    let gone = false;
    void exited.then(() => (gone = true));
    for (;;) {
      if (gone) throw new Error(`the server exited before it was ready:\n${output.text}`);
      const res = await fetch(`${base}/v2/health/ready`).catch(() => undefined);
      if (res?.status === 200) break;
      await res?.arrayBuffer();
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    await rm(tmp, { recursive: true, force: true });
  });

  it('starts as the non-root user and serves the bundled models', async () => {
    assert.equal(layout.env.NODE_ENV, undefined);
    assert.notEqual(layout.uid, 0);
    const res = await fetch(`${base}/v2/models/digits/infer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'image', shape: [1, 1, 8, 8], datatype: 'FP32', data: new Array(64).fill(0) }] }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as { outputs: { shape: number[] }[] };
    assert.deepEqual(body.outputs[0]!.shape, [1, 10]);
  });

  it('serves the operator console built into the image', async () => {
    const page = await fetch(`${base}/console/`);
    assert.equal(page.status, 200);
    const html = await page.text();
    const script = /<script[^>]+src="([^"]+)"/.exec(html)?.[1];
    assert.ok(script, `the console page loads a script: ${html.slice(0, 200)}`);
    const js = await fetch(new URL(script, `${base}/console/`));
    assert.equal(js.status, 200);
    assert.ok((await js.text()).length > 1000, 'the bundled script is not empty');
  });

  it('writes an uploaded version into the repository, and nothing anywhere else', async () => {
    const app = path.join(tmp, layout.workdir);
    const configured = layout.env.MODEL_REPOSITORY ?? './models';
    const repo = configured.startsWith('/') ? path.join(tmp, configured) : path.resolve(app, configured);
    const outsideRepo = (rel: string) => path.join(app, rel) === repo || rel === 'node_modules';
    const before = await snapshot(app, outsideRepo);
    const bytes = readFileSync(path.join(ROOT, 'models/digits/1/model.onnx'));
    const res = await fetch(`${base}/admin/models/digits/versions/7`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token('admin')}`, 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    assert.equal(res.status, 201, await res.text());
    const written = await stat(path.join(repo, 'digits/7/model.onnx'));
    assert.equal(written.size, bytes.length);
    if (IS_ROOT) assert.equal(written.uid, layout.uid, 'written by the image user');
    assert.deepEqual(await snapshot(app, outsideRepo), before, 'nothing outside the repository changed');
  });

  it('drains and exits 0 on SIGTERM', async () => {
    child!.kill('SIGTERM');
    assert.deepEqual(await exited, { code: 0, signal: null }, output.text);
  });
});

describe('the image layout check itself', () => {
  it('refuses a COPY --from of something it cannot reproduce', async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'ortserve-image-'));
    try {
      const stages = parseDockerfile('FROM node:20.20.2-bookworm-slim AS x\nFROM node:20.20.2-bookworm-slim\nWORKDIR /app\nCOPY --from=x /opt/tool ./tool\n');
      await assert.rejects(layOut(stages, tmp), /not reproduced/);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
