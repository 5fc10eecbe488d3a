// Progress on stderr: on a terminal one line redrawn in place with `\r` (a bar when the total is known, a spinner
// otherwise), at most ten times a second; elsewhere (pipes, files, CI logs) plain lines at each quarter of the
// total, or every `plainEveryMs` without a total, and never a `\r`.

export interface ProgressOptions {
  stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Known total (a bar and quarters); undefined draws a spinner and prints plain lines by time. */
  total?: number;
  /** The text for a state: `done` of `total` units. */
  render: (done: number, total: number | undefined) => string;
  /** Plain mode without a total: one line this often (default 5 s). */
  plainEveryMs?: number;
  now?: () => number;
}

const FRAMES = ['|', '/', '-', '\\'];
const REDRAW_MS = 100;
const BAR_WIDTH = 24;

export class Progress {
  private readonly tty: boolean;
  private readonly now: () => number;
  private done = 0;
  private lastDrawMs = -Infinity;
  private lastQuarter = 0;
  private frame = 0;
  private drawn = false;
  private finished = false;

  constructor(private readonly opts: ProgressOptions) {
    this.tty = opts.stream.isTTY === true;
    this.now = opts.now ?? Date.now;
    if (!this.tty && opts.total === undefined) this.lastDrawMs = this.now();
  }

  /** Sets the amount done so far and redraws when it is time to. */
  update(done: number): void {
    if (this.finished) return;
    this.done = done;
    const t = this.now();
    const { total } = this.opts;
    if (this.tty) {
      // The last step is always drawn: the line may stay up a while (an upload waits for the server's answer).
      if (t - this.lastDrawMs >= REDRAW_MS || (total !== undefined && done >= total)) this.draw(t);
    } else if (total !== undefined && total > 0) {
      const quarter = Math.min(4, Math.floor((done / total) * 4));
      if (quarter > this.lastQuarter && quarter < 4) {
        this.lastQuarter = quarter;
        this.opts.stream.write(`${this.opts.render(done, total)}\n`);
      }
    } else if (t - this.lastDrawMs >= (this.opts.plainEveryMs ?? 5000)) {
      this.lastDrawMs = t;
      this.opts.stream.write(`${this.opts.render(done, total)}\n`);
    }
  }

  /** Draws the final state once (a terminal line is ended with a newline) and stops redrawing. */
  finish(line?: string): void {
    if (this.finished) return;
    this.finished = true;
    const text = line ?? this.opts.render(this.done, this.opts.total);
    if (this.tty) this.opts.stream.write(`\r${this.fit(text)}\x1b[K\n`);
    else this.opts.stream.write(`${text}\n`);
  }

  /** Removes the terminal line without printing anything (before an error message). */
  clear(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.tty && this.drawn) this.opts.stream.write('\r\x1b[K');
  }

  private draw(t: number): void {
    this.lastDrawMs = t;
    this.drawn = true;
    const { total } = this.opts;
    const text = this.opts.render(this.done, total);
    let prefix: string;
    if (total !== undefined && total > 0) {
      const filled = Math.min(BAR_WIDTH, Math.round((this.done / total) * BAR_WIDTH));
      prefix = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] `;
    } else {
      prefix = `${FRAMES[this.frame++ % FRAMES.length]} `;
    }
    this.opts.stream.write(`\r${this.fit(prefix + text)}\x1b[K`);
  }

  /** A redrawn line must not wrap, or `\r` returns to the wrong row. */
  private fit(text: string): string {
    const cols = this.opts.stream.columns;
    return cols && text.length >= cols ? text.slice(0, cols - 1) : text;
  }
}
