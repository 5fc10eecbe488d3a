// What bench/monitoring-cost.ts and bench/replicas.ts share: the tools they need, a token, the MLP request body
// on disk for wrk, and waiting for a server they started to be ready.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mintToken } from '../src/http/token.js';
import { ROOT } from '../test/helpers/repo.js';

/** Exits 2 with a message when wrk or the built server is missing. */
export function requireWrkAndDist(): void {
  if (spawnSync('wrk', ['--version']).error) {
    console.error('wrk is missing: apt-get install -y wrk');
    process.exit(2);
  }
  if (!fs.existsSync(path.join(ROOT, 'dist/main.js'))) {
    console.error('dist/ is missing: npm run build');
    process.exit(2);
  }
}

/** A random JWT_SECRET for the servers and a predict token signed with it. */
export function benchSecret(): { secret: string; token: string } {
  const secret = randomBytes(24).toString('base64url');
  return { secret, token: mintToken({ secret }, { sub: 'bench', scope: 'predict', expiresInSeconds: 3600 }) };
}

/** Writes one MLP row (the bench model `tabular`, 30 features) as a V2 JSON body; returns the file's path. */
export function writeMlpBody(): string {
  const file = path.join(os.tmpdir(), `ortserve-mlp-${process.pid}.json`);
  fs.writeFileSync(file, JSON.stringify({ inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: Array.from({ length: 30 }, (_, i) => (i % 7) / 7) }] }));
  return file;
}

/** The middle value (the upper one of an even count). */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function waitReady(url: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/v2/health/ready`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('server did not become ready');
}
