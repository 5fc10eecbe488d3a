// FeedbackStore.remember() in steady state (100,000 remembered, FEEDBACK_MAX_PENDING), each call with a new
// prediction as the server makes one per response (a non-integer, as from a regression model): the store's ring
// of slots (src/observability/feedback.ts) against the two stores it replaced, kept here as the comparison: a
// BoundedMap of one object per entry, and the Map-first-key eviction before that (FIRST_KEY=1 to include it; it
// takes minutes). `node --import tsx bench/feedback-store.ts`
import { BoundedMap } from '../src/bounded-map.js';
import { FeedbackStore, type FeedbackTarget, type PendingPrediction } from '../src/observability/feedback.js';

interface Store {
  remember(id: string, p: PendingPrediction): void;
}
/** Before 790bc9c: delete the Map's first key (V8 walks every entry deleted from the front since the last rehash). */
class FirstKeyStore implements Store {
  private readonly pending = new Map<string, PendingPrediction>();
  constructor(private readonly maxPending: number) {}
  remember(id: string, p: PendingPrediction): void {
    this.pending.delete(id);
    this.pending.set(id, p);
    if (this.pending.size > this.maxPending) this.pending.delete(this.pending.keys().next().value as string);
  }
}
/** Before the ring of slots: one BoundedMap entry object per remembered prediction. */
class ObjectRingStore implements Store {
  private readonly pending = new BoundedMap<string, PendingPrediction>(100_000);
  remember(id: string, p: PendingPrediction): void {
    this.pending.set(id, p);
  }
}

const N = 450_000;
const ROUNDS = 5;
const ids = Array.from({ length: N }, (_, i) => `id-${i}-${(i * 2654435761) % 1e9}`);
const target: FeedbackTarget = { task: 'classification', classLabels: undefined, classCount: 2, recordFeedback: () => undefined };
const stores: [string, () => Store][] = [
  ...(process.env.FIRST_KEY === '1' ? [['Map first key (before 790bc9c)', () => new FirstKeyStore(100_000)] as [string, () => Store]] : []),
  ['BoundedMap, one object per entry (before)', () => new ObjectRingStore()],
  ['ring of slots (now)', () => new FeedbackStore(100_000)],
];
const times = new Map<string, number[]>(stores.map(([label]) => [label, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [label, make] of stores) {
    const s = make();
    for (let i = 0; i < 150_000; i++) s.remember(ids[i]!, { model: 'm', target, predictions: Float64Array.of((i % 7) * 0.37) }); // past maxPending
    const t0 = process.hrtime.bigint();
    for (let i = 150_000; i < N; i++) s.remember(ids[i]!, { model: 'm', target, predictions: Float64Array.of((i % 7) * 0.37) });
    times.get(label)!.push(Number(process.hrtime.bigint() - t0) / (N - 150_000) / 1000);
  }
}
for (const [label, t] of times) {
  const sorted = [...t].sort((a, b) => a - b);
  console.log(`${label}: ${sorted[Math.floor(sorted.length / 2)]!.toFixed(3)} us per remember() at 100,000 remembered (median of ${ROUNDS} alternating rounds; best ${sorted[0]!.toFixed(3)})`);
}
