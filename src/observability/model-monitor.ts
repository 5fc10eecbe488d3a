// Watches one version's data, not only its traffic: input and prediction drift (DriftMonitor) and ground-truth
// feedback (accuracy for classifiers, absolute error for regression). The request path only copies rows; PSI is
// computed off the hot path by the drift monitor's timer.
import { type Baseline, DriftMonitor, type DriftReport, type DriftTensor, type DriftTensorSpec } from './drift/drift-monitor.js';
import { AccuracyWindow, type FeedbackTarget } from './feedback.js';
import type { VersionMetrics } from './metrics.js';
import { argmax } from './argmax.js';

export type Task = 'classification' | 'regression';

export interface ModelMonitorOptions {
  inputs: DriftTensorSpec[];
  outputs: DriftTensorSpec[];
  task: Task | undefined;
  labels: Record<string, string[]> | undefined;
  featureNames: Record<string, string[]> | undefined;
  baseline: Baseline | undefined;
  drift: { enabled: boolean; maxFeatures: number; referenceRows: number; windowRows: number; intervalMs: number };
  feedbackWindow: number;
  metrics: VersionMetrics | undefined;
}

/** classification for a float [batch, K>1] first output, regression for [batch] or [batch, 1]. */
export function inferTask(output: DriftTensorSpec | undefined): Task | undefined {
  if (!output || output.kind !== 'float' || output.shape.length === 0) return undefined;
  if (output.shape.length === 1) return 'regression';
  if (output.shape.length === 2) return output.shape[1] === 1 ? 'regression' : 'classification';
  return undefined;
}

/**
 * A gauge whose series appears with its first real value: a PSI that is not known yet is absent from /metrics,
 * rather than NaN (prom-client prints "Nan", which strict parsers reject) or 0 (which would read "stable").
 */
function lazyGauge(create: (() => { set(v: number): void }) | undefined): { set(v: number): void } {
  let child: { set(v: number): void } | undefined;
  return {
    set(v: number) {
      if (!create || (child === undefined && !Number.isFinite(v))) return;
      child ??= create();
      child.set(v);
    },
  };
}

export class ModelMonitor implements FeedbackTarget {
  readonly task: Task | undefined;
  readonly classLabels: readonly string[] | undefined;
  readonly classCount: number | undefined;
  private readonly output: DriftTensorSpec | undefined;
  private drift: DriftMonitor | undefined;
  private readonly accuracy: AccuracyWindow;
  private readonly metrics: VersionMetrics | undefined;

  constructor(o: ModelMonitorOptions) {
    this.output = o.outputs[0];
    this.task = o.task ?? inferTask(this.output);
    this.classLabels = this.output ? o.labels?.[this.output.name] : undefined;
    const width = this.output?.shape.length === 2 ? this.output.shape[1]! : -1;
    this.classCount = this.task === 'classification' ? (width > 0 ? width : this.classLabels?.length) : undefined;
    this.accuracy = new AccuracyWindow(o.feedbackWindow);
    this.metrics = o.metrics;
    const metrics = o.metrics;
    if (o.drift.enabled) {
      this.drift = new DriftMonitor({
        inputs: o.inputs,
        output: this.output,
        task: this.task,
        featureNames: o.featureNames,
        classLabels: this.classLabels ? [...this.classLabels] : undefined,
        baseline: o.baseline,
        maxFeatures: o.drift.maxFeatures,
        referenceRows: o.drift.referenceRows,
        windowRows: o.drift.windowRows,
        intervalMs: o.drift.intervalMs,
        inputGauge: (input, feature) => lazyGauge(metrics ? () => metrics.inputDrift(input, feature) : undefined),
        predictionGauge: lazyGauge(metrics ? () => metrics.predictionDrift : undefined),
      });
    }
  }

  observeInputs(inputs: DriftTensor[], rows: number): void {
    this.drift?.observeInputs(inputs, rows);
  }

  /** Records the request's outputs for drift; returns the predicted class or value per row (for feedback). */
  observeOutputs(outputs: DriftTensor[], rows: number): Float64Array | undefined {
    this.drift?.observeOutputs(outputs, rows);
    if (!this.task || !this.output) return undefined;
    const out = outputs.find((o) => o.name === this.output!.name);
    if (!out) return undefined;
    const data = out.data as ArrayLike<number>;
    const predictions = new Float64Array(rows);
    const width = rows === 0 ? 0 : data.length / rows;
    for (let r = 0; r < rows; r++) {
      if (this.task === 'regression') {
        predictions[r] = Number(data[r * width]);
        continue;
      }
      if (width === 1) {
        // A single probability column: class 1 at 0.5 or above (as the drift monitor reads it).
        predictions[r] = Number(data[r]) >= 0.5 ? 1 : 0;
        continue;
      }
      predictions[r] = argmax(data, r * width, width);
    }
    return predictions;
  }

  recordFeedback(predictions: Float64Array, truths: Float64Array): void {
    const m = this.metrics;
    if (this.task === 'classification') {
      const correct = m?.feedbackCorrect();
      const incorrect = m?.feedbackIncorrect();
      for (let i = 0; i < truths.length; i++) {
        const ok = predictions[i] === truths[i];
        this.accuracy.add(ok);
        (ok ? correct : incorrect)?.inc();
      }
      m?.accuracy.set(this.accuracy.accuracy);
    } else if (this.task === 'regression') {
      const hist = m?.absoluteError;
      for (let i = 0; i < truths.length; i++) hist?.observe(Math.abs(predictions[i]! - truths[i]!));
    }
  }

  /** Accuracy over the feedback window (NaN before any classifier feedback). */
  get currentAccuracy(): { accuracy: number; rows: number } {
    return { accuracy: this.accuracy.accuracy, rows: this.accuracy.rows };
  }

  driftReport(): DriftReport | undefined {
    return this.drift?.report();
  }

  close(): void {
    this.drift?.close();
    this.drift = undefined;
  }
}
