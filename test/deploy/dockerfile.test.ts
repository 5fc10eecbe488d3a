// The Dockerfile and .dockerignore, checked statically: no Docker engine runs where these tests run, so the
// image is never built here (docs/deployment.md says so). What is checked: a multi-stage build on a pinned slim
// Node 20 base, production dependencies installed with .npmrc in place, the runtime stage taking dist/,
// node_modules and the bundled models, a numeric non-root user, a HEALTHCHECK on readiness, EXPOSE, and an
// exec-form CMD that runs node on dist/main.js; and that the build context holds every file the build copies.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { envSchema } from '../../src/config/env.js';
import { ROOT } from '../helpers/server.js';
import { type Stage, copyTarget, dockerignore, execForm, parseCopy, parseDockerfile, parseEnv, parseHealthcheck, parseInstructions, workdirs } from './dockerfile.js';

const DOCKERFILE = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(DOCKERFILE);
const final = stages[stages.length - 1]!;
const ignored = dockerignore(readFileSync(path.join(ROOT, '.dockerignore'), 'utf8'));

function instructions(stage: Stage, keyword: string) {
  return stage.instructions.filter((i) => i.keyword === keyword);
}

function stageNamed(name: string): Stage {
  const s = stages.find((x) => x.from.name === name);
  assert.ok(s, `a stage named ${name}`);
  return s;
}

/** The environment the final stage sets with ENV. */
function finalEnv(): Record<string, string> {
  return Object.assign({}, ...instructions(final, 'ENV').map((i) => parseEnv(i.args)));
}

/** Where the final stage's COPY of `source` lands (absolute), or undefined. */
function finalCopyDest(source: string, from?: string): string | undefined {
  const wds = workdirs(final);
  for (const [i, ins] of final.instructions.entries()) {
    if (ins.keyword !== 'COPY') continue;
    const c = parseCopy(ins);
    const src = c.sources.find((s) => s.replace(/\/$/, '') === source);
    if (c.flags.from === from && src) {
      // A context path is a folder if it is one here; another stage's path if its name has no extension.
      const isDir = from ? !path.posix.basename(src).includes('.') : statSync(path.join(ROOT, src)).isDirectory();
      return copyTarget(src, isDir, c, wds[i]!);
    }
  }
  return undefined;
}

describe('the Dockerfile parser', () => {
  it('joins continued lines, drops comments and splits stages', () => {
    const parsed = parseDockerfile('# syntax=docker/dockerfile:1\nARG X=1\nFROM a:1 AS one\nRUN echo \\\n  # inside\n  two\nFROM one\nCMD ["x"]\n');
    assert.equal(parsed.length, 2);
    assert.deepEqual(parsed[0]!.from, { image: 'a:1', repository: 'a', tag: '1', digest: undefined, name: 'one' });
    assert.deepEqual(parsed[0]!.instructions.map((i) => [i.keyword, i.args]), [['RUN', 'echo two']]);
    assert.equal(parsed[1]!.from.tag, undefined);
    assert.deepEqual(parseInstructions('FROM registry:5000/team/img\n').map((i) => i.args), ['registry:5000/team/img']);
    assert.equal(parseDockerfile('FROM registry:5000/team/img\n')[0]!.from.tag, undefined);
  });

  it('applies .dockerignore patterns to folders, globs and exceptions', () => {
    const m = dockerignore('node_modules\n**/__pycache__\n*.md\n!README.md\n');
    assert.equal(m('node_modules/x/index.js'), true);
    assert.equal(m('scripts/__pycache__/a.pyc'), true);
    assert.equal(m('CHANGES.md'), true);
    assert.equal(m('README.md'), false);
    assert.equal(m('models/METRICS.md'), false);
    assert.equal(m('src/main.ts'), false);
  });
});

describe('Dockerfile', () => {
  it('builds in several stages, each FROM a pinned tag (never latest) or an earlier stage', () => {
    assert.ok(stages.length >= 2, `multi-stage: ${stages.length} stage(s)`);
    const names = new Set<string>();
    for (const s of stages) {
      if (!names.has(s.from.image)) {
        assert.ok(s.from.tag || s.from.digest, `FROM ${s.from.image} names a tag or digest`);
        assert.notEqual(s.from.tag, 'latest', `FROM ${s.from.image}`);
        assert.ok(!/^\d+$/.test(s.from.tag ?? ''), `FROM ${s.from.image}: a major-only tag moves`);
      }
      if (s.from.name) names.add(s.from.name);
    }
  });

  it('runs on a slim Node 20 image pinned to a full version', () => {
    assert.equal(final.from.repository, 'node');
    assert.match(final.from.tag ?? '', /^20\.\d+\.\d+-(bookworm|bullseye|trixie)-slim$/);
  });

  it('installs production dependencies with npm ci --omit=dev after copying .npmrc, and copies only those', () => {
    const copied = final.instructions.filter((i) => i.keyword === 'COPY').map(parseCopy).find((c) => c.sources.some((s) => /node_modules\/?$/.test(s)));
    assert.ok(copied?.flags.from, 'the runtime stage copies node_modules from another stage');
    const deps = stageNamed(copied.flags.from);
    const runs = instructions(deps, 'RUN');
    const ci = runs.find((r) => /\bnpm ci\b/.test(r.args));
    assert.ok(ci, `${copied.flags.from} runs npm ci`);
    assert.match(ci.args, /--omit=dev\b/);
    for (const s of stages) {
      const npmCi = instructions(s, 'RUN').find((r) => /\bnpm ci\b/.test(r.args));
      if (!npmCi) continue;
      const npmrc = instructions(s, 'COPY').map(parseCopy).find((c) => c.sources.includes('.npmrc'));
      assert.ok(npmrc && npmrc.line < npmCi.line, `stage ${s.from.name}: .npmrc (onnxruntime-node-install=skip) is copied before npm ci`);
    }
    assert.equal(instructions(final, 'RUN').filter((r) => /\bnpm (ci|install|i)\b/.test(r.args)).length, 0, 'the runtime stage installs nothing with npm');
  });

  it('compiles TypeScript in a build stage and copies dist/ from it', () => {
    const dist = final.instructions.filter((i) => i.keyword === 'COPY').map(parseCopy).find((c) => c.sources.some((s) => /\/dist\/?$/.test(s)));
    assert.ok(dist?.flags.from, 'the runtime stage copies dist/ from another stage');
    const build = stageNamed(dist.flags.from);
    assert.ok(instructions(build, 'RUN').some((r) => /\bnpm run build\b|\btsc\b/.test(r.args)), 'the build stage runs the TypeScript build');
    const srcCopy = instructions(build, 'COPY').map(parseCopy).find((c) => c.sources.includes('src'));
    assert.ok(srcCopy, 'the build stage copies src/');
    assert.equal(finalCopyDest(dist.sources[0]!, dist.flags.from), '/app/dist');
  });

  it('copies the bundled models into the image where MODEL_REPOSITORY points', () => {
    const dest = finalCopyDest('models');
    assert.ok(dest, 'the runtime stage copies models/');
    const wd = workdirs(final).at(-1)!;
    const repo = path.posix.resolve(wd, finalEnv().MODEL_REPOSITORY ?? envSchema.shape.MODEL_REPOSITORY.parse(undefined));
    assert.equal(repo, dest);
    const owner = final.instructions.filter((i) => i.keyword === 'COPY').map(parseCopy).find((c) => c.sources.includes('models'))!.flags.chown;
    assert.ok(owner, 'the models belong to the runtime user, who writes uploads and lifecycle state there');
  });

  it('copies package.json (its "type": "module" marks dist/*.js as ES modules)', () => {
    assert.equal(finalCopyDest('package.json'), '/app/package.json');
    assert.equal(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).type, 'module');
  });

  it('leaves NODE_ENV to the deployment, so a plain docker run serves the bundled models', () => {
    assert.equal(finalEnv().NODE_ENV, undefined);
  });

  it('runs as a numeric non-root user', () => {
    const users = instructions(final, 'USER');
    assert.ok(users.length > 0, 'the runtime stage sets USER');
    const user = users.at(-1)!.args;
    const m = /^(\d+)(?::(\d+))?$/.exec(user);
    assert.ok(m, `USER ${user} is numeric (Kubernetes checks runAsNonRoot against a uid)`);
    assert.notEqual(Number(m[1]), 0);
    if (m[2]) assert.notEqual(Number(m[2]), 0);
    const last = final.instructions.at(-1)!;
    assert.ok(users.at(-1)!.line < (instructions(final, 'CMD').at(-1)?.line ?? last.line), 'USER comes before CMD');
  });

  it('exposes the API port', () => {
    const exposed = instructions(final, 'EXPOSE').flatMap((i) => i.args.split(/\s+/)).map((p) => Number(p.split('/')[0]));
    assert.ok(exposed.includes(Number(finalEnv().PORT ?? 8080)), `EXPOSE ${exposed.join(' ')}`);
  });

  it('checks health with node on /v2/health/ready (the slim image has no curl)', () => {
    const hc = instructions(final, 'HEALTHCHECK');
    assert.equal(hc.length, 1);
    const parsed = parseHealthcheck(hc[0]!.args);
    assert.ok(parsed.command, 'HEALTHCHECK CMD in exec form');
    assert.equal(parsed.command[0], 'node');
    assert.match(parsed.command.join(' '), /\/v2\/health\/ready/);
    assert.ok(!/\bcurl\b|\bwget\b/.test(parsed.command.join(' ')));
    assert.ok(parsed.options['start-period'], 'a start period covers the model load');
  });

  it('starts with an exec-form CMD that runs node on dist/main.js, not npm', () => {
    const cmds = instructions(final, 'CMD');
    assert.ok(cmds.length > 0);
    assert.deepEqual(execForm(cmds.at(-1)!.args), ['node', 'dist/main.js']);
    for (const e of instructions(final, 'ENTRYPOINT')) assert.ok(!/npm/.test(e.args), `ENTRYPOINT ${e.args}`);
    assert.ok(existsSync(path.join(ROOT, 'src/main.ts')), 'dist/main.js is built from src/main.ts');
    assert.ok(existsSync(path.join(ROOT, 'src/runtime/session-worker.ts')), 'and the worker entry from src/runtime/session-worker.ts');
  });
});

describe('.dockerignore', () => {
  it('keeps node_modules, dist, git and tests out of the build context', () => {
    for (const p of ['node_modules/fastify/package.json', 'dist/main.js', '.git/HEAD', 'test/e2e/smoke.test.ts', 'bench/results/x.json']) {
      assert.equal(ignored(p), true, `${p} is excluded`);
    }
  });

  it('keeps every file that the Dockerfile copies from the context', () => {
    const missing: string[] = [];
    for (const s of stages) {
      for (const c of instructions(s, 'COPY').map(parseCopy)) {
        if (c.flags.from) continue;
        for (const src of c.sources) {
          if (!existsSync(path.join(ROOT, src))) missing.push(`${src} (line ${c.line}) does not exist`);
          else if (ignored(src)) missing.push(`${src} (line ${c.line}) is excluded by .dockerignore`);
        }
      }
    }
    for (const f of ['models/breast_cancer/2/model.onnx', 'models/digits/1/model.onnx', 'src/runtime/session-worker.ts']) {
      if (ignored(f)) missing.push(`${f} is excluded by .dockerignore`);
    }
    assert.deepEqual(missing, []);
  });
});
