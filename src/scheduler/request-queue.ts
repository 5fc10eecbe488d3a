// FIFO of pending requests: an array plus a head index. Invariant: items[head..] are the waiting requests in
// arrival order; shift() is O(1) and the consumed prefix is dropped once it is both large and at least half
// of the array, so memory stays proportional to what is waiting.
export class RequestQueue<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head]!;
    (this.items as (T | undefined)[])[this.head] = undefined;
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Puts items back at the head, in the order given (they were taken from there). */
  prepend(items: T[]): void {
    this.items = items.concat(this.items.slice(this.head));
    this.head = 0;
  }

  /** Removes and returns every waiting item. */
  drain(): T[] {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return rest;
  }
}
