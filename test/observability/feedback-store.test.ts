// The feedback store remembers the predictions of the last maxPending responses by id (an id answered again keeps
// its latest prediction, and it counts as one of those responses each time); a taken id is gone. Checked against a
// plain model of that rule.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FeedbackStore, type FeedbackTarget, type PendingPrediction } from '../../src/observability/feedback.js';

const target: FeedbackTarget = { task: 'classification', classLabels: undefined, classCount: 2, recordFeedback: () => undefined };
const prediction = (model: string, value: number): PendingPrediction => ({ model, target, predictions: Float64Array.of(value) });

describe('FeedbackStore', () => {
  it('forgets the oldest id beyond maxPending', () => {
    const store = new FeedbackStore(3);
    for (const id of ['a', 'b', 'c', 'd']) store.remember(id, prediction('m', 1));
    assert.equal(store.size, 3);
    assert.equal(store.take('m', 'a'), undefined);
    for (const id of ['b', 'c', 'd']) assert.ok(store.take('m', id), `${id} is remembered`);
  });

  it('treats a re-remembered id as the newest, and answers its latest prediction', () => {
    const store = new FeedbackStore(3);
    store.remember('a', prediction('m', 1));
    store.remember('b', prediction('m', 2));
    store.remember('a', prediction('m', 3));
    store.remember('c', prediction('m', 4));
    store.remember('d', prediction('m', 5)); // the last three calls: a, c, d
    assert.equal(store.take('m', 'b'), undefined);
    assert.equal(store.take('m', 'a')?.predictions[0], 3);
    assert.equal(store.take('m', 'c')?.predictions[0], 4);
  });

  it('gives a prediction once, and only to its model', () => {
    const store = new FeedbackStore(4);
    store.remember('a', prediction('m', 1));
    assert.equal(store.take('other', 'a'), undefined);
    assert.ok(store.take('m', 'a'));
    assert.equal(store.take('m', 'a'), undefined);
  });

  it('keeps exactly the ids among the last maxPending remember() calls, at their latest, for any sequence of operations', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('remember' as const), id: fc.integer({ min: 0, max: 12 }) }),
      fc.record({ kind: fc.constant('take' as const), id: fc.integer({ min: 0, max: 12 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(op, { maxLength: 200 }), (max, ops) => {
        const store = new FeedbackStore(max);
        const calls: { id: string; value: number }[] = [];
        const taken = new Map<string, number>(); // id -> number of remember() calls made before it was taken
        const current = (id: string) => {
          const recent = calls.slice(-max);
          const latest = calls.map((c) => c.id).lastIndexOf(id);
          const inWindow = latest >= calls.length - recent.length && latest >= 0;
          return inWindow && (taken.get(id) ?? -1) <= latest ? calls[latest] : undefined;
        };
        ops.forEach((o, i) => {
          const id = String(o.id);
          if (o.kind === 'remember') {
            store.remember(id, prediction('m', i));
            calls.push({ id, value: i });
          } else {
            const got = store.take('m', id);
            assert.equal(got?.predictions[0], current(id)?.value, `take ${id} after ${i} operations`);
            taken.set(id, calls.length);
          }
          const live = new Set(calls.map((c) => c.id).filter((x) => current(x) !== undefined));
          assert.equal(store.size, live.size);
        });
      }),
      { seed: 0x5eed, numRuns: 500 },
    );
  });
});
