import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keyPoint, TrafficError, TrafficRouter, validateTraffic } from '../../src/lifecycle/traffic-table.js';

/** Picks `n` times without a routing key and counts the versions chosen. */
function countPicks(router: TrafficRouter, n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const v = router.pick();
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  return counts;
}

describe('validateTraffic', () => {
  it('accepts integer weights summing to 100, with or without a shadow', () => {
    validateTraffic({ '1': 90, '2': 10 }, null);
    validateTraffic({ '2': 100 }, null);
    validateTraffic({ '1': 100, '2': 0 }, { version: '3', fraction: 1 });
    validateTraffic({ '10': 50, '9': 50 }, { version: '2', fraction: 0.001 });
  });

  const refused: [string, Record<string, number>, { version: string; fraction: number } | null, string][] = [
    ['no version at all', {}, null, 'weights must name at least one version'],
    ['weights summing to less than 100', { '1': 50, '2': 40 }, null, 'weights must sum to 100 (got 90)'],
    ['weights summing to more than 100', { '1': 90, '2': 20 }, null, 'weights must sum to 100 (got 110)'],
    ['a fractional weight', { '1': 50.5, '2': 49.5 }, null, "weights: '1' must be an integer from 0 to 100"],
    ['a negative weight', { '1': -10, '2': 110 }, null, "weights: '1' must be an integer from 0 to 100"],
    ['a weight above 100', { '1': 101 }, null, "weights: '1' must be an integer from 0 to 100"],
    ['a NaN weight', { '1': Number.NaN }, null, "weights: '1' must be an integer from 0 to 100"],
    ['version 0', { '0': 100 }, null, "weights: '0' is not a version (a positive integer as a string)"],
    ['a version with a leading zero', { '01': 100 }, null, "weights: '01' is not a version (a positive integer as a string)"],
    ['a version that is a name', { latest: 100 }, null, "weights: 'latest' is not a version (a positive integer as a string)"],
    ['a shadow version that is not a version', { '1': 100 }, { version: 'v2', fraction: 0.5 }, "shadow.version 'v2' is not a version"],
    ['a shadow fraction of 0', { '1': 100 }, { version: '2', fraction: 0 }, 'shadow.fraction must be in (0, 1]'],
    ['a shadow fraction above 1', { '1': 100 }, { version: '2', fraction: 1.5 }, 'shadow.fraction must be in (0, 1]'],
    ['a NaN shadow fraction', { '1': 100 }, { version: '2', fraction: Number.NaN }, 'shadow.fraction must be in (0, 1]'],
  ];
  for (const [what, weights, shadow, message] of refused) {
    it(`refuses ${what}`, () => {
      assert.throws(() => validateTraffic(weights, shadow), (err: unknown) => err instanceof TrafficError && err.message === message);
    });
  }
});

describe('keyPoint', () => {
  it('maps a key to the same point in [0, 100) every time', () => {
    for (const key of ['user-1', 'user-2', '', 'ü-ñ', 'x'.repeat(256)]) {
      const p = keyPoint(key);
      assert.ok(p >= 0 && p < 100, `${key} -> ${p}`);
      assert.equal(keyPoint(key), p);
    }
  });

  it('spreads keys evenly over the weight line', () => {
    const buckets = new Array<number>(10).fill(0);
    const n = 10_000;
    for (let i = 0; i < n; i++) buckets[Math.floor(keyPoint(`user-${i}`) / 10)]!++;
    // 1,000 expected per tenth; the standard deviation is 30, so 850..1,150 is five of them.
    for (const [i, count] of buckets.entries()) assert.ok(count > 850 && count < 1150, `tenth ${i} got ${count} of ${n} keys`);
  });
});

describe('TrafficRouter', () => {
  it('sends a routing key to the version whose share of the 0..100 line holds its point', () => {
    const router = new TrafficRouter({ weights: { '1': 30, '2': 70 }, shadow: null, revision: 1 });
    for (let i = 0; i < 500; i++) {
      const key = `session-${i}`;
      assert.equal(router.pick(key), keyPoint(key) < 30 ? '1' : '2');
    }
  });

  it('orders versions numerically, so version 10 comes after version 9 on the line', () => {
    const router = new TrafficRouter({ weights: { '10': 50, '9': 50 }, shadow: null, revision: 1 });
    for (let i = 0; i < 200; i++) {
      const key = `k${i}`;
      assert.equal(router.pick(key), keyPoint(key) < 50 ? '9' : '10');
    }
  });

  it('keeps a key on its version for as long as the weights stay', () => {
    const a = new TrafficRouter({ weights: { '1': 50, '2': 50 }, shadow: null, revision: 1 });
    const b = new TrafficRouter({ weights: { '1': 50, '2': 50 }, shadow: { version: '3', fraction: 1 }, revision: 7 });
    for (let i = 0; i < 200; i++) {
      const first = a.pick(`user-${i}`);
      for (let j = 0; j < 5; j++) assert.equal(a.pick(`user-${i}`), first);
      assert.equal(b.pick(`user-${i}`), first, 'a new revision with the same weights moved a key');
    }
  });

  it('never picks a version whose weight is 0', () => {
    const router = new TrafficRouter({ weights: { '1': 0, '2': 100, '3': 0 }, shadow: null, revision: 1 });
    assert.deepEqual([...countPicks(router, 2000).keys()], ['2']);
    for (let i = 0; i < 500; i++) assert.equal(router.pick(`user-${i}`), '2');
  });

  it('picks without a key in proportion to the weights', () => {
    const router = new TrafficRouter({ weights: { '1': 90, '2': 10 }, shadow: null, revision: 1 });
    const n = 10_000;
    const counts = countPicks(router, n);
    const canary = counts.get('2') ?? 0;
    // Binomial(10,000, 0.1): mean 1,000, standard deviation 30; 850..1,150 is five of them.
    assert.ok(canary > 850 && canary < 1150, `version 2 got ${canary} of ${n}`);
    assert.equal((counts.get('1') ?? 0) + canary, n);
  });

  it('mirrors every request to a shadow with fraction 1, about half with 0.5, and none without a shadow', () => {
    const all = new TrafficRouter({ weights: { '1': 100 }, shadow: { version: '2', fraction: 1 }, revision: 1 });
    const half = new TrafficRouter({ weights: { '1': 100 }, shadow: { version: '2', fraction: 0.5 }, revision: 1 });
    const none = new TrafficRouter({ weights: { '1': 100 }, shadow: null, revision: 1 });
    let mirrored = 0;
    for (let i = 0; i < 4000; i++) {
      assert.deepEqual(all.mirror(), { version: '2', fraction: 1 });
      assert.equal(none.mirror(), null);
      if (half.mirror()) mirrored++;
    }
    // Binomial(4,000, 0.5): standard deviation 32; 1,840..2,160 is five of them.
    assert.ok(mirrored > 1840 && mirrored < 2160, `${mirrored} of 4000 mirrored at fraction 0.5`);
  });

  it('routes to a version with weight or as the shadow, not to one with weight 0', () => {
    const router = new TrafficRouter({ weights: { '1': 100, '2': 0 }, shadow: { version: '3', fraction: 0.1 }, revision: 1 });
    assert.equal(router.routesTo('1'), true);
    assert.equal(router.routesTo('2'), false);
    assert.equal(router.routesTo('3'), true);
    assert.equal(router.routesTo('4'), false);
  });
});
