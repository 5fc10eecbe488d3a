// Loads the repository's models into the worker pool and answers "which version serves this request".
// Default version policy: the highest ready version serves unversioned requests. A model whose config.json is
// broken, or a version whose file does not load, is recorded as failed with its reason; the others still serve.
import { selectVersions, type ModelConfig } from '../config/model-config.js';
import { ERR_MODEL_NOT_FOUND, ERR_MODEL_NOT_READY, ERR_VERSION_NOT_FOUND } from '../errors.js';
import type { ModelEntry, ModelRepository } from '../repository/model-repository.js';
import type { WorkerPool } from '../runtime/worker-pool.js';
import { DriftMonitor } from '../observability/drift/drift-monitor.js';
import type { FeedbackStore } from '../observability/feedback.js';
import type { Metrics } from '../observability/metrics.js';
import { ModelMonitor } from '../observability/model-monitor.js';
import type { BatchEvents } from '../scheduler/dynamic-batcher.js';
import { type BatchingDefaults, ModelVersion } from './model-version.js';
import { type ModelSignature, SignatureError, type TensorSpec, toModelSignature } from './signature.js';

export interface Model {
  name: string;
  config: ModelConfig;
  /** Why the whole model cannot load (a broken config.json), if so. */
  reason?: string;
  versions: Map<number, ModelVersion>;
}

export interface ModelManagerOptions {
  repository: ModelRepository;
  pool: WorkerPool;
  batching: BatchingDefaults;
  warmup: boolean;
  metrics?: Metrics;
  /** Drift and feedback settings; without them versions are not monitored. */
  monitoring?: {
    drift: { enabled: boolean; maxFeatures: number; referenceRows: number; windowRows: number; intervalMs: number };
    feedbackWindow: number;
    feedback: FeedbackStore;
  };
  /** Per-version batch events (observability subscribes here). */
  eventsFor?: (v: ModelVersion) => BatchEvents | undefined;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

export class ModelManager {
  private readonly models = new Map<string, Model>();
  private readonly opts: ModelManagerOptions;
  private loadSeq = 0;
  private initialLoadDone = false;

  constructor(opts: ModelManagerOptions) {
    this.opts = opts;
  }

  /** Scans the repository and loads every model (in parallel); never rejects for one bad model. */
  async loadAll(): Promise<void> {
    const entries = await this.opts.repository.scan();
    await Promise.all(entries.map((e) => this.loadModel(e)));
    this.initialLoadDone = true;
  }

  /** Ready once the initial load finished and no version is still loading; failed versions do not hold it back. */
  isReady(): boolean {
    if (!this.initialLoadDone) return false;
    for (const m of this.models.values()) for (const v of m.versions.values()) if (v.state === 'loading') return false;
    return true;
  }

  list(): Model[] {
    return [...this.models.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  getModel(name: string): Model {
    const m = this.models.get(name);
    if (!m) throw new ERR_MODEL_NOT_FOUND(name);
    return m;
  }

  /** The version named, or the one that serves unversioned requests; throws 404 or 503 coded errors. */
  getVersion(name: string, version?: string): ModelVersion {
    const m = this.getModel(name);
    if (version === undefined) {
      const v = this.defaultVersion(m);
      if (!v) throw new ERR_MODEL_NOT_READY(name, undefined, m.reason ?? describeStates(m));
      return v;
    }
    const v = /^[1-9][0-9]{0,8}$/.test(version) ? m.versions.get(Number(version)) : undefined;
    if (!v) {
      // A model that could not load at all (broken config.json) has no versions to find: say why, as 503.
      if (m.reason && m.versions.size === 0) throw new ERR_MODEL_NOT_READY(name, version, m.reason);
      throw new ERR_VERSION_NOT_FOUND(name, version);
    }
    return v;
  }

  /** Like getVersion, but the version must be ready (503 otherwise). */
  getReadyVersion(name: string, version?: string): ModelVersion {
    const v = this.getVersion(name, version);
    if (v.state !== 'ready') throw new ERR_MODEL_NOT_READY(name, v.label, v.reason ? `${v.state}: ${v.reason}` : v.state);
    return v;
  }

  /** The highest ready version, if any. */
  defaultVersion(m: Model): ModelVersion | undefined {
    let best: ModelVersion | undefined;
    for (const v of m.versions.values()) if (v.state === 'ready' && (!best || v.version > best.version)) best = v;
    return best;
  }

  /** Drains every version (queued and running requests finish) and releases the sessions. */
  async close(): Promise<void> {
    const all = [...this.models.values()].flatMap((m) => [...m.versions.values()]);
    await Promise.all(all.map((v) => v.drain(this.opts.pool)));
  }

  private async loadModel(entry: ModelEntry): Promise<void> {
    const model: Model = { name: entry.name, config: entry.config, versions: new Map() };
    this.models.set(entry.name, model);
    if (entry.configError) {
      model.reason = entry.configError;
      this.opts.log?.warn({ model: entry.name, reason: entry.configError }, 'model not loaded: invalid config.json');
      return;
    }
    const wanted = new Set(selectVersions(entry.config.version_policy, entry.versions.map((v) => v.version)));
    if (wanted.size === 0) model.reason = 'no version directory with a model.onnx';
    await Promise.all(entry.versions.filter((v) => wanted.has(v.version)).map((v) => this.loadVersion(model, v.version, v.file)));
  }

  private async loadVersion(model: Model, version: number, file: string): Promise<void> {
    const v = new ModelVersion(model.name, version, `${model.name}/${version}#${++this.loadSeq}`);
    model.versions.set(version, v);
    v.metrics = this.opts.metrics?.version(model.name, v.label);
    const started = performance.now();
    try {
      const { bytes, sha256 } = await this.opts.repository.readModelFile(file);
      v.sha256 = sha256;
      const sessionSig = await this.opts.pool.load(v.sessionKey, bytes, model.config.session ?? {}, this.opts.warmup);
      let signature;
      try {
        signature = toModelSignature(sessionSig);
      } catch (err) {
        this.opts.pool.unload(v.sessionKey);
        throw err;
      }
      await this.attachMonitor(model, v, file, signature);
      v.loadedAt = new Date();
      v.metrics?.loadDuration.set((performance.now() - started) / 1000);
      v.activate(this.opts.pool, signature, model.config, this.opts.batching, this.opts.eventsFor?.(v));
      this.opts.log?.info({ model: model.name, version: v.label, sha256, loadMs: Math.round(performance.now() - started) }, 'version ready');
    } catch (err) {
      const reason = err instanceof SignatureError ? err.message : `failed to load ${file}: ${(err as Error).message}`;
      v.fail(reason);
      this.opts.log?.warn({ model: model.name, version: v.label, reason }, 'version failed to load');
    }
  }

  /** Drift and feedback for a version; a broken baseline.json is logged and replaced by the first rows served. */
  private async attachMonitor(model: Model, v: ModelVersion, file: string, signature: ModelSignature): Promise<void> {
    const mon = this.opts.monitoring;
    if (!mon) return;
    let baseline;
    try {
      const json = await this.opts.repository.readBaseline(file);
      if (json !== undefined) baseline = DriftMonitor.parseBaseline(json);
    } catch (err) {
      this.opts.log?.warn({ model: model.name, version: v.label, reason: (err as Error).message }, 'baseline.json ignored; the first rows served become the reference');
    }
    const spec = (t: TensorSpec) => ({ name: t.name, shape: t.shape, kind: t.info.kind });
    v.monitor = new ModelMonitor({
      inputs: signature.inputs.map(spec),
      outputs: signature.outputs.map(spec),
      task: model.config.task,
      labels: model.config.labels,
      featureNames: model.config.feature_names,
      baseline,
      drift: mon.drift,
      feedbackWindow: mon.feedbackWindow,
      metrics: v.metrics,
    });
    v.feedback = mon.feedback;
  }
}

function describeStates(m: Model): string {
  const states = [...m.versions.values()].map((v) => `${v.label}: ${v.state}${v.reason ? ` (${v.reason})` : ''}`);
  return states.length ? states.join(', ') : 'no versions';
}
