// Small pieces the drift monitor tests share: a recording gauge and a column statistic of the training rows.
import type { GaugeLike } from '../../src/observability/drift/drift-monitor.js';

/** A gauge that keeps every value it is set to, so a test can read what the monitor published. */
export class RecordingGauge implements GaugeLike {
  readonly values: number[] = [];
  set(value: number): void {
    this.values.push(value);
  }
  get last(): number | undefined {
    return this.values.at(-1);
  }
}

/** Population standard deviation of column `col` of `rows`. */
export function columnStd(rows: number[][], col: number): number {
  const values = rows.map((row) => row[col]!);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
}
