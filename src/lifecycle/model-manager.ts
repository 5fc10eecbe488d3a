// Loads the repository's models into the worker pool and answers "which version serves this request".
// Unversioned requests follow the model's traffic table when one is set (weights, sticky routing keys, shadow),
// else the default policy: the highest ready version. A model whose config.json is broken, or a version whose
// file does not load, is recorded as failed with its reason; the others still serve.
// Invariant (Triton's floor): a version being served is unloaded only by drain(), after its queue is empty, and
// routing only ever picks ready versions.
import { selectVersions, type ModelConfig } from '../config/model-config.js';
import { ERR_MODEL_NOT_FOUND, ERR_MODEL_NOT_READY, ERR_VERSION_NOT_FOUND } from '../errors.js';
import type { ModelEntry, ModelRepository } from '../repository/model-repository.js';
import type { WorkerPool } from '../runtime/worker-pool.js';
import { DriftMonitor } from '../observability/drift/drift-monitor.js';
import type { FeedbackStore } from '../observability/feedback.js';
import type { Metrics } from '../observability/metrics.js';
import { ModelMonitor } from '../observability/model-monitor.js';
import type { BatchEvents, BatchResult, RequestInput } from '../scheduler/dynamic-batcher.js';
import { type BatchingDefaults, ModelVersion } from './model-version.js';
import { type ModelSignature, SignatureError, type TensorSpec, toModelSignature } from './signature.js';
import { emptyState, type ModelState, type StateStore } from './state-store.js';
import { mirrorToShadow } from './shadow.js';
import { TrafficRouter } from './traffic-table.js';

export interface Model {
  name: string;
  config: ModelConfig;
  /** Why the whole model cannot load (a broken config.json), if so. */
  reason?: string;
  versions: Map<number, ModelVersion>;
  /** The traffic table in force, or null for the default policy. */
  router: TrafficRouter | null;
  /** The persisted state this replica has applied (revision, unloaded versions). */
  applied: ModelState;
}

/** Where an unversioned request goes, and the shadow that gets a copy of it (if any). */
export interface Route {
  version: ModelVersion;
  shadow: ModelVersion | null;
}

export interface ModelManagerOptions {
  repository: ModelRepository;
  pool: WorkerPool;
  batching: BatchingDefaults;
  warmup: boolean;
  metrics?: Metrics;
  /** Shadow disagreement threshold for non-classifiers (absolute difference). */
  shadowTolerance?: number;
  /** Persisted lifecycle state (traffic tables, unloaded versions); without it nothing is persisted. */
  stateStore?: StateStore;
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
    // A folder with no version and no config.json error is not a model yet (e.g. what a killed first upload left).
    const entries = (await this.opts.repository.scan()).filter((e) => e.versions.length > 0 || e.configError !== undefined);
    await Promise.all(entries.map(async (e) => this.loadModel(e, await this.readState(e.name))));
    this.initialLoadDone = true;
  }

  /** The model's persisted state; a corrupt file is logged and read as empty (the default policy serves). */
  async readState(name: string): Promise<ModelState> {
    if (!this.opts.stateStore) return emptyState();
    try {
      return await this.opts.stateStore.read(name);
    } catch (err) {
      this.opts.log?.warn({ model: name, reason: (err as Error).message }, 'lifecycle state ignored');
      return emptyState();
    }
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

  find(name: string): Model | undefined {
    return this.models.get(name);
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

  /**
   * Where a request goes: the version named (versioned URLs bypass the table), else the traffic table's pick
   * (sticky for a routing key) and maybe its shadow, else the highest ready version. 404/503 coded errors.
   */
  route(name: string, version: string | undefined, routingKey: string | undefined): Route {
    if (version !== undefined) return { version: this.getReadyVersion(name, version), shadow: null };
    const m = this.getModel(name);
    const router = m.router;
    if (!router) return { version: this.getReadyVersion(name), shadow: null };
    const picked = m.versions.get(Number(router.pick(routingKey)));
    // The table names only ready versions when it is written; one that failed or went away since falls back to
    // the default policy rather than failing requests.
    const primary = picked?.state === 'ready' ? picked : this.getReadyVersion(name);
    const mirror = router.mirror();
    const shadow = mirror ? m.versions.get(Number(mirror.version)) : undefined;
    return { version: primary, shadow: shadow && shadow.state === 'ready' && shadow !== primary ? shadow : null };
  }

  /**
   * Runs a request on its route's version; with a shadow, the same inputs run on the shadow after the primary
   * answered, without delaying or failing it (the batcher runs on copies, so the request's buffers stay intact).
   */
  async serve(route: Route, inputs: RequestInput[], rows: number, timeoutMs?: number, responseId?: string): Promise<BatchResult> {
    const result = await route.version.infer(inputs, rows, timeoutMs, responseId);
    if (route.shadow) {
      const task = route.version.monitor?.task;
      const first = route.version.signature?.outputs[0];
      const classifier = task ? task === 'classification' : (first?.shape.length === 2 && (first.shape[1] ?? 0) > 1);
      mirrorToShadow(route.shadow, inputs, rows, result, classifier, this.opts.shadowTolerance ?? 1e-3, this.opts.metrics);
    }
    return result;
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

  /** Registers a model found on disk and loads the versions its policy and persisted state want. */
  async loadModel(entry: ModelEntry, state: ModelState): Promise<Model> {
    const model: Model = { name: entry.name, config: entry.config, versions: new Map(), router: null, applied: state };
    this.models.set(entry.name, model);
    if (entry.configError) {
      model.reason = entry.configError;
      this.opts.log?.warn({ model: entry.name, reason: entry.configError }, 'model not loaded: invalid config.json');
      return model;
    }
    const wanted = this.wantedVersions(entry, state);
    // Versions an operator unloaded stay listed as unloaded (503 on their URL, as before a restart).
    const wantedSet = new Set(wanted.map((v) => v.version));
    const unloaded = new Set(state.unloadedVersions);
    for (const v of entry.versions) {
      if (wantedSet.has(v.version) || !(state.modelUnloaded || unloaded.has(v.version))) continue;
      const record = new ModelVersion(model.name, v.version, `${model.name}/${v.version}#${++this.loadSeq}`);
      record.state = 'unloaded';
      model.versions.set(v.version, record);
    }
    await Promise.all(wanted.map((v) => this.loadVersion(model, v.version, v.file)));
    this.applyTraffic(model, state);
    return model;
  }

  /** Versions on disk that the version policy selects and no operator unloaded. */
  wantedVersions(entry: ModelEntry, state: ModelState): ModelEntry['versions'] {
    if (state.modelUnloaded) return [];
    const selected = new Set(selectVersions(entry.config.version_policy, entry.versions.map((v) => v.version)));
    const unloaded = new Set(state.unloadedVersions);
    return entry.versions.filter((v) => selected.has(v.version) && !unloaded.has(v.version));
  }

  /** Puts a persisted traffic table in force (it was validated when written) and records the state applied. */
  applyTraffic(model: Model, state: ModelState): void {
    model.applied = state;
    model.router = state.traffic ? new TrafficRouter({ ...state.traffic, revision: state.revision }) : null;
    if (this.opts.metrics) {
      for (const v of model.versions.values()) {
        const weight = model.router ? (model.router.table.weights[v.label] ?? 0) : v === this.defaultVersion(model) ? 100 : 0;
        if (v.state === 'ready') this.opts.metrics.trafficWeight.labels(model.name, v.label).set(weight);
      }
    }
  }

  /** A model with no versions yet (the first upload of a new model creates it). */
  ensureModel(name: string, config: ModelConfig): Model {
    let model = this.models.get(name);
    if (!model) {
      model = { name, config, versions: new Map(), router: null, applied: emptyState() };
      this.models.set(name, model);
    }
    return model;
  }

  /** Drains and unloads one version (requests already queued or running on it finish there). */
  async unloadVersion(model: Model, version: ModelVersion): Promise<void> {
    await version.drain(this.opts.pool);
    this.applyTraffic(model, model.applied);
  }

  /** Loads one version from its file (state loading -> ready or failed) and returns it. */
  async loadVersion(model: Model, version: number, file: string): Promise<ModelVersion> {
    const v = new ModelVersion(model.name, version, `${model.name}/${version}#${++this.loadSeq}`);
    // A version loaded again replaces its unloaded (or failed) record; a serving one is never replaced.
    const previous = model.versions.get(version);
    if (previous && (previous.state === 'ready' || previous.state === 'loading' || previous.state === 'draining')) return previous;
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
    if (model.versions.get(version) === v) this.applyTraffic(model, model.applied);
    return v;
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
