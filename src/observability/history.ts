// Recent history of every served version for the operator console: an unref'd timer snapshots each ready or
// draining version's cumulative counters (requests, errors, rows, batch sizes, latency histogram, shadow
// comparisons) and its queue depth into a ring of the last `retainMs`, so charts have data when a page opens.
// Invariant: nothing here runs on the request path; it only reads counters that the request path already keeps
// (VersionStats, the Prometheus children) on its own timer or when an admin endpoint asks.
import type { Metrics } from './metrics.js';
import type { SeriesPoints, WindowSummary } from './report-types.js';

export type { SeriesPoints, WindowSummary } from './report-types.js';

/** What the sampler reads of a version (ModelVersion has this shape; observability does not import lifecycle). */
export interface SampledVersion {
  readonly model: string;
  readonly label: string;
  /** Unique per load: a version loaded again starts a new series (its counters start again from zero). */
  readonly sessionKey: string;
  readonly state: string;
  readonly loadedAt: Date | undefined;
  readonly queueDepth: number;
  readonly stats: { snapshot(): StatsSnapshot };
}

/** The part of the V2 statistics snapshot (lifecycle/version-stats.ts) that the sampler reads. */
export interface StatsSnapshot {
  inference_count: number;
  execution_count: number;
  inference_stats: { success: { count: number; ns: number }; fail: { count: number; ns: number } };
  batch_stats: { batch_size: number; compute_infer: { count: number } }[];
}

/** Cumulative counters of one version at time `t` (ms since the epoch), plus its queue depth then. */
export interface Sample {
  t: number;
  requests: number;
  errors: number;
  rows: number;
  executions: number;
  successCount: number;
  successNs: number;
  /** Cumulative request-duration histogram: counts per upper bound (seconds, the last is +Inf); null without metrics. */
  latency: { bounds: number[]; counts: number[] } | null;
  /** Runs per batch size (rows), cumulative. */
  batches: Map<number, number>;
  shadowRequests: number;
  shadowDisagreements: number;
  queueDepth: number;
}

export interface HistoryOptions {
  /** Every version known (the sampler keeps those that are ready or draining). */
  versions(): Iterable<SampledVersion>;
  /** The Prometheus registry's metrics, for latency percentiles and shadow comparisons; without it those read null/0. */
  metrics?: Metrics;
  intervalMs?: number;
  retainMs?: number;
  /** Told when a sample fails (the sampler keeps going; a failed tick leaves a gap). */
  onError?: (err: unknown) => void;
}

/**
 * A fixed-capacity ring of samples. `start` is the index of the oldest, `size` how many are held (0 = empty);
 * pushing into a full ring overwrites the oldest and counts it in `dropped`.
 */
class SampleRing {
  private readonly items: (Sample | undefined)[];
  private start = 0;
  size = 0;
  dropped = 0;
  constructor(readonly capacity: number) {
    this.items = new Array<Sample | undefined>(capacity);
  }
  push(s: Sample): void {
    if (this.size < this.capacity) {
      this.items[(this.start + this.size) % this.capacity] = s;
      this.size++;
      return;
    }
    this.items[this.start] = s;
    this.start = (this.start + 1) % this.capacity;
    this.dropped++;
  }
  toArray(): Sample[] {
    const out: Sample[] = [];
    for (let i = 0; i < this.size; i++) out.push(this.items[(this.start + i) % this.capacity]!);
    return out;
  }
}

interface Series {
  version: SampledVersion;
  ring: SampleRing;
}

const LIVE_STATES = new Set(['ready', 'draining']);
const key = (model: string, version: string) => `${model}\u0000${version}`;

function zeroSample(t: number): Sample {
  return { t, requests: 0, errors: 0, rows: 0, executions: 0, successCount: 0, successNs: 0, latency: null, batches: new Map(), shadowRequests: 0, shadowDisagreements: 0, queueDepth: 0 };
}

/** Prometheus' histogram_quantile over one histogram's cumulative counts (linear within a bucket), in ms. */
export function quantileMs(bounds: number[], cumulative: number[], q: number): number | null {
  const total = cumulative[cumulative.length - 1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (cumulative[i]! < rank) continue;
    const upper = bounds[i]!;
    // The +Inf bucket: the best that can be said is "above the largest finite bound".
    if (!Number.isFinite(upper)) return (bounds[i - 1] ?? 0) * 1000;
    const lower = i === 0 ? 0 : bounds[i - 1]!;
    const below = i === 0 ? 0 : cumulative[i - 1]!;
    const inBucket = cumulative[i]! - below;
    return (lower + (upper - lower) * (inBucket > 0 ? (rank - below) / inBucket : 1)) * 1000;
  }
  return (bounds[bounds.length - 2] ?? 0) * 1000;
}

function latencyDelta(a: Sample, b: Sample): { bounds: number[]; counts: number[] } | null {
  if (!b.latency) return null;
  const base = a.latency && a.latency.counts.length === b.latency.counts.length ? a.latency.counts : undefined;
  return { bounds: b.latency.bounds, counts: b.latency.counts.map((c, i) => Math.max(0, c - (base?.[i] ?? 0))) };
}

/** What happened between samples `a` and `b` of the same series. */
function between(a: Sample, b: Sample) {
  const seconds = Math.max((b.t - a.t) / 1000, 1e-9);
  const requests = Math.max(0, b.requests - a.requests);
  const errors = Math.max(0, b.errors - a.errors);
  const successCount = b.successCount - a.successCount;
  const latency = latencyDelta(a, b);
  return {
    seconds,
    requests,
    errors,
    rows: Math.max(0, b.rows - a.rows),
    errorRate: requests > 0 ? errors / requests : null,
    p50: latency ? quantileMs(latency.bounds, latency.counts, 0.5) : null,
    p99: latency ? quantileMs(latency.bounds, latency.counts, 0.99) : null,
    mean: successCount > 0 ? (b.successNs - a.successNs) / successCount / 1e6 : null,
  };
}

export class History {
  readonly intervalMs: number;
  readonly retainMs: number;
  private readonly opts: HistoryOptions;
  private readonly series = new Map<string, Series>();
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;

  constructor(opts: HistoryOptions) {
    this.opts = opts;
    this.intervalMs = opts.intervalMs ?? 5000;
    this.retainMs = opts.retainMs ?? 15 * 60 * 1000;
    if (!(this.intervalMs > 0) || !(this.retainMs >= this.intervalMs)) throw new Error('history: intervalMs must be > 0 and retainMs >= intervalMs');
  }

  get capacity(): number {
    return Math.ceil(this.retainMs / this.intervalMs);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      // One sample at a time: a slow metrics read skips a tick rather than piling up.
      // A failed sample must not become an unhandled rejection (which would end the process): report it, go on.
      if (!this.sampling) this.sampling = this.sample().catch((err: unknown) => this.opts.onError?.(err)).finally(() => (this.sampling = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.sampling;
  }

  /** Takes one sample of every ready or draining version; forgets series of versions that are no longer either. */
  async sample(now = Date.now()): Promise<void> {
    const live = this.liveVersions();
    const samples = await this.read(live, now);
    const seen = new Set<string>();
    for (const v of live) {
      const k = key(v.model, v.label);
      seen.add(k);
      let s = this.series.get(k);
      if (!s || s.version.sessionKey !== v.sessionKey) {
        s = { version: v, ring: new SampleRing(this.capacity) };
        this.series.set(k, s);
      }
      s.ring.push(samples.get(v)!);
    }
    for (const k of this.series.keys()) if (!seen.has(k)) this.series.delete(k);
  }

  /** The stored samples of a version's current load, oldest first (a zero sample at its load time leads while none was dropped). */
  samples(model: string, version: string): Sample[] {
    const s = this.series.get(key(model, version));
    if (!s) return [];
    const out = s.ring.toArray();
    const loadedAt = s.version.loadedAt?.getTime();
    if (s.ring.dropped === 0 && loadedAt !== undefined && out.length > 0 && loadedAt < out[0]!.t) out.unshift(zeroSample(loadedAt));
    return out;
  }

  /** Per-interval rates for charts. */
  points(model: string, version: string): SeriesPoints {
    const samples = this.samples(model, version);
    const p: SeriesPoints = { t: [], requests_per_second: [], rows_per_second: [], error_rate: [], p50_ms: [], p99_ms: [], mean_ms: [], queue_depth: [] };
    for (let i = 1; i < samples.length; i++) {
      const a = samples[i - 1]!;
      const b = samples[i]!;
      const d = between(a, b);
      p.t.push(b.t);
      p.requests_per_second.push(d.requests / d.seconds);
      p.rows_per_second.push(d.rows / d.seconds);
      p.error_rate.push(d.errorRate);
      p.p50_ms.push(d.p50);
      p.p99_ms.push(d.p99);
      p.mean_ms.push(d.mean);
      p.queue_depth.push(b.queueDepth);
    }
    return p;
  }

  /**
   * Each version's counters over the last `windowMs`, read live now: from the first sample inside the window (or
   * from zero at the version's load time, when it loaded inside the window) to this moment.
   */
  async summaries(versions: Iterable<SampledVersion>, windowMs: number, now = Date.now()): Promise<Map<SampledVersion, WindowSummary>> {
    const list = [...versions].filter((v) => LIVE_STATES.has(v.state));
    const current = await this.read(list, now);
    const out = new Map<SampledVersion, WindowSummary>();
    for (const v of list) {
      const cur = current.get(v)!;
      const from = now - windowMs;
      const loadedAt = v.loadedAt?.getTime();
      const s = this.series.get(key(v.model, v.label));
      const stored = s && s.version.sessionKey === v.sessionKey ? s.ring.toArray() : [];
      const base = loadedAt !== undefined && loadedAt >= from ? zeroSample(loadedAt) : (stored.find((x) => x.t >= from) ?? zeroSample(loadedAt ?? now));
      const d = between(base, cur);
      const batches = [...cur.batches.entries()]
        .map(([size, n]) => ({ batch_size: size, executions: n - (base.batches.get(size) ?? 0) }))
        .filter((b) => b.executions > 0)
        .sort((a, b) => a.batch_size - b.batch_size);
      out.set(v, {
        window_seconds: Math.round(d.seconds * 1000) / 1000,
        requests: d.requests,
        errors: d.errors,
        error_rate: d.errorRate,
        requests_per_second: d.requests / d.seconds,
        rows_per_second: d.rows / d.seconds,
        p50_ms: d.p50,
        p99_ms: d.p99,
        mean_ms: d.mean,
        queue_depth: cur.queueDepth,
        requests_total: cur.requests,
        rows_total: cur.rows,
        batch_sizes: batches,
        shadow: {
          requests: cur.shadowRequests,
          disagreements: cur.shadowDisagreements,
          agreement_rate: cur.shadowRequests > 0 ? 1 - cur.shadowDisagreements / cur.shadowRequests : null,
        },
      });
    }
    return out;
  }

  private liveVersions(): SampledVersion[] {
    return [...this.opts.versions()].filter((v) => LIVE_STATES.has(v.state));
  }

  /** Current counters of `versions`; the Prometheus metrics are read once for all of them. */
  private async read(versions: SampledVersion[], now: number): Promise<Map<SampledVersion, Sample>> {
    const m = this.opts.metrics;
    const [latency, shadowRequests, shadowDisagreements] = m
      ? await Promise.all([histograms(m.requestDuration), counters(m.shadowRequests), counters(m.shadowDisagreements)])
      : [new Map<string, { bounds: number[]; counts: number[] }>(), new Map<string, number>(), new Map<string, number>()];
    const out = new Map<SampledVersion, Sample>();
    for (const v of versions) {
      const snap = v.stats.snapshot();
      const k = key(v.model, v.label);
      const ok = snap.inference_stats.success;
      const fail = snap.inference_stats.fail;
      out.set(v, {
        t: now,
        requests: ok.count + fail.count,
        errors: fail.count,
        rows: snap.inference_count,
        executions: snap.execution_count,
        successCount: ok.count,
        successNs: ok.ns,
        latency: latency.get(k) ?? null,
        batches: new Map(snap.batch_stats.map((b) => [b.batch_size, b.compute_infer.count])),
        shadowRequests: shadowRequests.get(k) ?? 0,
        shadowDisagreements: shadowDisagreements.get(k) ?? 0,
        queueDepth: v.queueDepth,
      });
    }
    return out;
  }
}

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** A model/version-labelled counter's values by version key. */
async function counters(metric: { get(): Promise<{ values: MetricValue[] }> }): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const v of (await metric.get()).values) out.set(key(String(v.labels.model), String(v.labels.version)), v.value);
  return out;
}

/** A model/version-labelled histogram's cumulative bucket counts by version key (bounds ascending, +Inf last). */
async function histograms(metric: { get(): Promise<{ values: MetricValue[] }> }): Promise<Map<string, { bounds: number[]; counts: number[] }>> {
  const out = new Map<string, { bounds: number[]; counts: number[] }>();
  for (const v of (await metric.get()).values) {
    if (!v.metricName?.endsWith('_bucket')) continue;
    const k = key(String(v.labels.model), String(v.labels.version));
    let h = out.get(k);
    if (!h) out.set(k, (h = { bounds: [], counts: [] }));
    const le = v.labels.le;
    h.bounds.push(le === '+Inf' ? Infinity : Number(le));
    h.counts.push(v.value);
  }
  return out;
}
