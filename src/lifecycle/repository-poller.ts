// Keeps this replica in step with the shared repository: every interval it re-reads each model's persisted
// state and its version directories, then loads new versions (an upload through another replica, or a
// directory added by hand), puts a newer traffic table in force, and drains versions that were unloaded
// elsewhere. Eventually consistent within one interval plus a load; runs under the same per-model lock as
// admin actions, so it never interleaves with one.
import path from 'node:path';
import { MODEL_FILE, type ModelEntry, type ModelRepository } from '../repository/model-repository.js';
import type { ModelAdmin } from './model-admin.js';
import type { ModelManager } from './model-manager.js';
import type { ModelState } from './state-store.js';

export interface PollerLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export class RepositoryPoller {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly manager: ModelManager,
    private readonly admin: ModelAdmin,
    private readonly repository: ModelRepository,
    private readonly intervalMs: number,
    private readonly log?: PollerLog,
  ) {}

  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    const loop = () => {
      if (this.stopped) return;
      this.running = this.tick()
        .catch((err: Error) => this.log?.warn({ reason: err.message }, 'repository poll failed'))
        .finally(() => {
          if (!this.stopped) {
            this.timer = setTimeout(loop, this.intervalMs);
            this.timer.unref();
          }
        });
    };
    this.timer = setTimeout(loop, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** One pass over every model directory. */
  async tick(): Promise<void> {
    const entries = await this.repository.scan();
    for (const scanned of entries) {
      if (this.stopped) return;
      // Re-read inside the lock: an admin action (an upload) may have changed the folder since the scan.
      await this.admin.withModelLock(scanned.name, async () => {
        const entry = await this.repository.readModel(scanned.name);
        if (entry) await this.sync(entry);
      });
    }
  }

  private async sync(entry: ModelEntry): Promise<void> {
    const state = await this.manager.readState(entry.name);
    const model = this.manager.find(entry.name);
    if (!model || (model.reason && !entry.configError && model.versions.size === 0)) {
      if (!entry.configError && (entry.versions.length > 0 || model)) {
        await this.manager.loadModel(entry, state);
        this.log?.info({ model: entry.name }, 'repository poll: model loaded');
      }
      return;
    }
    if (entry.configError) return;
    // A serving version whose model file was deleted keeps serving from memory: its folder still names it, and
    // only removing the folder (or an admin action) unloads it.
    const serving = entry.versionsWithoutFile
      .filter((n) => model.versions.get(n)?.state === 'ready')
      .map((n) => ({ version: n, file: path.join(entry.dir, String(n), MODEL_FILE) }));
    const present = serving.length === 0 ? entry : { ...entry, versions: [...entry.versions, ...serving].sort((a, b) => a.version - b.version) };
    const wanted = this.manager.wantedVersions(present, state);
    const missing = wanted.filter((v) => {
      const known = model.versions.get(v.version);
      return !known || known.state === 'unloaded';
    });
    await Promise.all(missing.map((v) => this.manager.loadVersion(model, v.version, v.file)));
    if (changed(model.applied, state) || missing.length > 0) this.manager.applyTraffic(model, state);
    const keep = new Set(wanted.map((v) => v.version));
    const gone = [...model.versions.values()].filter((v) => (v.state === 'ready' || v.state === 'loading') && !keep.has(v.version) && !model.router?.routesTo(v.label));
    await Promise.all(gone.map((v) => this.manager.unloadVersion(model, v)));
    if (missing.length > 0 || gone.length > 0) {
      this.log?.info({ model: entry.name, loaded: missing.map((v) => v.version), unloaded: gone.map((v) => v.version), revision: state.revision }, 'repository poll: applied changes');
    }
  }
}

function changed(a: ModelState, b: ModelState): boolean {
  return a.revision !== b.revision || a.modelUnloaded !== b.modelUnloaded || a.unloadedVersions.join() !== b.unloadedVersions.join() || a.updatedAt !== b.updatedAt;
}
