// Input and prediction drift of one model version: the request path copies feature values and predictions into
// fixed-size rings; recompute() (an unref'd timer, every intervalMs when rows arrived) bins them against the
// reference (baseline.json, else the first referenceRows rows served) and sets a PSI gauge per feature.
// Invariant: nothing on the request path bins, sorts or allocates per row; gauges are resolved once per feature.
import { type Baseline, parseBaseline } from './baseline.js';
import type { ColumnSnapshot } from './drift-columns.js';
import { InputFeatures } from './input-features.js';
import { PredictionFeatures, type Task } from './prediction-features.js';
import type { DriftReport, FeatureDrift, PredictionDrift } from '../report-types.js';
import type { DriftTensor, DriftTensorSpec, GaugeLike } from './types.js';

export type { Baseline } from './baseline.js';
export type { DriftTensor, DriftTensorSpec, GaugeLike } from './types.js';
export type { DriftReport, FeatureDrift, PredictionDrift } from '../report-types.js';

export interface DriftMonitorOptions {
  /** The model's inputs. */
  inputs: DriftTensorSpec[];
  /** The model's first output (predictions). */
  output: DriftTensorSpec | undefined;
  /** From config.json; undefined -> inferred from the output (float [batch, K > 1] classifier, [batch] or [batch, 1] regression). */
  task: Task | undefined;
  /** config.json feature_names: input name -> column names. */
  featureNames?: Record<string, string[]>;
  /** Class labels of the first output (config.json labels[output]), for the report; index strings otherwise. */
  classLabels?: string[];
  /** The parsed baseline.json of the version, if any. */
  baseline?: Baseline;
  maxFeatures: number;
  referenceRows: number;
  windowRows: number;
  intervalMs: number;
  /** Called once per feature when the monitor knows its features; the gauge reads NaN until the PSI is known. */
  inputGauge(input: string, feature: string): GaugeLike;
  predictionGauge: GaugeLike;
  /** Where an error thrown by the timer's recompute() goes (default: process.emitWarning); it never throws. */
  onError?(err: unknown): void;
}

export class DriftMonitor {
  private readonly opts: DriftMonitorOptions;
  private readonly inputs: InputFeatures[];
  private readonly prediction: PredictionFeatures | undefined;
  private readonly timer: NodeJS.Timeout;
  /** Rows (inputs and outputs) observed, and that count at the last recompute(): recompute only when they differ. */
  private observed = 0;
  private computedAt = 0;
  private closed = false;

  constructor(opts: DriftMonitorOptions) {
    this.opts = opts;
    this.inputs = opts.inputs.flatMap((spec) => InputFeatures.of({
      spec,
      featureNames: opts.featureNames?.[spec.name],
      baseline: opts.baseline?.features[spec.name] ? { features: opts.baseline.features[spec.name]!, rows: opts.baseline.rows } : undefined,
      maxFeatures: opts.maxFeatures,
      windowRows: opts.windowRows,
      referenceRows: opts.referenceRows,
      gauge: (feature) => opts.inputGauge(spec.name, feature),
    }) ?? []);
    this.prediction = PredictionFeatures.of({
      output: opts.output,
      task: opts.task,
      baseline: opts.baseline,
      windowRows: opts.windowRows,
      referenceRows: opts.referenceRows,
      gauge: opts.predictionGauge,
    });
    if (!this.prediction) opts.predictionGauge.set(NaN);
    this.timer = setInterval(() => this.tick(), opts.intervalMs);
    this.timer.unref();
  }

  /** Validates a parsed baseline.json; throws an Error whose message lists every problem ("path: message"). */
  static parseBaseline(json: unknown): Baseline {
    return parseBaseline(json);
  }

  /** The task as configured, or as inferred from the first output (undefined when there is nothing to infer from). */
  get task(): Task | undefined {
    return this.prediction?.task ?? this.opts.task;
  }

  /** Hot path, once per request before batching: copies the request's feature values into the windows. */
  observeInputs(inputs: DriftTensor[], rows: number): void {
    if (this.closed || rows <= 0) return;
    for (const features of this.inputs) {
      const t = findTensor(inputs, features.name);
      if (t) features.observe(t, rows);
    }
    this.observed += rows;
  }

  /** Once per request with that request's rows of the outputs: copies its predicted classes or values. */
  observeOutputs(outputs: DriftTensor[], rows: number): void {
    if (this.closed || rows <= 0 || !this.prediction) return;
    const t = findTensor(outputs, this.opts.output!.name);
    if (t) this.prediction.observe(t, rows);
    this.observed += rows;
  }

  /** Builds references that became complete, computes every PSI now and sets the gauges. */
  recompute(): void {
    this.computedAt = this.observed;
    for (const features of this.inputs) features.drift?.recompute();
    this.prediction?.drift?.recompute();
  }

  /** Reference and current proportions and PSI per feature and for the predictions, recomputed first if rows arrived. */
  report(): DriftReport {
    if (this.observed !== this.computedAt) this.recompute();
    const features = this.inputs.flatMap((f) => (f.drift?.snapshot() ?? []).map((s) => featureDrift(f.name, s)));
    features.sort(byPsiDescending);
    const groups = [...this.inputs.map((f) => f.drift), ...(this.prediction ? [this.prediction.drift] : [])];
    return {
      reference: this.opts.baseline ? 'baseline' : 'first_rows',
      reference_complete: groups.every((g) => g?.complete === true),
      features,
      prediction: this.predictionDrift(),
    };
  }

  /** Stops the timer; later observations are ignored. */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  private tick(): void {
    if (this.observed === this.computedAt) return;
    try {
      this.recompute();
    } catch (err) {
      (this.opts.onError ?? ((e: unknown) => process.emitWarning(e as Error)))(err);
    }
  }

  private predictionDrift(): PredictionDrift | null {
    const p = this.prediction;
    const s = p?.drift?.snapshot()[0];
    if (!p || !s) return null;
    const common = { psi: s.psi, reference: s.reference, current: s.current, reference_rows: s.reference_rows, current_rows: s.current_rows };
    if (p.kind === 'values') return { kind: 'values', edges: s.edges, ...common };
    if (s.reference.length === 0) return { kind: 'classes', ...common };
    return { kind: 'classes', labels: classLabels(s.reference.length, this.opts.classLabels), ...common };
  }
}

function findTensor(tensors: DriftTensor[], name: string): DriftTensor | undefined {
  for (const t of tensors) if (t.name === name) return t;
  return undefined;
}

function featureDrift(input: string, s: ColumnSnapshot): FeatureDrift {
  const { label, source, ...binned } = s;
  return { input, feature: label, ...binned, reference_source: source };
}

/** PSI descending, nulls last; ties keep input and column order (Array.prototype.sort is stable). */
function byPsiDescending(a: FeatureDrift, b: FeatureDrift): number {
  if (a.psi === null || b.psi === null) return (a.psi === null ? 1 : 0) - (b.psi === null ? 1 : 0);
  return b.psi - a.psi;
}

/** The configured class labels when there is one per class, else "0", "1", ... */
function classLabels(k: number, configured: string[] | undefined): string[] {
  return configured?.length === k ? configured : Array.from({ length: k }, (_, i) => String(i));
}
