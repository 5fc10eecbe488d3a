// Crash-safe file writes for the model repository: write a temporary file in the same directory, fsync it,
// rename it over the target, fsync the directory. A reader (or a restart after kill -9) sees the old file or the
// new one, never a partial one. A lock file (O_EXCL) serialises read-modify-write across processes sharing the
// directory (replicas on one volume).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export const TEMP_PREFIX = '.tmp-';

export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `${TEMP_PREFIX}${path.basename(target)}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

async function fsyncDir(dir: string): Promise<void> {
  const h = await fs.open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** Writes `data` to `target` atomically (temp file, fsync, rename, fsync directory). */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  await fs.mkdir(path.dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  const h = await fs.open(tmp, 'w');
  try {
    await h.writeFile(data);
    await h.sync();
  } catch (err) {
    await h.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await h.close();
  try {
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(path.dirname(target));
}

/** Moves an already fsynced file into place atomically and makes the rename durable. */
export async function renameDurable(from: string, to: string): Promise<void> {
  await fs.rename(from, to);
  await fsyncDir(path.dirname(to));
}

/**
 * Runs `fn` while holding `<file>.lock` (created with O_EXCL; it names its holder as "host pid"). A lock is taken
 * over when its holder is a dead process on this host (kill -9 during a write) or when it is older than `staleMs`
 * (a holder on another host that died). Waits up to `timeoutMs`, which is longer than `staleMs`, so a lock left
 * by a crash never makes a writer give up.
 */
export async function withFileLock<T>(file: string, fn: () => Promise<T>, timeoutMs = 15_000, staleMs = 10_000): Promise<T> {
  const lock = `${file}.lock`;
  await fs.mkdir(path.dirname(lock), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  const me = `${os.hostname()} ${process.pid}`;
  for (;;) {
    try {
      const h = await fs.open(lock, 'wx');
      await h.writeFile(`${me}\n`);
      await h.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (await isStaleLock(lock, staleMs)) {
        await fs.rm(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the lock ${lock}`);
      await new Promise((r) => setTimeout(r, 10 + Math.random() * 20));
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lock, { force: true });
  }
}

async function isStaleLock(lock: string, staleMs: number): Promise<boolean> {
  const [st, text] = await Promise.all([fs.stat(lock).catch(() => undefined), fs.readFile(lock, 'utf8').catch(() => '')]);
  if (!st) return false;
  if (Date.now() - st.mtimeMs > staleMs) return true;
  const [host, pidText] = text.trim().split(' ');
  const pid = Number(pidText);
  if (host !== os.hostname() || !Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Removes temporary files a crash left in `dir` (uploads or state writes cut short), only once they are older
 * than `minAgeMs`: another replica sharing the directory may be writing a younger one right now. Until then they
 * are harmless, since no temporary name is a valid model or version name.
 */
export async function removeStaleTemps(dir: string, minAgeMs = 15 * 60_000): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return removed;
  }
  for (const n of names) {
    if (!n.startsWith(TEMP_PREFIX)) continue;
    const st = await fs.stat(path.join(dir, n)).catch(() => undefined);
    if (!st || Date.now() - st.mtimeMs < minAgeMs) continue;
    await fs.rm(path.join(dir, n), { force: true, recursive: true });
    removed.push(n);
  }
  return removed;
}
