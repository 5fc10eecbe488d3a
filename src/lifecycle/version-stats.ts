// Per-version counters in the shape of the V2 statistics extension (Triton's field names). Updated once per
// request and once per batch on the main thread; read as a snapshot.
export interface Duration {
  count: number;
  ns: number;
}

export interface VersionStatsSnapshot {
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: { success: Duration; fail: Duration; queue: Duration; compute_infer: Duration };
  batch_stats: { batch_size: number; compute_infer: Duration }[];
}

const zero = (): Duration => ({ count: 0, ns: 0 });

export class VersionStats {
  private lastInferenceMs = 0;
  private inferenceCount = 0;
  private executionCount = 0;
  private readonly success = zero();
  private readonly fail = zero();
  private readonly queue = zero();
  private readonly computeInfer = zero();
  private readonly byBatchSize = new Map<number, Duration>();

  /** A request answered: its whole duration, time queued, and the compute time of the run that carried it. */
  requestSucceeded(durationNs: number, queueNs: number, computeNs: number): void {
    this.success.count++;
    this.success.ns += durationNs;
    this.queue.count++;
    this.queue.ns += queueNs;
    this.computeInfer.count++;
    this.computeInfer.ns += computeNs;
    this.lastInferenceMs = Date.now();
  }

  requestFailed(durationNs: number): void {
    this.fail.count++;
    this.fail.ns += durationNs;
  }

  /** One run of `rows` rows finished (successful runs only count as inferences). */
  batchExecuted(rows: number, computeNs: number, ok: boolean): void {
    if (!ok) return;
    this.executionCount++;
    this.inferenceCount += rows;
    let d = this.byBatchSize.get(rows);
    if (!d) {
      d = zero();
      this.byBatchSize.set(rows, d);
    }
    d.count++;
    d.ns += computeNs;
  }

  snapshot(): VersionStatsSnapshot {
    return {
      last_inference: this.lastInferenceMs,
      inference_count: this.inferenceCount,
      execution_count: this.executionCount,
      inference_stats: { success: { ...this.success }, fail: { ...this.fail }, queue: { ...this.queue }, compute_infer: { ...this.computeInfer } },
      batch_stats: [...this.byBatchSize.entries()].sort((a, b) => a[0] - b[0]).map(([batch_size, d]) => ({ batch_size, compute_infer: { ...d } })),
    };
  }
}
