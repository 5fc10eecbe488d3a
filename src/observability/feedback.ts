// Ground truth: the server remembers recent predictions by response id in bounded memory (oldest dropped), and
// feedback rows update per-version accuracy (classifiers) or absolute error (regression).
// Invariant: at most maxPending ids are remembered: those of the last maxPending remember() calls (BoundedMap).
import { BoundedMap } from '../bounded-map.js';

export interface PendingPrediction {
  /** Who answered: feedback for another model's id is unknown. */
  model: string;
  target: FeedbackTarget;
  /** Predicted class index (classification) or value (regression) per row. */
  predictions: Float64Array;
}

/** Where feedback for a version goes (its ModelMonitor). */
export interface FeedbackTarget {
  readonly task: 'classification' | 'regression' | undefined;
  /** Class labels of the predicted output, for labels given as strings. */
  readonly classLabels: readonly string[] | undefined;
  /** Classes the predicted output has (its last dimension), when fixed: a class index must be below it. */
  readonly classCount: number | undefined;
  recordFeedback(predictions: Float64Array, truths: Float64Array): void;
}

export class FeedbackStore {
  private readonly pending: BoundedMap<string, PendingPrediction>;

  constructor(maxPending: number) {
    this.pending = new BoundedMap(maxPending);
  }

  get size(): number {
    return this.pending.size;
  }

  /** Remembers (or re-remembers, as the newest) the prediction behind `id`; forgets the oldest beyond maxPending. */
  remember(id: string, prediction: PendingPrediction): void {
    this.pending.set(id, prediction);
  }

  /** The prediction behind `id` for `model`, removed so one response's feedback counts once. */
  take(model: string, id: string): PendingPrediction | undefined {
    const p = this.pending.get(id);
    if (!p || p.model !== model) return undefined;
    this.pending.delete(id);
    return p;
  }
}

/** Accuracy over the last `size` feedback rows: a ring of 0/1 with a running sum. */
export class AccuracyWindow {
  private readonly ring: Uint8Array;
  private next = 0;
  private filled = 0;
  private correct = 0;

  constructor(size: number) {
    this.ring = new Uint8Array(size);
  }

  add(isCorrect: boolean): void {
    if (this.filled === this.ring.length) this.correct -= this.ring[this.next]!;
    else this.filled++;
    const v = isCorrect ? 1 : 0;
    this.ring[this.next] = v;
    this.correct += v;
    this.next = (this.next + 1) % this.ring.length;
  }

  get rows(): number {
    return this.filled;
  }

  /** NaN before any feedback. */
  get accuracy(): number {
    return this.filled === 0 ? NaN : this.correct / this.filled;
  }
}
