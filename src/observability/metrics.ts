// Every Prometheus metric ortserve exports is defined here, in one registry. Names and labels are a contract
// (dashboards and alerts depend on them). `model`/`version` label values come only from loaded versions: label
// children are resolved once when a version loads (VersionMetrics) and removed when it unloads, so cardinality
// stays bounded. prom-client's label children still hash their labels on every call, so the series that change on
// every request or batch are updated through direct handles on their records (see seriesRecord); queue depth is
// read at scrape time.
import client from 'prom-client';

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
const ERROR_BUCKETS = [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 100];
/** prom-client's default gauges whose names end in _total, which promtool rejects (a _total name is for counters). */
const DROPPED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** What the runtime reports at scrape time (the metrics module does not import the runtime). */
export interface RuntimeGauges {
  workers(): number;
  sessions(): number;
  workerHeapUsedBytes(): Promise<number[]>;
}

export class Metrics {
  readonly registry = new client.Registry();
  private readonly vl = ['model', 'version'] as const;

  readonly requests = new client.Counter({ name: 'inference_requests_total', help: 'Inference requests by outcome (success, error, rejected)', labelNames: [...this.vl, 'outcome'], registers: [this.registry] });
  readonly rows = new client.Counter({ name: 'inference_rows_total', help: 'Rows (batch items) inferred', labelNames: this.vl, registers: [this.registry] });
  readonly executions = new client.Counter({ name: 'inference_executions_total', help: 'onnxruntime runs', labelNames: this.vl, registers: [this.registry] });
  readonly requestDuration = new client.Histogram({ name: 'inference_request_duration_seconds', help: 'Inference request duration, arrival to response ready', labelNames: this.vl, buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly queueDuration = new client.Histogram({ name: 'inference_queue_duration_seconds', help: 'Time a request waited in the batcher', labelNames: this.vl, buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly computeDuration = new client.Histogram({ name: 'inference_compute_duration_seconds', help: 'Time inside one onnxruntime run', labelNames: this.vl, buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly batchSize = new client.Histogram({ name: 'inference_batch_size', help: 'Rows per onnxruntime run', labelNames: this.vl, buckets: BATCH_BUCKETS, registers: [this.registry] });
  /**
   * Versions whose queue depth is read at scrape time, one per model/version series: a version loaded again after
   * a failed load replaces the failed record's entry (which is never removed), so no stale entry writes the series.
   */
  private readonly depthSources = new Map<string, VersionMetrics>();
  readonly queueDepth: client.Gauge<'model' | 'version'> = new client.Gauge({
    name: 'inference_queue_depth',
    help: 'Requests waiting in the batcher',
    labelNames: this.vl,
    registers: [this.registry],
    collect: (): void => {
      for (const v of this.depthSources.values()) v.queueDepth.set(v.queueDepthSource?.() ?? 0);
    },
  });
  readonly httpDuration = new client.Histogram({ name: 'http_request_duration_seconds', help: 'HTTP request duration by route template', labelNames: ['method', 'route', 'status_code'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly ready = new client.Gauge({ name: 'model_ready', help: '1 when the version is ready, 0 otherwise', labelNames: this.vl, registers: [this.registry] });
  readonly loadDuration = new client.Gauge({ name: 'model_load_duration_seconds', help: 'Time the last load of the version took (read, create sessions in every worker, warm up)', labelNames: this.vl, registers: [this.registry] });
  readonly inputDrift = new client.Gauge({ name: 'model_input_drift_psi', help: 'Population stability index of recent inputs vs the reference, per feature', labelNames: [...this.vl, 'input', 'feature'], registers: [this.registry] });
  readonly predictionDrift = new client.Gauge({ name: 'model_prediction_drift_psi', help: 'Population stability index of recent predictions vs the reference', labelNames: this.vl, registers: [this.registry] });
  readonly feedback = new client.Counter({ name: 'model_feedback_total', help: 'Ground-truth feedback rows received (classifiers), by outcome', labelNames: [...this.vl, 'outcome'], registers: [this.registry] });
  readonly accuracy = new client.Gauge({ name: 'model_accuracy', help: 'Accuracy over the last FEEDBACK_WINDOW feedback rows', labelNames: this.vl, registers: [this.registry] });
  readonly absoluteError = new client.Histogram({ name: 'model_feedback_absolute_error', help: 'Regression models: abs(prediction - truth) of feedback rows', labelNames: this.vl, buckets: ERROR_BUCKETS, registers: [this.registry] });
  /** Set by whoever owns the runtime (the server), read at scrape time. */
  runtime: RuntimeGauges | undefined;
  readonly sessionsLoaded: client.Gauge = new client.Gauge({
    name: 'model_sessions_loaded',
    help: 'onnxruntime sessions held (loaded versions x worker threads)',
    registers: [this.registry],
    collect: (): void => this.sessionsLoaded.set(this.runtime?.sessions() ?? 0),
  });
  readonly workerThreads: client.Gauge = new client.Gauge({
    name: 'runtime_worker_threads',
    help: 'Worker threads running onnxruntime sessions',
    registers: [this.registry],
    collect: (): void => this.workerThreads.set(this.runtime?.workers() ?? 0),
  });
  readonly workerRestarts = new client.Counter({ name: 'runtime_worker_restarts_total', help: 'Worker threads that died and were replaced', registers: [this.registry] });
  readonly workerHeapUsed: client.Gauge<'worker'> = new client.Gauge({
    name: 'runtime_worker_heap_used_bytes',
    help: 'V8 heap used by each worker thread (onnxruntime native memory shows in process_resident_memory_bytes)',
    labelNames: ['worker'],
    registers: [this.registry],
    collect: async (): Promise<void> => {
      const heaps = (await this.runtime?.workerHeapUsedBytes()) ?? [];
      this.workerHeapUsed.reset();
      heaps.forEach((bytes, i) => this.workerHeapUsed.labels(String(i)).set(bytes));
    },
  });
  readonly rateLimitStoreErrors = new client.Counter({ name: 'rate_limit_store_errors_total', help: 'Errors of the shared rate-limit store (Redis); requests are served without a shared limit meanwhile', registers: [this.registry] });
  readonly shadowRequests = new client.Counter({ name: 'model_shadow_requests_total', help: 'Requests mirrored to a shadow version', labelNames: this.vl, registers: [this.registry] });
  readonly shadowDisagreements = new client.Counter({ name: 'model_shadow_disagreements_total', help: 'Shadow answers that disagree with the primary (argmax, or difference above the tolerance)', labelNames: this.vl, registers: [this.registry] });
  readonly shadowDifference = new client.Histogram({ name: 'model_shadow_absolute_difference', help: 'Largest absolute difference between shadow and primary outputs per request', labelNames: this.vl, buckets: ERROR_BUCKETS, registers: [this.registry] });
  readonly trafficWeight = new client.Gauge({ name: 'model_traffic_weight', help: 'Share of unversioned traffic routed to the version (0-100)', labelNames: this.vl, registers: [this.registry] });

  private readonly httpChildren = new Map<string, HistogramSeries>();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) {
      client.collectDefaultMetrics({ register: this.registry });
      for (const name of DROPPED_DEFAULTS) this.registry.removeSingleMetric(name);
    }
  }

  /** Label children of one version, created now (at load time). */
  version(model: string, version: string): VersionMetrics {
    const v = new VersionMetrics(this, model, version);
    this.depthSources.set(v.seriesKey, v);
    return v;
  }

  /** @internal VersionMetrics.remove() */
  forget(v: VersionMetrics): void {
    if (this.depthSources.get(v.seriesKey) === v) this.depthSources.delete(v.seriesKey);
  }

  /** Observes one HTTP request; children are cached per (method, route, status). */
  observeHttp(method: string, route: string, statusCode: number, seconds: number): void {
    const key = `${method} ${route} ${statusCode}`;
    let child = this.httpChildren.get(key);
    if (!child) {
      child = histogramSeries(this.httpDuration, { method, route, status_code: String(statusCode) }, LATENCY_BUCKETS);
      this.httpChildren.set(key, child);
    }
    child.observe(seconds);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** Pre-resolved label children of one loaded version. */
export class VersionMetrics {
  private readonly m: Metrics;
  private readonly labels: { model: string; version: string };
  private readonly extraLabelSets: Record<string, string>[] = [];
  readonly success: CounterSeries;
  readonly error: CounterSeries;
  readonly rejected: CounterSeries;
  readonly rows: CounterSeries;
  readonly executions: CounterSeries;
  readonly requestDuration: HistogramSeries;
  readonly queueDuration: HistogramSeries;
  readonly computeDuration: HistogramSeries;
  readonly batchSize: HistogramSeries;
  readonly queueDepth: client.Gauge.Internal<string>;
  /** The version's current queue depth, read at scrape time (set by the version when it starts its batcher). */
  queueDepthSource: (() => number) | undefined;
  readonly ready: client.Gauge.Internal<string>;
  readonly loadDuration: client.Gauge.Internal<string>;

  /** model and version, one string: which series this version's metrics are. */
  readonly seriesKey: string;

  constructor(m: Metrics, model: string, version: string) {
    this.m = m;
    this.labels = { model, version };
    this.seriesKey = `${model}\u0000${version}`;
    const l = this.labels;
    // Every series is created now (load time), so dashboards see zeros rather than absent series.
    this.success = counterSeries(m.requests, { ...l, outcome: 'success' });
    this.error = counterSeries(m.requests, { ...l, outcome: 'error' });
    this.rejected = counterSeries(m.requests, { ...l, outcome: 'rejected' });
    this.rows = counterSeries(m.rows, l);
    this.executions = counterSeries(m.executions, l);
    this.requestDuration = histogramSeries(m.requestDuration, l, LATENCY_BUCKETS);
    this.queueDuration = histogramSeries(m.queueDuration, l, LATENCY_BUCKETS);
    this.computeDuration = histogramSeries(m.computeDuration, l, LATENCY_BUCKETS);
    this.batchSize = histogramSeries(m.batchSize, l, BATCH_BUCKETS);
    this.queueDepth = m.queueDepth.labels(l);
    this.ready = m.ready.labels(l);
    this.loadDuration = m.loadDuration.labels(l);
    this.queueDepth.set(0);
    this.ready.set(0);
  }

  /**
   * One request answered: outcome by HTTP status, and its duration. Only requests routed to a version get here;
   * refusals before routing (401, 403, 404, 429) show in http_request_duration_seconds alone.
   */
  requestDone(statusCode: number, seconds: number): void {
    if (statusCode < 400) this.success.inc();
    else if (statusCode === 503 || statusCode === 504) this.rejected.inc();
    else this.error.inc();
    this.requestDuration.observe(seconds);
  }

  batchDone(rows: number, computeSeconds: number, ok: boolean): void {
    if (!ok) return;
    this.executions.inc();
    this.rows.inc(rows);
    this.batchSize.observe(rows);
    this.computeDuration.observe(computeSeconds);
  }

  /** A gauge or counter child with more labels than model/version (drift per feature): removed with the version. */
  inputDrift(input: string, feature: string): client.Gauge.Internal<string> {
    const labels = { ...this.labels, input, feature };
    this.extraLabelSets.push(labels);
    return this.m.inputDrift.labels(labels);
  }

  get predictionDrift(): client.Gauge.Internal<string> {
    return this.m.predictionDrift.labels(this.labels);
  }

  feedbackCorrect(): client.Counter.Internal {
    return this.m.feedback.labels({ ...this.labels, outcome: 'correct' });
  }

  feedbackIncorrect(): client.Counter.Internal {
    return this.m.feedback.labels({ ...this.labels, outcome: 'incorrect' });
  }

  get accuracy(): client.Gauge.Internal<string> {
    return this.m.accuracy.labels(this.labels);
  }

  get absoluteError(): client.Histogram.Internal<string> {
    return this.m.absoluteError.labels(this.labels);
  }

  /** Removes every child of this version from every metric (at unload). */
  remove(): void {
    const l = this.labels;
    this.m.forget(this);
    this.queueDepthSource = undefined;
    for (const outcome of ['success', 'error', 'rejected']) this.m.requests.remove({ ...l, outcome });
    for (const outcome of ['correct', 'incorrect']) this.m.feedback.remove({ ...l, outcome });
    for (const metric of [this.m.rows, this.m.executions, this.m.requestDuration, this.m.queueDuration, this.m.computeDuration, this.m.batchSize, this.m.queueDepth, this.m.ready, this.m.loadDuration, this.m.predictionDrift, this.m.accuracy, this.m.absoluteError, this.m.shadowRequests, this.m.shadowDisagreements, this.m.shadowDifference, this.m.trafficWeight]) {
      (metric as client.Gauge).remove(l);
    }
    for (const labels of this.extraLabelSets) this.m.inputDrift.remove(labels);
    this.extraLabelSets.length = 0;
  }
}

/** One counter series: inc() adds to it. `direct`: through prom-client's record (false: its label child). */
export interface CounterSeries {
  inc(value?: number): void;
  readonly direct: boolean;
}

/** One histogram series: observe() records a value. `direct`: through prom-client's record (false: its label child). */
export interface HistogramSeries {
  observe(value: number): void;
  readonly direct: boolean;
}

type Labels = Record<string, string>;
interface CounterRecord {
  labels: Labels;
  value: number;
}
interface HistogramRecord {
  labels: Labels;
  sum: number;
  count: number;
  bucketValues: Record<number, number>;
}

const sameLabels = (a: Labels, b: Labels): boolean => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
};

/**
 * The record prom-client (15.x) keeps for one series of `metric` (its `hashMap` values, which it updates in place),
 * or undefined when the metric is not built that way (another prom-client version): the callers then use the
 * public label-child API (the handle's `direct` is false). test/observability/metrics-fast-series.test.ts checks
 * both that the handles are direct with this lockfile and that what goes through them is what /metrics reports.
 */
function seriesRecord(metric: unknown, labels: Labels): unknown {
  const map = (metric as { hashMap?: unknown }).hashMap;
  if (typeof map !== 'object' || map === null) return undefined;
  for (const record of Object.values(map as Record<string, { labels?: Labels }>)) {
    if (record && typeof record.labels === 'object' && sameLabels(record.labels, labels)) return record;
  }
  return undefined;
}

const isCounterRecord = (r: unknown): r is CounterRecord => typeof (r as CounterRecord | undefined)?.value === 'number';
const isHistogramRecord = (r: unknown): r is HistogramRecord => {
  const h = r as HistogramRecord | undefined;
  return typeof h?.sum === 'number' && typeof h.count === 'number' && typeof h.bucketValues === 'object' && h.bucketValues !== null;
};

/** Creates the series (at 0) and returns a handle that updates its record without hashing labels per call. */
export function counterSeries(metric: client.Counter<string>, labels: Labels): CounterSeries {
  metric.inc(labels, 0);
  const record = seriesRecord(metric, labels);
  if (!isCounterRecord(record)) {
    const child = metric.labels(labels);
    return { inc: (v = 1) => child.inc(v), direct: false };
  }
  return {
    direct: true,
    inc: (v = 1) => {
      record.value += v;
    },
  };
}

/** Creates the series (all buckets 0) and returns a handle that records values as prom-client's observe() does. */
export function histogramSeries(metric: client.Histogram<string>, labels: Labels, buckets: readonly number[]): HistogramSeries {
  metric.zero(labels);
  const record = seriesRecord(metric, labels);
  if (!isHistogramRecord(record) || Object.keys(record.bucketValues).length !== buckets.length || !buckets.every((b) => b in record.bucketValues)) {
    const child = metric.labels(labels);
    return { observe: (v) => child.observe(v), direct: false };
  }
  const bounds = [...buckets];
  return {
    direct: true,
    observe: (v) => {
      if (!Number.isFinite(v)) return;
      record.sum += v;
      record.count += 1;
      for (let i = 0; i < bounds.length; i++) {
        if (v <= bounds[i]!) {
          record.bucketValues[bounds[i]!]! += 1;
          return;
        }
      }
    },
  };
}
