import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { binIndex, binProportions, classEdges, decileEdges, EMPTY_BIN_PROPORTION, psi } from '../../../src/observability/drift/bins.js';
import { ColumnRing } from '../../../src/observability/drift/column-ring.js';
import { normal, prng } from '../../helpers/random.js';

/** `n` standard normal values (Box-Muller). */
function normals(n: number, rand: () => number): Float64Array {
  return Float64Array.from({ length: n }, () => normal(rand));
}

function counts(sample: Float64Array, edges: number[]): number[] {
  return binProportions(sample, sample.length, edges).map((p) => Math.round(p * sample.length));
}

describe('bins', () => {
  it('puts a value equal to an edge in the bin above it, below the first edge in bin 0 and NaN in bin 0', () => {
    const edges = [1, 2, 3];
    assert.deepEqual([0.5, 1, 1.5, 2, 3, 99, -Infinity, Infinity, NaN].map((v) => binIndex(edges, v)), [0, 1, 1, 2, 3, 3, 0, 3, 0]);
  });

  it('splits distinct values into ten equal deciles', () => {
    const sample = Float64Array.from({ length: 1000 }, (_, i) => 999 - i);
    const edges = decileEdges(sample);
    assert.equal(edges.length, 9);
    assert.deepEqual(counts(sample, edges), new Array(10).fill(100));
  });

  it('merges the edges a tie block would duplicate and gives it one bin, leaving no bin empty', () => {
    const rand = prng(1);
    // 60% zeros, then distinct positive values.
    const sample = Float64Array.from({ length: 1000 }, (_, i) => (i < 600 ? 0 : 1 + rand()));
    const edges = decileEdges(sample);
    assert.equal(edges.length, 4, `edges ${edges}`);
    assert.deepEqual(counts(sample, edges), [600, 100, 100, 100, 100]);
  });

  it('balances bins around tie blocks in the middle of the sample', () => {
    // 0..159 distinct, 440 copies of 160, then 600..999 distinct: the block takes one bin, the rest stay at 10%.
    const sample = Float64Array.from({ length: 1000 }, (_, i) => (i >= 160 && i < 600 ? 160 : i));
    const c = counts(sample, decileEdges(sample));
    assert.deepEqual(c, [100, 60, 440, 100, 100, 100, 100]);
    assert.ok(Math.min(...c) > 0, `an empty bin in ${c}`);
  });

  it('gives a few-valued feature one bin per value', () => {
    const sample = Float64Array.from({ length: 900 }, (_, i) => i % 3); // 0, 1, 2 in equal shares
    const edges = decileEdges(sample);
    assert.deepEqual(edges, [0.5, 1.5]);
    assert.deepEqual(counts(sample, edges), [300, 300, 300]);
  });

  it('surrounds a constant sample with bins below and above it, so any change shows', () => {
    const edges = decileEdges(new Float64Array(100).fill(3));
    assert.equal(edges.length, 2);
    assert.deepEqual([2.9, 3, 3.0001].map((v) => binIndex(edges, v)), [0, 1, 2]);
    const zeros = decileEdges(new Float64Array(10));
    assert.deepEqual([-1e-300, 0, 1e-300].map((v) => binIndex(zeros, v)), [0, 1, 2]);
  });

  it('makes one bin per class index for class edges', () => {
    const edges = classEdges(3);
    assert.deepEqual(edges, [0.5, 1.5]);
    assert.deepEqual([0, 1, 2, 0.49, 0.5, 7].map((v) => binIndex(edges, v)), [0, 1, 2, 0, 1, 2]);
  });

  it('computes PSI 0 for identical distributions and the textbook value for a known pair', () => {
    assert.equal(psi([0.25, 0.25, 0.5], [0.25, 0.25, 0.5]), 0);
    const expected = (0.3 - 0.5) * Math.log(0.3 / 0.5) + (0.7 - 0.5) * Math.log(0.7 / 0.5);
    assert.ok(Math.abs(psi([0.5, 0.5], [0.3, 0.7]) - expected) < 1e-15, `PSI ${psi([0.5, 0.5], [0.3, 0.7])} vs ${expected}`);
  });

  it('keeps PSI finite when a bin is empty in either distribution, by raising it to the epsilon', () => {
    const v = psi([0, 0.5, 0.5], [0.5, 0.5, 0]);
    assert.ok(Number.isFinite(v), `PSI ${v}`);
    const term = (0.5 - EMPTY_BIN_PROPORTION) * Math.log(0.5 / EMPTY_BIN_PROPORTION);
    assert.ok(Math.abs(v - 2 * term) < 1e-12, `PSI ${v} vs ${2 * term}`);
  });

  it('rejects bins of different lengths', () => {
    assert.throws(() => psi([0.5, 0.5], [1]), /2 reference bins vs 1 current bins/);
  });

  it('averages about (bins - 1)(1/n + 1/m) between two samples of one distribution (0.018 for 1,000 vs 1,000)', (t) => {
    const rand = prng(42);
    let sum = 0;
    const trials = 200;
    for (let k = 0; k < trials; k++) {
      const ref = normals(1000, rand);
      const cur = normals(1000, rand);
      const edges = decileEdges(ref);
      sum += psi(binProportions(ref, ref.length, edges), binProportions(cur, cur.length, edges));
    }
    const mean = sum / trials;
    t.diagnostic(`mean PSI over ${trials} pairs of 1,000 normal rows: ${mean.toFixed(4)}`);
    assert.ok(mean > 0.012 && mean < 0.026, `mean PSI ${mean}`);
  });
});

describe('ColumnRing', () => {
  it('holds the last capacity rows column-wise and counts every row pushed', () => {
    const ring = new ColumnRing(2, 3);
    assert.equal(ring.size, 0);
    for (let r = 1; r <= 5; r++) ring.push(Float64Array.of(r, -r));
    assert.equal(ring.size, 3);
    assert.equal(ring.total, 5);
    assert.equal(ring.full, true);
    assert.deepEqual([...ring.columns[0]!].sort((a, b) => a - b), [3, 4, 5]);
    assert.deepEqual([...ring.columns[1]!].sort((a, b) => a - b), [-5, -4, -3]);
  });

  it('fills slots from 0 before it wraps', () => {
    const ring = new ColumnRing(1, 4);
    ring.push(Float64Array.of(7));
    ring.push(Float64Array.of(8));
    assert.equal(ring.size, 2);
    assert.deepEqual([...ring.columns[0]!.subarray(0, ring.size)], [7, 8]);
    assert.equal(ring.full, false);
  });

  it('rejects a capacity that is not a positive integer', () => {
    assert.throws(() => new ColumnRing(1, 0), RangeError);
  });
});
