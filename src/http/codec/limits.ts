// Per-request limits on what a body may make the server allocate or walk, beyond MAX_BODY_BYTES: elements over all
// input tensors, rows along the batch dimension, number of inputs, bytes of one BYTES element, and the nesting of
// free-form JSON (`parameters`). Exceeding one is a 400 naming the limit and its variable.
import { ERR_BAD_REQUEST, ERR_INVALID_TENSOR } from '../../errors.js';

export interface RequestLimits {
  maxTensorElements: number;
  maxRowsPerRequest: number;
  maxInputs: number;
  maxBytesElementBytes: number;
  maxJsonDepth: number;
}

/** Counts elements over a request's inputs; throws once the total passes MAX_TENSOR_ELEMENTS. */
export class ElementBudget {
  private used = 0;
  constructor(private readonly limits: RequestLimits) {}

  take(name: string, shape: readonly number[], count: number): void {
    this.used += count;
    if (this.used > this.limits.maxTensorElements) {
      throw new ERR_INVALID_TENSOR(name, `shape [${shape.join(', ')}] brings the request to ${this.used} elements, more than MAX_TENSOR_ELEMENTS (${this.limits.maxTensorElements})`);
    }
  }
}

export function checkRows(rows: number, limits: RequestLimits): void {
  if (rows > limits.maxRowsPerRequest) throw new ERR_BAD_REQUEST(`the request has ${rows} rows, more than MAX_ROWS_PER_REQUEST (${limits.maxRowsPerRequest}); split it`);
}

export function checkInputCount(count: number, limits: RequestLimits): void {
  if (count > limits.maxInputs) throw new ERR_BAD_REQUEST(`the request has ${count} inputs, more than MAX_INPUTS (${limits.maxInputs})`);
}

/** True when `value` nests objects/arrays deeper than `max` levels; iterative, so no input can overflow the stack. */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (depth > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v as object)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

export function checkJsonDepth(what: string, value: unknown, limits: RequestLimits): void {
  if (value !== undefined && nestedDeeperThan(value, limits.maxJsonDepth)) throw new ERR_BAD_REQUEST(`${what} is nested deeper than MAX_JSON_DEPTH (${limits.maxJsonDepth}) levels`);
}
