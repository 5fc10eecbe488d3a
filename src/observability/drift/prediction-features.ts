// The predictions of a version's first output as one scalar per row, windowed and binned by a one-column
// DriftColumns ("prediction").
//   classes, argmax   a [batch, K > 1] classifier output: the predicted class index; K bins
//   classes, value    a [batch] or [batch, 1] classifier output: the value rounded half up to a class index (class
//                     indices, or the probability of class 1); K from the baseline, else from the first rows
//   values            a regression output: the value (column 0), in decile bins like an input feature
// Invariant: the mode is fixed by the task and the output's shape; when the output's width is -1 it is fixed by
// the first tensor seen, and `columns` is created then. Tensors of another width are ignored.
import { argmax } from '../argmax.js';
import { classEdges, decileEdges, MAX_CLASSES } from './bins.js';
import { type BinReference, DriftColumns, valuesPerRow } from './drift-columns.js';
import type { Baseline } from './baseline.js';
import type { DriftTensor, DriftTensorSpec, GaugeLike, NumericData } from './types.js';

export type Task = 'classification' | 'regression';
type Extract = 'argmax' | 'value';

export interface PredictionFeaturesOptions {
  output: DriftTensorSpec | undefined;
  task: Task | undefined;
  baseline: Baseline | undefined;
  windowRows: number;
  referenceRows: number;
  gauge: GaugeLike;
}

export class PredictionFeatures {
  private readonly o: PredictionFeaturesOptions;
  /** The task as given, or as inferred from the output once its width is known. */
  private taskOf: Task | undefined;
  private columns: DriftColumns | undefined;
  /** Values per row of the output; -1 until known. */
  private width = -1;
  private extract: Extract = 'value';

  /** Prediction drift for `o.output`, or undefined when there is none to watch (no output, strings, rank > 2, an untyped non-float output). */
  static of(o: PredictionFeaturesOptions): PredictionFeatures | undefined {
    const out = o.output;
    if (!out || out.kind === 'string' || out.shape.length === 0 || out.shape.length > 2) return undefined;
    if (o.task === undefined && out.kind !== 'float') return undefined;
    return new PredictionFeatures(o);
  }

  private constructor(o: PredictionFeaturesOptions) {
    this.o = o;
    this.taskOf = o.task;
    const shape = o.output!.shape;
    const width = shape.length === 1 ? 1 : shape[1]!;
    if (width >= 1) this.createColumns(width);
    else o.gauge.set(NaN);
  }

  get task(): Task | undefined {
    return this.taskOf;
  }

  get kind(): 'classes' | 'values' {
    return this.taskOf === 'regression' ? 'values' : 'classes';
  }

  get drift(): DriftColumns | undefined {
    return this.columns;
  }

  /** Hot path: copies each row's predicted class or value into the window (and the reference sample). */
  observe(t: DriftTensor, rows: number): void {
    const data = t.data as NumericData;
    const width = valuesPerRow(data, rows);
    if (width === undefined) return;
    const cols = this.columns ?? this.createColumns(width);
    if (width !== this.width) return;
    const row = cols.row;
    for (let r = 0, base = 0; r < rows; r++, base += width) {
      row[0] = this.extract === 'argmax' ? argmax(data, base, width) : Number(data[base]);
      cols.commit();
    }
  }

  /** Fixes task, extraction and reference for an output of `width` values per row. */
  private createColumns(width: number): DriftColumns {
    this.width = width;
    this.taskOf ??= width === 1 ? 'regression' : 'classification';
    this.extract = this.taskOf === 'classification' && width > 1 ? 'argmax' : 'value';
    const ref = this.reference();
    this.columns = new DriftColumns({
      labels: ['prediction'],
      references: [ref],
      windowRows: this.o.windowRows,
      referenceRows: this.o.referenceRows,
      edgesOf: this.edgesOf(),
      gauges: [this.o.gauge],
    });
    return this.columns;
  }

  /** baseline.json's prediction reference when it fits this output, else undefined (the first rows decide). */
  private reference(): BinReference | undefined {
    const p = this.o.baseline?.prediction;
    const rows = this.o.baseline?.rows ?? 0;
    if (this.kind === 'values') return p?.edges && p.proportions ? { edges: p.edges, proportions: p.proportions, rows } : undefined;
    const classes = p?.classes;
    if (!classes || classes.length > MAX_CLASSES || (this.extract === 'argmax' && classes.length !== this.width)) return undefined;
    return { edges: classEdges(classes.length), proportions: classes, rows };
  }

  /** Edges of a reference built from the first predictions. */
  private edgesOf(): (sample: Float64Array) => number[] {
    if (this.kind === 'values') return decileEdges;
    if (this.extract === 'argmax') {
      const edges = classEdges(this.width);
      return () => edges;
    }
    return (sample) => classEdges(classCount(sample));
  }
}

/** Classes seen in a sample of class values: at least 2 (a binary classifier), at most MAX_CLASSES. */
function classCount(sample: Float64Array): number {
  let max = 0;
  for (const v of sample) if (v > max) max = v;
  return Math.min(Math.max(2, Math.floor(max + 0.5) + 1), MAX_CLASSES);
}
