// Ground truth: the server remembers recent predictions by response id in bounded memory (oldest dropped), and
// feedback rows update per-version accuracy (classifiers) or absolute error (regression).
// Invariant: at most maxPending ids are remembered: the ring holds the last maxPending remember() calls, and an id
// stays only while the ring still holds its latest one.

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
  /** Each remembered id with the sequence number of its latest remember(). */
  private readonly pending = new Map<string, { prediction: PendingPrediction; seq: number }>();
  /**
   * Insertion order as a ring of (id, seq): evicting the oldest reads one slot. (Taking a Map's first key instead
   * walks over every entry deleted from its front since the last rehash: O(n) per request at 100,000 entries.)
   */
  private readonly ringIds: (string | undefined)[];
  private readonly ringSeqs: Float64Array;
  private seq = 0;
  private readonly maxPending: number;

  constructor(maxPending: number) {
    this.maxPending = maxPending;
    this.ringIds = new Array<string | undefined>(maxPending);
    this.ringSeqs = new Float64Array(maxPending);
  }

  get size(): number {
    return this.pending.size;
  }

  /** Remembers (or re-remembers, as the newest) the prediction behind `id`; forgets the oldest beyond maxPending. */
  remember(id: string, prediction: PendingPrediction): void {
    const seq = ++this.seq;
    const slot = seq % this.maxPending;
    const evicted = this.ringIds[slot];
    // The slot's id is forgotten only if that remember() is still its latest (not re-remembered, not taken).
    if (evicted !== undefined && this.pending.get(evicted)?.seq === this.ringSeqs[slot]) this.pending.delete(evicted);
    this.ringIds[slot] = id;
    this.ringSeqs[slot] = seq;
    this.pending.set(id, { prediction, seq });
  }

  /** The prediction behind `id` for `model`, removed so one response's feedback counts once. */
  take(model: string, id: string): PendingPrediction | undefined {
    const e = this.pending.get(id);
    if (!e || e.prediction.model !== model) return undefined;
    this.pending.delete(id);
    return e.prediction;
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
