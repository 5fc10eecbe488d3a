// The last `capacity` rows of a few scalar columns, stored column-wise (one Float64Array per column) so binning
// a column reads one contiguous array. The request path pushes rows; the drift timer reads whole columns.
//
//   columns[j]  [ r5 | r6 | r2 | r3 | r4 ]   capacity 5, total 7 rows pushed
//                          ^ next: the slot the next row overwrites (the oldest row, once the ring is full)
//
// Invariants: size = min(total, capacity); slots [0, size) hold exactly the last `size` rows pushed (rotated, which
// a histogram does not care about) and slots [size, capacity) are unused; next = total mod capacity.

export class ColumnRing {
  readonly columns: Float64Array[];
  readonly capacity: number;
  private next = 0;
  private filled = 0;
  private pushed = 0;

  constructor(width: number, capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.columns = Array.from({ length: width }, () => new Float64Array(capacity));
  }

  /** Rows held: min(total, capacity). */
  get size(): number {
    return this.filled;
  }

  /** Rows ever pushed. */
  get total(): number {
    return this.pushed;
  }

  get full(): boolean {
    return this.filled === this.capacity;
  }

  /** Copies row[j] into column j for every column (row has at least `columns.length` values); overwrites the oldest row when full. */
  push(row: Float64Array): void {
    const slot = this.next;
    const cols = this.columns;
    for (let j = 0; j < cols.length; j++) cols[j]![slot] = row[j]!;
    this.next = slot + 1 === this.capacity ? 0 : slot + 1;
    if (this.filled < this.capacity) this.filled++;
    this.pushed++;
  }
}
