import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RequestQueue } from '../../src/scheduler/request-queue.js';

/** The backing array's length: the queue promises it stays proportional to what is waiting. */
function storage(q: RequestQueue<unknown>): number {
  return (q as unknown as { items: unknown[] }).items.length;
}

describe('RequestQueue', () => {
  it('starts empty', () => {
    const q = new RequestQueue<number>();
    assert.equal(q.length, 0);
    assert.equal(q.peek(), undefined);
    assert.equal(q.shift(), undefined);
    assert.deepEqual(q.drain(), []);
  });

  it('gives items back in the order they were pushed', () => {
    const q = new RequestQueue<string>();
    for (const s of ['a', 'b', 'c']) q.push(s);
    assert.equal(q.length, 3);
    assert.equal(q.peek(), 'a');
    assert.equal(q.shift(), 'a');
    assert.equal(q.peek(), 'b');
    q.push('d');
    assert.deepEqual([q.shift(), q.shift(), q.shift()], ['b', 'c', 'd']);
    assert.equal(q.length, 0);
    assert.equal(q.shift(), undefined);
  });

  it('peek does not remove the head', () => {
    const q = new RequestQueue<number>();
    q.push(1);
    assert.equal(q.peek(), 1);
    assert.equal(q.peek(), 1);
    assert.equal(q.length, 1);
  });

  it('keeps order and length through many push and shift cycles', () => {
    const q = new RequestQueue<number>();
    let pushed = 0;
    let shifted = 0;
    for (let round = 0; round < 200; round++) {
      const pushes = 1 + ((round * 37) % 500);
      for (let i = 0; i < pushes; i++) q.push(pushed++);
      const shifts = Math.min(q.length, 1 + ((round * 53) % 600));
      for (let i = 0; i < shifts; i++) {
        assert.equal(q.peek(), shifted);
        assert.equal(q.shift(), shifted++);
      }
      assert.equal(q.length, pushed - shifted);
    }
    while (q.length > 0) assert.equal(q.shift(), shifted++);
    assert.equal(shifted, pushed);
    assert.equal(q.shift(), undefined);
  });

  it('keeps its storage proportional to what is waiting when it never empties', () => {
    const q = new RequestQueue<number>();
    for (let i = 0; i < 10; i++) q.push(i);
    let next = 0;
    for (let i = 10; i < 200_000; i++) {
      q.push(i);
      assert.equal(q.shift(), next++);
    }
    assert.equal(q.length, 10);
    assert.ok(storage(q) <= 2 * 1024 + 20, `storage ${storage(q)} for 10 waiting items`);
    assert.deepEqual(q.drain(), Array.from({ length: 10 }, (_, i) => next + i));
  });

  it('releases shifted items so they can be garbage collected', () => {
    const q = new RequestQueue<object>();
    const a = {};
    q.push(a);
    q.push({});
    q.shift();
    const items = (q as unknown as { items: (object | undefined)[] }).items;
    assert.ok(!items.includes(a));
  });

  it('drain returns every waiting item in order and leaves the queue empty and usable', () => {
    const q = new RequestQueue<number>();
    for (let i = 0; i < 5; i++) q.push(i);
    q.shift();
    q.shift();
    assert.deepEqual(q.drain(), [2, 3, 4]);
    assert.equal(q.length, 0);
    assert.equal(q.peek(), undefined);
    assert.deepEqual(q.drain(), []);
    q.push(9);
    assert.equal(q.length, 1);
    assert.equal(q.shift(), 9);
  });

  it('can hold falsy items', () => {
    const q = new RequestQueue<number | null>();
    q.push(0);
    q.push(null);
    assert.equal(q.length, 2);
    assert.equal(q.shift(), 0);
    assert.equal(q.shift(), null);
    assert.equal(q.length, 0);
  });
});
