// A group of scalar columns observed row by row together (one input's features, or the predictions): the window
// of the last rows, each column's reference histogram (given from baseline.json, or built from the first rows
// served) and each column's last PSI.
// Invariants: `pending` exists exactly while some column lacks a reference, and then holds the first (up to)
// referenceRows rows committed (it never wraps); the first recompute() after it fills builds the missing
// references from it and drops it. References never change afterwards. psi[j] is null until column j has a
// reference and the window holds a row.
import { binProportions, psi } from './bins.js';
import { ColumnRing } from './column-ring.js';
import type { GaugeLike } from './types.js';
import type { BinnedComparison } from '../report-types.js';

/** A reference histogram: edges, proportions (edges.length + 1) and how many rows it was computed from. */
export interface BinReference {
  edges: number[];
  proportions: number[];
  rows: number;
}

/** One column's comparison, labelled (the monitor names it as a feature or the prediction). */
export interface ColumnSnapshot extends BinnedComparison {
  label: string;
  source: 'baseline' | 'first_rows';
}

export interface DriftColumnsOptions {
  labels: string[];
  /** Per column, the reference from baseline.json, or undefined to build one from the first rows served. */
  references: (BinReference | undefined)[];
  windowRows: number;
  referenceRows: number;
  /** Edges of a reference built from the first rows of one column (deciles, or fixed class edges). */
  edgesOf(sample: Float64Array): number[];
  /** One gauge per column: NaN until its PSI is known. */
  gauges: GaugeLike[];
}

export class DriftColumns {
  /** Scratch row: the caller writes row[j] for every column, then calls commit(). */
  readonly row: Float64Array;
  readonly labels: readonly string[];
  private readonly window: ColumnRing;
  private pending: ColumnRing | undefined;
  private readonly references: (BinReference | undefined)[];
  private readonly fromBaseline: boolean[];
  private readonly edgesOf: (sample: Float64Array) => number[];
  private readonly gauges: GaugeLike[];
  private readonly current: number[][];
  private readonly psis: (number | null)[];

  constructor(o: DriftColumnsOptions) {
    const width = o.labels.length;
    this.labels = o.labels;
    this.row = new Float64Array(width);
    this.window = new ColumnRing(width, o.windowRows);
    this.references = [...o.references];
    this.fromBaseline = this.references.map((r) => r !== undefined);
    if (this.fromBaseline.includes(false)) this.pending = new ColumnRing(width, o.referenceRows);
    this.edgesOf = o.edgesOf;
    this.gauges = o.gauges;
    this.current = o.labels.map(() => []);
    this.psis = o.labels.map(() => null);
    for (const g of this.gauges) g.set(NaN);
  }

  /** Hot path: copies `row` into the window and, while the reference is being collected, into it too. */
  commit(): void {
    this.window.push(this.row);
    const pending = this.pending;
    if (pending !== undefined && !pending.full) pending.push(this.row);
  }

  /** Rows committed since construction. */
  get total(): number {
    return this.window.total;
  }

  /** True when every column has its reference. */
  get complete(): boolean {
    return this.pending === undefined;
  }

  /** Builds missing references once the first rows are in, then bins the window and sets each column's PSI gauge. */
  recompute(): void {
    if (this.pending?.full) this.buildReferences(this.pending);
    const size = this.window.size;
    for (let j = 0; j < this.references.length; j++) {
      const ref = this.references[j];
      if (ref === undefined || size === 0) continue;
      const cur = binProportions(this.window.columns[j]!, size, ref.edges);
      const value = psi(ref.proportions, cur);
      this.current[j] = cur;
      this.psis[j] = value;
      this.gauges[j]?.set(value);
    }
  }

  /** The last computed state of every column (current proportions as of the last recompute()). */
  snapshot(): ColumnSnapshot[] {
    return this.labels.map((label, j) => {
      const ref = this.references[j];
      return {
        label,
        source: this.fromBaseline[j] ? 'baseline' : 'first_rows',
        psi: this.psis[j]!,
        edges: ref?.edges ?? [],
        reference: ref?.proportions ?? [],
        current: this.current[j]!,
        reference_rows: ref?.rows ?? this.pending?.size ?? 0,
        current_rows: this.window.size,
      };
    });
  }

  /** Fills every missing reference from the full first-rows sample, then drops the sample. */
  private buildReferences(sample: ColumnRing): void {
    for (let j = 0; j < this.references.length; j++) {
      if (this.references[j] !== undefined) continue;
      const values = sample.columns[j]!;
      const edges = this.edgesOf(values);
      this.references[j] = { edges, proportions: binProportions(values, sample.size, edges), rows: sample.size };
    }
    this.pending = undefined;
  }
}

/** Values per row of a batch of `rows` rows, or undefined when the data does not split into whole rows. */
export function valuesPerRow(data: ArrayLike<unknown>, rows: number): number | undefined {
  if (rows <= 0) return undefined;
  const width = data.length / rows;
  return Number.isInteger(width) && width >= 1 ? width : undefined;
}
