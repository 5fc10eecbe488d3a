// Histogram bins and the population stability index. Pure functions over plain arrays, used off the request path.
// Bin rule (the same as baseline.json's, numpy searchsorted side="right"): a value's bin is the number of edges
// <= value, so edges e0 < e1 < ... < e(k-1) make k + 1 bins and NaN falls in bin 0.

/** Replaces an empty bin's proportion in both distributions, so ln(cur / ref) stays finite. */
export const EMPTY_BIN_PROPORTION = 1e-4;
/** Quantile bins of a reference built from rows served: deciles. */
export const QUANTILE_BINS = 10;
/** Largest class count the prediction histogram keeps; higher class indices share the last bin. */
export const MAX_CLASSES = 1024;

/** Index of `value`'s bin: the number of edges <= value (binary search; edges ascending). */
export function binIndex(edges: readonly number[], value: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Proportion of `values[0, count)` per bin; edges.length + 1 entries summing to 1 (all 0 when count is 0). */
export function binProportions(values: Float64Array, count: number, edges: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (let i = 0; i < count; i++) counts[binIndex(edges, values[i]!)]!++;
  return count === 0 ? counts : counts.map((c) => c / count);
}

/**
 * PSI = sum over bins of (cur - ref) * ln(cur / ref), with proportions below EMPTY_BIN_PROPORTION raised to it in
 * both, so empty bins add a large but finite term. Both arrays have the same length (one entry per bin).
 */
export function psi(reference: readonly number[], current: readonly number[]): number {
  if (reference.length !== current.length) throw new Error(`psi: ${reference.length} reference bins vs ${current.length} current bins`);
  let sum = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = Math.max(reference[i]!, EMPTY_BIN_PROPORTION);
    const c = Math.max(current[i]!, EMPTY_BIN_PROPORTION);
    sum += (c - r) * Math.log(c / r);
  }
  return sum;
}

/**
 * Up to QUANTILE_BINS - 1 inner edges splitting `sample` into bins as close to equal counts as its ties allow.
 * An edge can only separate two distinct values, so the candidate split positions are the indices i of the sorted
 * sample where sorted[i - 1] < sorted[i]; each decile target k * n / 10 takes the nearest candidate, and targets
 * that land on the same candidate share one edge (duplicate edges merged). A tie block such as 60% zeros therefore
 * becomes one bin of its own, no bin of the sample is empty, and the other bins stay near 10%.
 * The edge is the midpoint of the two values it separates, so every sample value is unambiguously on one side.
 * A constant sample gets edges [c, next(c)]: bins "below c", "c", "above c", so any change shows.
 */
export function decileEdges(sample: Float64Array): number[] {
  const sorted = Float64Array.from(sample).sort(); // NaN sorts last and is never a split candidate
  const n = sorted.length;
  if (n === 0 || Number.isNaN(sorted[0])) return [];
  const splits = splitCandidates(sorted);
  if (splits.length === 0) return [sorted[0]!, nextUp(sorted[0]!)];
  const edges: number[] = [];
  let last = -1;
  for (let k = 1; k < QUANTILE_BINS; k++) {
    const at = nearest(splits, (k * n) / QUANTILE_BINS);
    if (at === last) continue; // nearest() is non-decreasing in the target, so duplicates are adjacent
    last = at;
    edges.push(midpoint(sorted[at - 1]!, sorted[at]!));
  }
  return edges;
}

/** Edges 0.5, 1.5, ..., k - 1.5: bin i holds class index i (a value v rounds half up to its class). */
export function classEdges(k: number): number[] {
  const n = Math.min(Math.max(k, 1), MAX_CLASSES);
  return Array.from({ length: n - 1 }, (_, i) => i + 0.5);
}

/** Indices i in [1, n) with sorted[i - 1] < sorted[i], ascending. */
function splitCandidates(sorted: Float64Array): number[] {
  const out: number[] = [];
  for (let i = 1; i < sorted.length; i++) if (sorted[i - 1]! < sorted[i]!) out.push(i);
  return out;
}

/** The element of ascending, non-empty `xs` closest to `target`; the lower one on a tie. */
function nearest(xs: readonly number[], target: number): number {
  const i = binIndex(xs, target); // xs[i - 1] <= target < xs[i]
  if (i === 0) return xs[0]!;
  if (i === xs.length) return xs[i - 1]!;
  return target - xs[i - 1]! <= xs[i]! - target ? xs[i - 1]! : xs[i]!;
}

/** A value m with lo < m <= hi (lo < hi): the midpoint when representable, else hi. */
function midpoint(lo: number, hi: number): number {
  const m = lo / 2 + hi / 2;
  return m > lo && m <= hi ? m : hi;
}

/** The smallest double above x (x finite), or x itself for +Infinity. */
function nextUp(x: number): number {
  if (x === Infinity) return x;
  if (x === 0) return Number.MIN_VALUE;
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  const bits = buf.getBigUint64(0);
  buf.setBigUint64(0, x > 0 ? bits + 1n : bits - 1n);
  return buf.getFloat64(0);
}
