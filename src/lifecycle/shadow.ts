// Shadow traffic: a primary request's inputs run again on the shadow version after the primary has answered. Its
// output is never returned and it never delays or fails the primary: it is skipped when the shadow's queue is
// busy, and its errors are only counted. Disagreement: a different argmax for classifiers, else an absolute
// difference above the tolerance.
import { argmax } from '../observability/argmax.js';
import type { Metrics } from '../observability/metrics.js';
import type { BatchResult, BatchTensor, RequestInput } from '../scheduler/dynamic-batcher.js';
import type { ModelVersion } from './model-version.js';

/** Shadow copies are dropped while the shadow already has this many requests waiting. */
const MAX_SHADOW_QUEUE = 32;

export interface ShadowComparison {
  disagree: boolean;
  maxAbsDifference: number;
}

/** Compares the first output of both answers row by row. */
export function compareOutputs(primary: BatchTensor[], shadow: BatchTensor[], rows: number, classifier: boolean, tolerance: number): ShadowComparison {
  const a = primary[0];
  const b = shadow.find((o) => o.name === a?.name) ?? shadow[0];
  if (!a || !b || a.data.length !== b.data.length || Array.isArray(a.data)) return { disagree: true, maxAbsDifference: Infinity };
  const x = a.data as ArrayLike<number>;
  const y = b.data as ArrayLike<number>;
  let maxAbs = 0;
  for (let i = 0; i < x.length; i++) maxAbs = Math.max(maxAbs, Math.abs(Number(x[i]) - Number(y[i])));
  if (!classifier || rows === 0) return { disagree: maxAbs > tolerance, maxAbsDifference: maxAbs };
  const width = x.length / rows;
  for (let r = 0; r < rows; r++) if (argmax(x, r * width, width) !== argmax(y, r * width, width)) return { disagree: true, maxAbsDifference: maxAbs };
  return { disagree: false, maxAbsDifference: maxAbs };
}

/**
 * Fire and forget: runs the copy on the shadow and records the comparison. The shadow may have left `ready`
 * since the request was routed (the table changed and it was unloaded): then no copy is sent, and a copy that
 * finishes after the unload records nothing, since recording would create its label children again.
 */
export function mirrorToShadow(shadow: ModelVersion, inputs: RequestInput[], rows: number, primary: BatchResult, classifier: boolean, tolerance: number, metrics: Metrics | undefined): void {
  if (shadow.state !== 'ready' || shadow.queueDepth >= MAX_SHADOW_QUEUE) return;
  const labels = { model: shadow.model, version: shadow.label };
  const running = shadow.infer(inputs, rows);
  metrics?.shadowRequests.labels(labels).inc();
  metrics?.shadowDisagreements.labels(labels).inc(0);
  // ModelVersion.drain() removes the children and drops `metrics` once the version is unloaded.
  const loaded = () => shadow.metrics !== undefined;
  running.then(
    (result) => {
      if (!loaded()) return;
      const c = compareOutputs(primary.outputs, result.outputs, rows, classifier, tolerance);
      if (c.disagree) metrics?.shadowDisagreements.labels(labels).inc();
      if (Number.isFinite(c.maxAbsDifference)) metrics?.shadowDifference.labels(labels).observe(c.maxAbsDifference);
    },
    () => {
      if (loaded()) metrics?.shadowDisagreements.labels(labels).inc();
    },
  );
}
