// A map that keeps the keys of its last `max` set() calls, each with its latest value: the memory bound for caches
// filled per request (verified tokens, predictions awaiting feedback). Eviction reads one slot of a ring. (Taking a
// Map's first key instead makes V8 walk every entry deleted from the front since its last rehash: O(n) per set,
// 34-47 us at 100,000 entries, see bench/feedback-store.ts.)
// Invariant: a key is present only while the ring still holds the sequence number of its latest set().

export class BoundedMap<K, V> {
  private readonly entries = new Map<K, { value: V; seq: number }>();
  private readonly ringKeys: (K | undefined)[];
  private readonly ringSeqs: Float64Array;
  private seq = 0;

  constructor(readonly max: number) {
    if (!(Number.isInteger(max) && max >= 1)) throw new Error(`BoundedMap: max must be a positive integer, got ${max}`);
    this.ringKeys = new Array<K | undefined>(max);
    this.ringSeqs = new Float64Array(max);
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    return this.entries.get(key)?.value;
  }

  /** Stores `value` as the newest entry; forgets the key of the set() call `max` calls ago if that was its latest. */
  set(key: K, value: V): this {
    const seq = ++this.seq;
    const slot = seq % this.max;
    const evicted = this.ringKeys[slot];
    if (evicted !== undefined && this.entries.get(evicted)?.seq === this.ringSeqs[slot]) this.entries.delete(evicted);
    this.ringKeys[slot] = key;
    this.ringSeqs[slot] = seq;
    this.entries.set(key, { value, seq });
    return this;
  }

  delete(key: K): boolean {
    return this.entries.delete(key);
  }
}
