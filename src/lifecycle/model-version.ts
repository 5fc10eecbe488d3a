// One version of one model: its state (loading -> ready -> draining -> unloaded, or failed with a reason),
// file checksum and load time, signature, and the dynamic batcher that feeds its sessions.
// Invariant: only a `ready` version accepts requests; its sessions are released only after its batcher is idle.
import type { ModelConfig } from '../config/model-config.js';
import { ERR_DEADLINE_EXCEEDED, ERR_INFERENCE_FAILED, ERR_MODEL_NOT_READY, ERR_QUEUE_FULL } from '../errors.js';
import { RunError, type WorkerPool } from '../runtime/worker-pool.js';
import { type BatchEvents, type BatchResult, DynamicBatcher, type RequestInput, RunNotStartedError } from '../scheduler/dynamic-batcher.js';
import type { FeedbackStore } from '../observability/feedback.js';
import type { VersionMetrics } from '../observability/metrics.js';
import type { ModelMonitor } from '../observability/model-monitor.js';
import type { ModelSignature } from './signature.js';
import { VersionStats } from './version-stats.js';

/**
 * onnxruntime's message without its internals (C++ source paths and signatures), one line: the client learns
 * what failed ("GatherElements op: Out of range value in index tensor"), not how the runtime is built.
 */
export function runtimeReason(message: string): string {
  return message
    .replace(/\/[^\s]*\.(?:cc|cpp|h|hpp):\d+\s+[^\n]*?\)\s+/g, '')
    .replace(/\[with [^\]]*\]\s*/g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 500);
}

/** Default runs in flight per worker thread (config.json `instance_count` overrides the total). */
export const RUNS_PER_WORKER = 2;

export type VersionState = 'loading' | 'ready' | 'failed' | 'draining' | 'unloaded';

export interface BatchingDefaults {
  maxBatchSize: number;
  maxQueueDelayMs: number;
  maxQueueSize: number;
}

export class ModelVersion {
  readonly model: string;
  readonly version: number;
  /** The version as every JSON body spells it: a string. */
  readonly label: string;
  state: VersionState = 'loading';
  reason: string | undefined;
  sha256: string | undefined;
  loadedAt: Date | undefined;
  signature: ModelSignature | undefined;
  /** The worker pool's key for this version's sessions (unique per load). */
  readonly sessionKey: string;
  readonly stats = new VersionStats();
  /** Prometheus label children, resolved at load and removed at unload. */
  metrics: VersionMetrics | undefined;
  /** Drift and feedback for this version (set when it becomes ready). */
  monitor: ModelMonitor | undefined;
  feedback: FeedbackStore | undefined;
  private batcher: DynamicBatcher | undefined;

  constructor(model: string, version: number, sessionKey: string) {
    this.model = model;
    this.version = version;
    this.label = String(version);
    this.sessionKey = sessionKey;
  }

  /** Marks the version ready and starts its batcher. */
  activate(pool: WorkerPool, signature: ModelSignature, config: ModelConfig, defaults: BatchingDefaults, events?: BatchEvents): void {
    const { model, label, sessionKey } = this;
    const outputNames = signature.outputs.map((o) => o.name);
    this.signature = signature;
    this.batcher = new DynamicBatcher(
      (feeds) =>
        pool.run(sessionKey, feeds, outputNames).catch((err: Error) => {
          if (err instanceof RunError && !err.started) throw new RunNotStartedError(err.message);
          throw new ERR_INFERENCE_FAILED(model, label, runtimeReason(err.message));
        }),
      {
        batched: signature.batched,
        maxBatchSize: config.max_batch_size ?? defaults.maxBatchSize,
        maxQueueDelayMs: config.max_queue_delay_ms ?? defaults.maxQueueDelayMs,
        preferredBatchSizes: config.preferred_batch_sizes,
        maxQueueSize: config.max_queue_size ?? defaults.maxQueueSize,
        // Two runs per worker thread by default: one computing, the next already in the worker's message queue,
        // so a worker does not sit idle while the main thread (busy with HTTP) turns the last result around.
        maxInFlight: config.instance_count ?? pool.size * RUNS_PER_WORKER,
        queueFull: (waiting) => new ERR_QUEUE_FULL(model, label, waiting),
        deadlineExceeded: (waitedMs) => new ERR_DEADLINE_EXCEEDED(waitedMs),
        events: {
          onBatch: (b) => {
            this.stats.batchExecuted(b.rows, b.computeNs, b.ok);
            this.metrics?.batchDone(b.rows, b.computeNs / 1e9, b.ok);
            events?.onBatch?.(b);
          },
          ...(events?.onQueueDepth ? { onQueueDepth: events.onQueueDepth } : {}),
        },
      },
    );
    if (this.metrics) this.metrics.queueDepthSource = () => this.queueDepth;
    this.state = 'ready';
    this.metrics?.ready.set(1);
  }

  fail(reason: string): void {
    this.state = 'failed';
    this.reason = reason;
    this.metrics?.ready.set(0);
  }

  get queueDepth(): number {
    return this.batcher?.queueDepth ?? 0;
  }

  /** Queues one request's tensors; rejects with a coded error (503 not ready / queue full, 504, 500). */
  /**
   * Queues one request's tensors. With `responseId`, the predictions are remembered for ground-truth feedback.
   * Rejects with a coded error (503 not ready / queue full, 504, 500).
   */
  async infer(inputs: RequestInput[], rows: number, timeoutMs?: number, responseId?: string): Promise<BatchResult> {
    if (this.state !== 'ready' || !this.batcher) throw new ERR_MODEL_NOT_READY(this.model, this.label, this.state);
    const started = performance.now();
    this.monitor?.observeInputs(inputs, rows);
    try {
      const result = await this.batcher.submit(inputs, rows, timeoutMs);
      if (this.monitor) {
        const predictions = this.monitor.observeOutputs(result.outputs, rows);
        if (predictions && responseId !== undefined && this.feedback) this.feedback.remember(responseId, { model: this.model, target: this.monitor, predictions });
      }
      this.stats.requestSucceeded(Math.round((performance.now() - started) * 1e6), result.queueNs, result.computeNs);
      this.metrics?.queueDuration.observe(result.queueNs / 1e9);
      return result;
    } catch (err) {
      this.stats.requestFailed(Math.round((performance.now() - started) * 1e6));
      throw err;
    }
  }

  /** Stops taking requests, lets queued and running ones finish, then releases the sessions. */
  async drain(pool: WorkerPool): Promise<void> {
    if (this.state === 'ready') this.state = 'draining';
    this.metrics?.ready.set(0);
    if (this.batcher) await this.batcher.whenIdle();
    pool.unload(this.sessionKey);
    this.state = 'unloaded';
    this.monitor?.close();
    // Unloaded versions stay listed; their drift rings must not (remembered feedback keeps the monitor alive).
    this.monitor = undefined;
    this.metrics?.remove();
    this.metrics = undefined;
  }
}
