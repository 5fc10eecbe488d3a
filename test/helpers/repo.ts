// The checkout's folders, and private temporary copies of a model repository for tests that write into one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BUNDLED_MODELS = path.join(ROOT, 'models');
export const FIXTURE_MODELS = path.join(ROOT, 'test/fixtures/models');

/** A private copy of `src` (models/ unless told) in a new temporary folder whose name starts with `prefix`. */
export function tempRepo(prefix: string, src = BUNDLED_MODELS): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  // Not the lifecycle state a local run may have left in the source folder: each copy starts from the files alone.
  fs.cpSync(src, dir, { recursive: true, filter: (from) => path.basename(from) !== '.ortserve' });
  return dir;
}

/** Deletes a temporary repository and all a test wrote into it; a missing folder is fine. */
export function removeRepo(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}
