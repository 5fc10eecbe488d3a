// Operator actions on models: load/unload (V2 repository extension), upload a version, unload a version, set or
// roll back the traffic table. Each action runs under the model's lock (one at a time per model, also against
// the repository poller), persists its result in the state store before it returns, and is logged once with who,
// what, before and after.
// Invariants: a version that traffic still routes to is never unloaded (409); an upload that cannot serve leaves
// no file in the repository; a table names only ready versions.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ERR_BAD_REQUEST, ERR_CONFLICT, ERR_MODEL_NOT_FOUND, ERR_UNPROCESSABLE_MODEL } from '../errors.js';
import { renameDurable, TEMP_PREFIX, writeFileAtomic } from '../repository/atomic-file.js';
import { DIGEST_FILE, digestFileText, isValidModelName, MODEL_FILE, type ModelRepository } from '../repository/model-repository.js';
import type { WorkerPool } from '../runtime/worker-pool.js';
import type { Model, ModelManager } from './model-manager.js';
import type { ModelVersion } from './model-version.js';
import { type ModelSignature, type TensorSpec, toModelSignature } from './signature.js';
import { HISTORY_LENGTH, type ModelState, type PersistedTraffic, type StateStore } from './state-store.js';
import { routedVersions, type Shadow, TrafficError, validateTraffic } from './traffic-table.js';

export interface AdminLog {
  info(obj: object, msg: string): void;
}

export interface TrafficView {
  weights: Record<string, number> | null;
  shadow: Shadow | null;
  revision: number;
  /** Under the default policy (no table): the version that serves unversioned requests. */
  default_version?: string | null;
}

export interface UploadResult {
  model: string;
  version: string;
  sha256: string;
  state: string;
  reason?: string;
}

const VERSION = /^[1-9][0-9]{0,8}$/;

export class ModelAdmin {
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly manager: ModelManager,
    private readonly repository: ModelRepository,
    private readonly store: StateStore,
    private readonly pool: WorkerPool,
    private readonly log?: AdminLog,
  ) {}

  /** Runs `fn` after every earlier action on the same model has finished. */
  withModelLock<T>(model: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(model) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(fn);
    const tail = next.catch(() => undefined);
    this.locks.set(model, tail);
    void tail.then(() => {
      if (this.locks.get(model) === tail) this.locks.delete(model);
    });
    return next;
  }

  /** POST /v2/repository/index: every model and version known, with state and reason. */
  index(): { name: string; version: string; state: string; reason: string }[] {
    return this.manager.list().flatMap((m) =>
      m.versions.size === 0
        ? [{ name: m.name, version: '', state: m.reason ? 'failed' : 'unloaded', reason: m.reason ?? '' }]
        : [...m.versions.values()].map((v) => ({ name: m.name, version: v.label, state: v.state, reason: v.reason ?? '' })),
    );
  }

  traffic(name: string): TrafficView {
    const m = this.manager.getModel(name);
    if (!m.router) return { weights: null, shadow: null, revision: m.applied.revision, default_version: this.manager.defaultVersion(m)?.label ?? null };
    const t = m.router.table;
    return { weights: { ...t.weights }, shadow: t.shadow, revision: t.revision };
  }

  /** POST /v2/repository/models/{m}/load: every version on disk not loaded yet (new directories too). */
  async loadModel(name: string, by: string): Promise<void> {
    if (!isValidModelName(name)) throw new ERR_MODEL_NOT_FOUND(name);
    await this.withModelLock(name, async () => {
      const entry = await this.repository.readModel(name);
      if (!entry || entry.versions.length === 0) throw new ERR_MODEL_NOT_FOUND(name);
      const before = this.describe(name);
      const state = await this.store.update(name, by, (s) => ({ ...s, modelUnloaded: false, unloadedVersions: [] }));
      const known = this.manager.find(name);
      if (!known || known.reason || entry.configError) {
        await this.manager.loadModel(entry, state);
      } else {
        known.config = entry.config;
        await Promise.all(this.manager.wantedVersions(entry, state).map((v) => this.manager.loadVersion(known, v.version, v.file)));
        this.manager.applyTraffic(known, state);
      }
      this.audit(by, 'load model', name, before, this.describe(name));
    });
  }

  /** POST /v2/repository/models/{m}/unload: drain and unload every version; stays unloaded across restarts. */
  async unloadModel(name: string, by: string): Promise<void> {
    const m = this.manager.getModel(name);
    await this.withModelLock(name, async () => {
      const before = this.describe(name);
      const state = await this.store.update(name, by, (s) => ({ ...s, modelUnloaded: true }));
      m.applied = state;
      await Promise.all([...m.versions.values()].filter(isLive).map((v) => this.manager.unloadVersion(m, v)));
      this.audit(by, 'unload model', name, before, this.describe(name));
    });
  }

  /** DELETE /admin/models/{m}/versions/{v}: drain and unload; 409 while the traffic table routes to it. */
  async unloadVersion(name: string, version: string, by: string): Promise<void> {
    const m = this.manager.getModel(name);
    await this.withModelLock(name, async () => {
      const v = this.manager.getVersion(name, version);
      if (m.router?.routesTo(v.label)) throw new ERR_CONFLICT(`version '${v.label}' of model '${name}' still receives traffic (weight or shadow); change the traffic table first`);
      const before = this.describe(name);
      const state = await this.store.update(name, by, (s) => {
        // The persisted table is the fleet's truth: another replica may have routed to it since this one polled.
        if (s.traffic && routedVersions(s.traffic).includes(v.label)) {
          throw new ERR_CONFLICT(`version '${v.label}' of model '${name}' still receives traffic (weight or shadow); change the traffic table first`);
        }
        return { ...s, unloadedVersions: [...new Set([...s.unloadedVersions, v.version])].sort((a, b) => a - b) };
      });
      m.applied = state;
      if (isLive(v)) await this.manager.unloadVersion(m, v);
      this.audit(by, 'unload version', `${name}/${v.label}`, before, this.describe(name));
    });
  }

  /**
   * PUT /admin/models/{m}/versions/{v}: checks the bytes (sha256 when given, loadable ONNX, same inputs and
   * outputs as the live version unless forced), writes them atomically as `<m>/<v>/model.onnx`, loads and warms
   * the version up. Nothing is left in the repository when any check fails.
   */
  async upload(name: string, version: string, bytes: Uint8Array, opts: { sha256?: string; force: boolean; by: string }): Promise<UploadResult> {
    if (!isValidModelName(name)) throw new ERR_BAD_REQUEST(`'${name}' is not a valid model name (letters, digits, '_', '.', '-')`);
    if (!VERSION.test(version)) throw new ERR_BAD_REQUEST(`'${version}' is not a version (a positive integer)`);
    if (bytes.byteLength === 0) throw new ERR_BAD_REQUEST('the body is empty; send the ONNX file as application/octet-stream');
    if (opts.sha256 === undefined && this.repository.requireSha256) {
      throw new ERR_BAD_REQUEST('REQUIRE_SHA256 is set: send the file\'s sha256 (hex) in the X-Content-Sha256 header');
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (opts.sha256 !== undefined && opts.sha256.toLowerCase() !== sha256) {
      throw new ERR_BAD_REQUEST(`X-Content-Sha256 is ${opts.sha256} but the body's sha256 is ${sha256}; the upload was corrupted or truncated`);
    }
    return this.withModelLock(name, async () => {
      const versionDir = path.join(this.repository.root, name, version);
      if (await exists(versionDir)) throw new ERR_CONFLICT(`version '${version}' of model '${name}' already exists in the repository; versions are immutable, upload a new one`);
      const signature = await this.probe(bytes);
      const live = this.manager.find(name);
      const current = live ? this.manager.defaultVersion(live) : undefined;
      if (current?.signature && !opts.force) {
        const mismatch = describeMismatch(current.signature, signature);
        if (mismatch) throw new ERR_UNPROCESSABLE_MODEL(`the upload's inputs or outputs differ from live version '${current.label}': ${mismatch}; add ?force=true to accept it`);
      }
      // <m>/.tmp-upload-<v>-<pid>-<rand>/model.onnx, fsynced, then the directory is renamed to <m>/<v>.
      const staging = path.join(this.repository.root, name, `${TEMP_PREFIX}upload-${version}-${process.pid}-${sha256.slice(0, 8)}`);
      await fs.rm(staging, { recursive: true, force: true });
      try {
        await writeFileAtomic(path.join(staging, MODEL_FILE), bytes);
        // The digest beside the file, so that REQUIRE_SHA256 (here or on another replica) accepts the upload.
        await writeFileAtomic(path.join(staging, DIGEST_FILE), digestFileText(sha256));
        await renameDurable(staging, versionDir);
      } catch (err) {
        await fs.rm(staging, { recursive: true, force: true });
        if ((err as NodeJS.ErrnoException).code === 'ENOTEMPTY' || (err as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new ERR_CONFLICT(`version '${version}' of model '${name}' was created meanwhile`);
        }
        throw err;
      }
      const before = this.describe(name);
      try {
        return await this.register(name, version, versionDir, sha256, live, opts.by, before);
      } catch (err) {
        // Nothing may be left behind by a failed upload: the client's retry must not meet a 409.
        await fs.rm(versionDir, { recursive: true, force: true });
        throw err;
      }
    });
  }

  /** After the rename: records the new version in the state and loads it. */
  private async register(name: string, version: string, versionDir: string, sha256: string, live: Model | undefined, by: string, before: Record<string, string>): Promise<UploadResult> {
    const entry = await this.repository.readModel(name);
    const model = live ?? this.manager.ensureModel(name, entry?.config ?? {});
    const onDisk = entry?.versions.map((v) => v.version) ?? [];
    const state = await this.store.update(name, by, (s) => {
      // Uploading into an unloaded model serves the new version only: the others stay unloaded, across restarts.
      const others = s.modelUnloaded ? onDisk.filter((x) => x !== Number(version)) : [];
      const unloadedVersions = [...new Set([...s.unloadedVersions, ...others])].filter((x) => x !== Number(version)).sort((a, b) => a - b);
      return { ...s, modelUnloaded: false, unloadedVersions };
    });
    model.applied = state;
    const v = await this.manager.loadVersion(model, Number(version), path.join(versionDir, MODEL_FILE));
    this.audit(by, 'upload version', `${name}/${version}`, before, this.describe(name));
    return { model: name, version, sha256, state: v.state, ...(v.reason ? { reason: v.reason } : {}) };
  }

  /** PUT /admin/models/{m}/traffic. `expectedRevision` (optional) must be the revision being replaced. */
  async setTraffic(name: string, table: { weights: Record<string, number>; shadow: Shadow | null }, expectedRevision: number | undefined, by: string): Promise<TrafficView> {
    const m = this.manager.getModel(name);
    return this.withModelLock(name, async () => {
      try {
        validateTraffic(table.weights, table.shadow);
      } catch (err) {
        if (err instanceof TrafficError) throw new ERR_CONFLICT(`traffic table refused, nothing changed: ${err.message}`);
        throw err;
      }
      this.requireReady(m, table);
      const before = this.traffic(name);
      const state = await this.store.update(name, by, (s) => {
        if (expectedRevision !== undefined && expectedRevision !== s.revision) {
          throw new ERR_CONFLICT(`stale revision: the table is at revision ${s.revision}, not ${expectedRevision}; GET it and try again`);
        }
        refuseUnloaded(name, s, table);
        return pushTable(s, { weights: table.weights, shadow: table.shadow });
      });
      this.manager.applyTraffic(m, state);
      const after = this.traffic(name);
      this.audit(by, 'set traffic', name, before, after);
      return after;
    });
  }

  /** POST /admin/models/{m}/traffic/rollback: the previous table comes back (409 when there is none). */
  async rollback(name: string, by: string): Promise<TrafficView> {
    const m = this.manager.getModel(name);
    return this.withModelLock(name, async () => {
      const before = this.traffic(name);
      const state = await this.store.update(name, by, (s) => {
        const previous = s.history[s.history.length - 1];
        if (!previous) throw new ERR_CONFLICT(`model '${name}' has no earlier traffic table to roll back to`);
        if (previous.traffic) {
          this.requireReady(m, previous.traffic);
          refuseUnloaded(name, s, previous.traffic);
        }
        return { ...s, traffic: previous.traffic, history: s.history.slice(0, -1), revision: s.revision + 1 };
      });
      this.manager.applyTraffic(m, state);
      const after = this.traffic(name);
      this.audit(by, 'rollback traffic', name, before, after);
      return after;
    });
  }

  /** Loads the bytes in a throwaway session to check they are a servable ONNX model; returns its signature. */
  private async probe(bytes: Uint8Array): Promise<ModelSignature> {
    const key = `upload-probe#${createHash('sha1').update(bytes).digest('hex')}#${Date.now()}`;
    try {
      const sig = await this.pool.load(key, bytes, {}, true);
      this.pool.unload(key);
      return toModelSignature(sig);
    } catch (err) {
      throw new ERR_UNPROCESSABLE_MODEL(`not a servable ONNX model: ${(err as Error).message.split('\n')[0]}`);
    }
  }

  private requireReady(m: Model, table: PersistedTraffic): void {
    for (const label of routedVersions(table)) {
      const v = m.versions.get(Number(label));
      if (!v || v.state !== 'ready') throw new ERR_CONFLICT(`version '${label}' of model '${m.name}' is not ready (${v?.state ?? 'not loaded'}); the table is unchanged`);
    }
  }

  private describe(name: string): Record<string, string> {
    const m = this.manager.find(name);
    return m ? Object.fromEntries([...m.versions.values()].map((v) => [v.label, v.state])) : {};
  }

  private audit(who: string, what: string, target: string, before: unknown, after: unknown): void {
    this.log?.info({ audit: true, who, what, target, before, after }, `admin: ${what} ${target}`);
  }
}

/** A table may not name a version the fleet unloaded (another replica may have done it since this one polled). */
function refuseUnloaded(name: string, s: ModelState, table: PersistedTraffic): void {
  for (const label of routedVersions(table)) {
    if (s.modelUnloaded || s.unloadedVersions.includes(Number(label))) {
      throw new ERR_CONFLICT(`version '${label}' of model '${name}' was unloaded; load it again before routing to it (the table is unchanged)`);
    }
  }
}

function isLive(v: ModelVersion): boolean {
  return v.state === 'ready' || v.state === 'loading';
}

/** The new table in force, the one it replaces pushed onto the (bounded) history. */
function pushTable(s: ModelState, traffic: PersistedTraffic): ModelState {
  const history = [...s.history, { traffic: s.traffic, revision: s.revision }].slice(-HISTORY_LENGTH);
  return { ...s, traffic, history, revision: s.revision + 1 };
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.stat(p);
    return true;
  } catch {
    return false;
  }
}

function sameTensors(a: TensorSpec[], b: TensorSpec[]): string | undefined {
  const show = (t: TensorSpec) => `${t.name} ${t.info.v2} [${t.shape.join(',')}]`;
  const left = a.map(show).sort();
  const right = b.map(show).sort();
  if (left.join(';') === right.join(';')) return undefined;
  return `live ${left.join(', ')} vs upload ${right.join(', ')}`;
}

export function describeMismatch(live: ModelSignature, upload: ModelSignature): string | undefined {
  const inputs = sameTensors(live.inputs, upload.inputs);
  if (inputs) return `inputs: ${inputs}`;
  const outputs = sameTensors(live.outputs, upload.outputs);
  return outputs ? `outputs: ${outputs}` : undefined;
}

