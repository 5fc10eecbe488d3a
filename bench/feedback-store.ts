// FeedbackStore.remember() in steady state (100,000 remembered, FEEDBACK_MAX_PENDING): BoundedMap's ring (src/bounded-map.ts)
// against the Map-first-key eviction it replaced (kept here as the comparison). `node --import tsx bench/feedback-store.ts`
import { FeedbackStore } from '../src/observability/feedback.js';
/** The eviction before: delete the Map's first key (V8 walks every entry deleted from the front since the last rehash). */
class OldStore {
  private readonly pending = new Map<string, unknown>();
  constructor(private readonly maxPending: number) {}
  remember(id: string, p: unknown): void {
    this.pending.delete(id);
    this.pending.set(id, p);
    if (this.pending.size > this.maxPending) this.pending.delete(this.pending.keys().next().value as string);
  }
}
const N = 400_000;
const ids = Array.from({ length: N }, (_, i) => `id-${i}-${(i * 2654435761) % 1e9}`);
const p = { model: 'm', target: {} as never, predictions: new Float64Array(1) };
for (const [label, make] of [['Map first key (before)', () => new OldStore(100_000)], ['ring (after)', () => new FeedbackStore(100_000)]] as const) {
  const s = make();
  for (let i = 0; i < 150_000; i++) s.remember(ids[i]!, p); // fill past maxPending
  const t0 = process.hrtime.bigint();
  for (let i = 150_000; i < N; i++) s.remember(ids[i]!, p);
  const t1 = process.hrtime.bigint();
  console.log(`${label}: ${(Number(t1 - t0) / (N - 150_000) / 1000).toFixed(3)} us per remember() at 100,000 remembered`);
}
