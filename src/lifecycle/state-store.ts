// Persisted lifecycle state, one JSON file per model in `<repository>/.ortserve/<model>.json`: the traffic
// table with its revision and a short history (for rollback), and which versions an operator unloaded. Every
// write is atomic and happens under a lock file, so replicas sharing the repository never interleave a
// read-modify-write; a stale revision is refused by the caller's check inside `update`.
import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { withFileLock, writeFileAtomic } from '../repository/atomic-file.js';

export const STATE_DIR = '.ortserve';
export const HISTORY_LENGTH = 10;

const shadowSchema = z.object({ version: z.string(), fraction: z.number() }).nullable();
const trafficSchema = z.object({ weights: z.record(z.string(), z.number()), shadow: shadowSchema });
/** A table the model had before (null traffic: the default policy), kept for rollback. */
const historySchema = z.object({ traffic: trafficSchema.nullable(), revision: z.number().int().min(0) });

export const modelStateSchema = z.object({
  /** Revision of the traffic table; 0 means no table was ever set. */
  revision: z.number().int().min(0),
  /** null: no table, the default policy (highest ready version) routes. */
  traffic: trafficSchema.nullable(),
  history: z.array(historySchema),
  unloadedVersions: z.array(z.number().int().min(1)),
  modelUnloaded: z.boolean(),
  updatedAt: z.string(),
  updatedBy: z.string(),
});

export type ModelState = z.infer<typeof modelStateSchema>;
export type PersistedTraffic = z.infer<typeof trafficSchema>;

export function emptyState(): ModelState {
  return { revision: 0, traffic: null, history: [], unloadedVersions: [], modelUnloaded: false, updatedAt: new Date(0).toISOString(), updatedBy: '' };
}

/** A state file that is not JSON or not a valid state. */
export class CorruptStateError extends Error {}

export class StateStore {
  readonly dir: string;
  constructor(repositoryRoot: string) {
    this.dir = path.join(repositoryRoot, STATE_DIR);
  }

  fileOf(model: string): string {
    return path.join(this.dir, `${model}.json`);
  }

  /** The model's state; the empty state when there is no file; throws CorruptStateError on a corrupt file. */
  async read(model: string): Promise<ModelState> {
    const file = this.fileOf(model);
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
      throw err;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      // Not a SyntaxError: the HTTP layer would report that as the client's malformed body.
      throw new CorruptStateError(`${file} is not valid JSON: ${(err as Error).message}`);
    }
    const parsed = modelStateSchema.safeParse(json);
    if (!parsed.success) throw new CorruptStateError(`${file} is not a valid state file`);
    return parsed.data;
  }

  /**
   * Read-modify-write under the model's lock; `change` may throw to abort (nothing is written). A corrupt file
   * reads as the empty state, as it did when the server started (it serves the default policy), so an admin
   * action can repair it; the corrupt bytes are kept beside it as `<model>.json.corrupt`.
   */
  async update(model: string, by: string, change: (current: ModelState) => ModelState): Promise<ModelState> {
    const file = this.fileOf(model);
    return withFileLock(file, async () => {
      let current: ModelState;
      let corrupt = false;
      try {
        current = await this.read(model);
      } catch (err) {
        if (!(err instanceof CorruptStateError)) throw err;
        current = emptyState();
        corrupt = true;
      }
      const next = change(current);
      const stamped = { ...next, history: next.history.slice(-HISTORY_LENGTH), updatedAt: new Date().toISOString(), updatedBy: by };
      if (corrupt) await fs.copyFile(file, `${file}.corrupt`);
      await writeFileAtomic(file, `${JSON.stringify(stamped, null, 2)}\n`);
      return stamped;
    });
  }
}
