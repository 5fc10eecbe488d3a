// The predicted class of a classifier row: used by drift (prediction distribution), feedback (accuracy) and the
// shadow comparison, so that all three agree on what "the prediction" is.

/** Index of the largest of data[base, base + width); the first one on ties, 0 when all are NaN. */
export function argmax(data: ArrayLike<number | bigint>, base: number, width: number): number {
  let best = 0;
  let max = data[base]!;
  for (let k = 1; k < width; k++) {
    const v = data[base + k]!;
    if (v > max) {
      max = v;
      best = k;
    }
  }
  return best;
}
