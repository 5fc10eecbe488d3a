// Runs the built `ortserve` CLI (node dist/cli/ortserve.js) as a child process with only the environment a test
// gives it (plus PATH and HOME), and rebuilds dist/ first when a source file the CLI runs is newer than its build.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../helpers/repo.js';

export const CLI = path.join(ROOT, 'dist', 'cli', 'ortserve.js');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const mtime = (file: string) => {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
};

/** The CLI's own sources and the modules it imports outside src/cli (serve imports main.js at run time). */
function cliSources(): string[] {
  const cli = fs.readdirSync(path.join(ROOT, 'src', 'cli')).filter((f) => f.endsWith('.ts')).map((f) => `cli/${f}`);
  return [...cli, 'config/env.ts', 'config/format-issues.ts', 'http/token.ts'];
}

/** `npm test` builds before the tests; a file run on its own rebuilds a stale dist/ (tsc, about 10-30 s). */
export function ensureBuilt(): void {
  const stale = cliSources().some((rel) => mtime(path.join(ROOT, 'src', rel)) > mtime(path.join(ROOT, 'dist', rel.replace(/\.ts$/, '.js'))));
  if (!stale) return;
  // tsc emits even when another module has a type error; what matters here is that the CLI's files are fresh.
  spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'ignore', timeout: 120_000 });
  const still = cliSources().filter((rel) => mtime(path.join(ROOT, 'src', rel)) > mtime(path.join(ROOT, 'dist', rel.replace(/\.ts$/, '.js'))));
  if (still.length > 0) throw new Error(`dist/ is stale after tsc -p tsconfig.build.json: ${still.join(', ')}`);
}

/** `ortserve <args>` with `env` (and PATH, HOME); resolves with the exit code and all output. */
export function ortserve(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return runNode([CLI, ...args], env);
}

/** `node <args>` in the checkout with only `env` (and PATH, HOME); resolves with the exit code and all output. */
export function runNode(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
