// Ground truth: the server remembers recent predictions by response id in bounded memory (oldest dropped), and
// feedback rows update per-version accuracy (classifiers) or absolute error (regression).
// Invariant: at most maxPending ids are remembered: those of the last maxPending remember() calls (a ring of
// slots, like src/bounded-map.ts, with the entries' fields in arrays rather than one object each).

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
  /** id -> its slot in the ring below. A small integer value: nothing per entry for the garbage collector. */
  private readonly slotOf = new Map<string, number>();
  // The ring: slot i holds the fields of one remember() call, overwritten `max` calls later. Kept apart (not one
  // object per call) because every entry lives for up to `max` requests: whole objects would each be promoted to
  // the old generation, which is what made remember() the costliest step after the socket write at high load.
  private readonly ids: (string | undefined)[];
  private readonly models: (string | undefined)[];
  private readonly targets: (FeedbackTarget | undefined)[];
  /** A one-row prediction's value (no heap number per entry); larger predictions are kept whole in `arrays`. */
  private readonly values: Float64Array;
  private readonly arrays: (Float64Array | undefined)[];
  private next = 0;

  constructor(readonly maxPending: number) {
    if (!(Number.isInteger(maxPending) && maxPending >= 1)) throw new Error(`FeedbackStore: maxPending must be a positive integer, got ${maxPending}`);
    this.ids = new Array<string | undefined>(maxPending).fill(undefined);
    this.models = new Array<string | undefined>(maxPending).fill(undefined);
    this.targets = new Array<FeedbackTarget | undefined>(maxPending).fill(undefined);
    this.values = new Float64Array(maxPending);
    this.arrays = new Array<Float64Array | undefined>(maxPending).fill(undefined);
  }

  get size(): number {
    return this.slotOf.size;
  }

  /** Remembers (or re-remembers, as the newest) the prediction behind `id`; forgets the oldest beyond maxPending. */
  remember(id: string, prediction: PendingPrediction): void {
    const slot = this.next;
    this.next = slot + 1 === this.maxPending ? 0 : slot + 1;
    const evicted = this.ids[slot];
    // The slot's id is forgotten only if this slot is still where it lives (it may have been re-remembered since).
    if (evicted !== undefined && this.slotOf.get(evicted) === slot) this.slotOf.delete(evicted);
    const p = prediction.predictions;
    this.ids[slot] = id;
    this.models[slot] = prediction.model;
    this.targets[slot] = prediction.target;
    if (p.length === 1) {
      this.values[slot] = p[0]!;
      this.arrays[slot] = undefined;
    } else {
      this.arrays[slot] = p;
    }
    this.slotOf.set(id, slot);
  }

  /** The prediction behind `id` for `model`, removed so one response's feedback counts once. */
  take(model: string, id: string): PendingPrediction | undefined {
    const slot = this.slotOf.get(id);
    if (slot === undefined || this.models[slot] !== model) return undefined;
    this.slotOf.delete(id);
    const p: PendingPrediction = { model, target: this.targets[slot]!, predictions: this.arrays[slot] ?? Float64Array.of(this.values[slot]!) };
    this.ids[slot] = this.models[slot] = this.targets[slot] = this.arrays[slot] = undefined;
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
