// A single-pass JSON parser over the body's bytes that gives what Fastify's JSON parser gives (JSON.parse after a
// leading BOM is dropped, then secure-json-parse's __proto__ / constructor.prototype checks), except that with
// `packTensorData` every V2 `inputs[i].data` made only of numbers and booleans in a rectangular nesting arrives as
// a ScannedData (flat doubles + dims) instead of nested JS arrays. Invariant: results never depend on the fast path;
// it only ever declines (-1) and lets the general parser re-read the same bytes. 2x JSON.parse: bench/json-scan.ts.
import { MAX_DATA_NESTING } from './tensor-fill.js';

export type PoisonAction = 'error' | 'remove' | 'ignore';

export interface ScanOptions {
  /** Deepest nesting of arrays and objects allowed (the root object is level 1); beyond it a JsonScanError. */
  maxDepth?: number;
  /** Fastify's onProtoPoisoning: what to do with a "__proto__" key. */
  protoAction?: PoisonAction;
  /** Fastify's onConstructorPoisoning: what to do with a "constructor" object that has a "prototype" key. */
  constructorAction?: PoisonAction;
  /** Deliver V2 `inputs[i].data` of numbers/booleans as ScannedData. */
  packTensorData?: boolean;
}

export const DEFAULT_MAX_DEPTH = 64;
/** Deepest `data` nesting the fast path packs; deeper data stays JS arrays, for tensor-fill's own nesting error. */
const MAX_PACKED_LEVELS = MAX_DATA_NESTING;

/** Invariant: `values.length === count`; `dims` multiply to `count`; booleans are held as 1 and 0. */
export class ScannedData {
  constructor(
    /** The numbers in row-major order, exactly the doubles JSON.parse gives. */
    readonly values: readonly number[],
    readonly count: number,
    /** Lengths per nesting level: [count] for flat data, [2, 3] for [[a, b, c], [d, e, f]]. */
    readonly dims: readonly number[],
    /** 1 where the element was a JSON boolean; null when none was. */
    readonly booleans: Uint8Array | null,
  ) {}

  /** The JSON value this stands for (what JSON.parse would have given). */
  toArray(): unknown[] {
    let next = 0;
    const build = (level: number): unknown[] => {
      const len = this.dims[level]!;
      const out: unknown[] = new Array(len);
      for (let i = 0; i < len; i++) {
        if (level + 1 < this.dims.length) out[i] = build(level + 1);
        else out[i] = this.booleans?.[next] === 1 ? this.values[next++] === 1 : this.values[next++];
      }
      return out;
    };
    return build(0);
  }
}

/** A JSON syntax error, a nesting deeper than maxDepth, or a poisoned key; `position` is a byte offset. */
export class JsonScanError extends SyntaxError {
  constructor(
    readonly reason: 'syntax' | 'depth' | 'poison',
    problem: string,
    readonly position: number,
  ) {
    super(`${problem}${problem.includes('JSON') ? '' : ' in JSON'} at position ${position}`);
    this.name = 'JsonScanError';
  }
}

// Exact powers of ten: m * 10^e or m / 10^e is correctly rounded when m < 2^53 and |e| <= 22 (Clinger's fast path).
const POW10 = new Float64Array(23).map((_, i) => 10 ** i);
const MAX_EXACT = 9007199254740992;

const levelLen = new Int32Array(MAX_PACKED_LEVELS + 2);
const levelDim = new Int32Array(MAX_PACKED_LEVELS + 2);

const enum Role { Other, Root, Inputs, Input }

function isWs(c: number | undefined): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 48 && c <= 57;
}

class Scanner {
  /** Where the last string or number read ended. */
  pos = 0;
  /** The last key read by readKey. */
  key = '';
  /** The last data array scanData packed. */
  packed: ScannedData | undefined = undefined;
  /** A key decoded to "__proto__" or "constructor" was seen: run the secure-json-parse filter at the end. */
  suspect = false;
  /** Where the first such key starts (the position a poison error reports). */
  suspectAt = 0;
  readonly end: number;

  constructor(
    readonly b: Buffer,
    readonly maxDepth: number,
    readonly pack: boolean,
  ) {
    this.end = b.length;
  }

  fail(problem: string, at = this.pos): never {
    throw new JsonScanError('syntax', problem, at);
  }

  unexpected(at: number): never {
    if (at >= this.end) throw new JsonScanError('syntax', 'Unexpected end of JSON input', at);
    const c = this.b[at]!;
    const shown = c < 32 ? `\\u${c.toString(16).padStart(4, '0')}` : c >= 128 ? `\\x${c.toString(16)}` : String.fromCharCode(c);
    this.fail(`Unexpected token '${shown}'`, at);
  }

  skipWs(p: number): number {
    const b = this.b;
    while (isWs(b[p])) p++;
    return p;
  }

  parse(): unknown {
    const b = this.b;
    let p = b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
    const stack: (unknown[] | Record<string, unknown>)[] = [];
    const roles: Role[] = [];
    const keys: string[] = [];
    let key = '';
    for (;;) {
      // Read one value at p; a container pushes a frame and loops back for its first member.
      p = this.skipWs(p);
      const c = b[p];
      const parentRole = roles.length === 0 ? Role.Other : roles[roles.length - 1]!;
      let value: unknown;
      if (c === 91 /* [ */) {
        const q = parentRole === Role.Input && key === 'data' ? this.scanData(p, this.maxDepth - stack.length, stack[stack.length - 1] as Record<string, unknown>) : -1;
        if (q >= 0) {
          value = this.packed;
          p = q;
        } else {
          if (stack.length >= this.maxDepth) throw new JsonScanError('depth', `Nesting deeper than ${this.maxDepth} levels`, p);
          p = this.skipWs(p + 1);
          if (b[p] !== 93) {
            stack.push([]);
            roles.push(parentRole === Role.Root && key === 'inputs' ? Role.Inputs : Role.Other);
            keys.push(key);
            continue;
          }
          value = [];
          p++;
        }
      } else if (c === 123 /* { */) {
        if (stack.length >= this.maxDepth) throw new JsonScanError('depth', `Nesting deeper than ${this.maxDepth} levels`, p);
        p = this.skipWs(p + 1);
        if (b[p] !== 125) {
          roles.push(!this.pack ? Role.Other : stack.length === 0 ? Role.Root : parentRole === Role.Inputs ? Role.Input : Role.Other);
          stack.push({});
          keys.push(key);
          p = this.readKey(p);
          key = this.key;
          continue;
        }
        value = {};
        p++;
      } else if (c === 34 /* " */) {
        value = this.readString(p);
        p = this.pos;
      } else if (c === 116 /* t */ && b[p + 1] === 114 && b[p + 2] === 117 && b[p + 3] === 101) {
        value = true;
        p += 4;
      } else if (c === 102 /* f */ && b[p + 1] === 97 && b[p + 2] === 108 && b[p + 3] === 115 && b[p + 4] === 101) {
        value = false;
        p += 5;
      } else if (c === 110 /* n */ && b[p + 1] === 117 && b[p + 2] === 108 && b[p + 3] === 108) {
        value = null;
        p += 4;
      } else if (c === 45 || isDigit(c)) {
        value = this.readNumber(p);
        p = this.pos;
      } else {
        this.unexpected(c === 116 || c === 102 || c === 110 ? literalMismatch(b, p) : p);
      }
      // Hand the value to its container; close containers until one wants another member.
      for (;;) {
        p = this.skipWs(p);
        if (stack.length === 0) {
          if (p < this.end) this.fail('Unexpected non-whitespace character after JSON', p);
          return value;
        }
        const top = stack[stack.length - 1]!;
        const sep = b[p];
        if (Array.isArray(top)) {
          top.push(value);
          if (sep === 44) {
            p++;
            break;
          }
          if (sep !== 93) this.fail(p >= this.end ? 'Unexpected end of JSON input' : "Expected ',' or ']' after array element", p);
        } else {
          // JSON.parse defines properties: a "__proto__" key is an own property, not the prototype.
          if (key === '__proto__') Object.defineProperty(top, key, { value, writable: true, enumerable: true, configurable: true });
          else top[key] = value;
          if (sep === 44) {
            p = this.readKey(p + 1);
            key = this.key;
            break;
          }
          if (sep !== 125) this.fail(p >= this.end ? 'Unexpected end of JSON input' : "Expected ',' or '}' after property value", p);
        }
        p++;
        value = top;
        stack.pop();
        roles.pop();
        key = keys.pop()!;
      }
    }
  }

  /** Reads `"name" :` from p (whitespace allowed around); sets `key`, returns the position after the colon. */
  readKey(p: number): number {
    p = this.skipWs(p);
    if (this.b[p] !== 34) this.fail(p >= this.end ? 'Unexpected end of JSON input' : "Expected double-quoted property name", p);
    const k = this.readString(p);
    if ((k === '__proto__' || k === 'constructor') && !this.suspect) {
      this.suspect = true;
      this.suspectAt = p;
    }
    this.key = k;
    p = this.skipWs(this.pos);
    if (this.b[p] !== 58) this.fail(p >= this.end ? 'Unexpected end of JSON input' : "Expected ':' after property name", p);
    return p + 1;
  }

  /** The string starting at the quote at `q`; sets `pos` after the closing quote. */
  readString(q: number): string {
    const b = this.b;
    const start = q + 1;
    let p = start;
    let bits = 0;
    let c = b[p]!;
    while (c !== 34) {
      if (c === 92) return this.readEscaped(start, p);
      if (!(c >= 32)) this.fail(c === undefined ? 'Unterminated string' : 'Bad control character in string literal', p);
      bits |= c;
      c = b[++p]!;
    }
    this.pos = p + 1;
    if (bits >= 128) return b.toString('utf8', start, p);
    return p - start <= CACHED_MAX ? cachedAscii(b, start, p - start) : b.toString('latin1', start, p);
  }

  readEscaped(start: number, p: number): string {
    const b = this.b;
    let out = '';
    let seg = start;
    for (;;) {
      const c = b[p];
      if (c === 34) break;
      if (c === undefined) this.fail('Unterminated string', p);
      if (c < 32) this.fail('Bad control character in string literal', p);
      if (c !== 92) {
        p++;
        continue;
      }
      // Segments end at ASCII bytes, so decoding them apart gives what decoding the whole body gives.
      if (seg < p) out += b.toString('utf8', seg, p);
      const e = b[p + 1];
      switch (e) {
        case 34: out += '"'; break;
        case 92: out += '\\'; break;
        case 47: out += '/'; break;
        case 98: out += '\b'; break;
        case 102: out += '\f'; break;
        case 110: out += '\n'; break;
        case 114: out += '\r'; break;
        case 116: out += '\t'; break;
        case 117: {
          let code = 0;
          for (let i = 2; i < 6; i++) {
            const h = b[p + i];
            const d = h === undefined ? -1 : h >= 48 && h <= 57 ? h - 48 : h >= 97 && h <= 102 ? h - 87 : h >= 65 && h <= 70 ? h - 55 : -1;
            if (d < 0) this.fail(h === undefined ? 'Unterminated string' : 'Bad Unicode escape', p + i);
            code = code * 16 + d;
          }
          out += String.fromCharCode(code);
          p += 4;
          break;
        }
        default:
          this.fail(e === undefined ? 'Unterminated string' : 'Bad escaped character', p + 1);
      }
      p += 2;
      seg = p;
    }
    if (seg < p) out += b.toString('utf8', seg, p);
    this.pos = p + 1;
    return out;
  }

  /** The number at p (JSON grammar, the double JSON.parse gives); sets `pos` after it. */
  readNumber(start: number): number {
    const b = this.b;
    let p = start;
    let c = b[p];
    const neg = c === 45;
    if (neg) c = b[++p];
    let m = 0;
    let e = 0;
    if (c === 48) {
      c = b[++p];
    } else if (isDigit(c)) {
      while (isDigit(c)) {
        m = m * 10 + (c! - 48);
        c = b[++p];
      }
    } else {
      this.fail(c === undefined ? 'Unexpected end of JSON input' : 'No number after minus sign', p);
    }
    if (c === 46) {
      c = b[++p];
      if (!isDigit(c)) this.fail(c === undefined ? 'Unexpected end of JSON input' : 'Unterminated fractional number', p);
      while (isDigit(c)) {
        m = m * 10 + (c! - 48);
        e--;
        c = b[++p];
      }
    }
    let exact = m <= MAX_EXACT;
    if (c === 101 || c === 69) {
      exact = false;
      c = b[++p];
      if (c === 43 || c === 45) c = b[++p];
      if (!isDigit(c)) this.fail(c === undefined ? 'Unexpected end of JSON input' : 'Exponent part is missing a number', p);
      while (isDigit(c)) c = b[++p];
    }
    this.pos = p;
    if (exact && e >= -22) {
      const v = e < 0 ? m / POW10[-e]! : m;
      return neg ? -v : v;
    }
    return Number(b.toString('latin1', start, p));
  }

  /**
   * Packs the `data` array at p (numbers and booleans only, equal lengths per level, elements only at the deepest
   * level, at most min(MAX_PACKED_LEVELS, levelsLeft) levels) into `packed`; returns the position after it, or -1
   * to let the general parser read it (which also reports any syntax error at its true position).
   */
  scanData(p: number, levelsLeft: number, input: Record<string, unknown>): number {
    const b = this.b;
    const maxLevels = levelsLeft < MAX_PACKED_LEVELS ? levelsLeft : MAX_PACKED_LEVELS;
    // Written in place, growing past its length when needed and cut to `count` at the end: sized by the shape
    // already read, no copy is made. (A JS array, not a Float64Array: a fresh ArrayBuffer of an image's size cost
    // ~20 page faults per body, as glibc hands freed native memory back to the OS; the young generation reuses its
    // pages: perf stat gave 2x the CPU time with a Float64Array per body.)
    const values: number[] = new Array<number>(presize(input.shape, (this.end - p) / 2));
    // 1 at each boolean's index once one is seen; numbers leave holes (read as 0).
    let bools: number[] | null = null;
    let count = 0;
    let level = 0;
    let deepest = 0;
    let leafLevel = 0;
    // Members of the innermost open array so far; an outer array's count waits in levelLen[its level].
    let len = 0;
    let c = 91;
    for (;;) {
      // A value starts at p with byte c.
      if (c === 91) {
        levelLen[level] = len;
        if (++level > maxLevels) return -1;
        if (level > deepest) {
          deepest = level;
          levelDim[level] = -1;
        }
        c = b[++p]!;
        while (c === 32 || c === 10 || c === 13 || c === 9) c = b[++p]!;
        if (c !== 93) {
          len = 1;
          continue;
        }
        len = 0;
      } else {
        if (leafLevel !== level) {
          if (leafLevel !== 0) return -1;
          leafLevel = level;
        }
        if (c === 116 || c === 102) {
          const isTrue = c === 116;
          if (isTrue ? b[p + 1] !== 114 || b[p + 2] !== 117 || b[p + 3] !== 101 : b[p + 1] !== 97 || b[p + 2] !== 108 || b[p + 3] !== 115 || b[p + 4] !== 101) return -1;
          if (bools === null) bools = new Array<number>(count).fill(0);
          bools[count] = 1;
          values[count++] = isTrue ? 1 : 0;
          p += isTrue ? 4 : 5;
        } else {
          // Mantissa digits as an integer m, decimal exponent e; NaN (past the end) fails every digit test.
          const start = p;
          const neg = c === 45;
          if (neg) c = b[++p]!;
          let m = c - 48;
          let d: number;
          if (m === 0) {
            d = b[++p]! - 48;
          } else if (m > 0 && m <= 9) {
            d = b[++p]! - 48;
            while (d >= 0 && d <= 9) {
              m = m * 10 + d;
              d = b[++p]! - 48;
            }
          } else {
            return -1;
          }
          let e = 0;
          if (d === -2 /* . */) {
            const fraction = p + 1;
            d = b[++p]! - 48;
            if (!(d >= 0 && d <= 9)) return -1;
            do {
              m = m * 10 + d;
              d = b[++p]! - 48;
            } while (d >= 0 && d <= 9);
            e = fraction - p;
          }
          if (d === 53 || d === 21 /* e E */) {
            d = b[++p]! - 48;
            let sign = 1;
            if (d === -3 /* - */) {
              sign = -1;
              d = b[++p]! - 48;
            } else if (d === -5 /* + */) {
              d = b[++p]! - 48;
            }
            if (!(d >= 0 && d <= 9)) return -1;
            let x = 0;
            do {
              x = x * 10 + d;
              d = b[++p]! - 48;
            } while (d >= 0 && d <= 9);
            e += sign * x;
          }
          let v: number;
          if (e >= -22 && e <= 22 && m <= MAX_EXACT) {
            v = e < 0 ? m / POW10[-e]! : m * POW10[e]!;
            if (neg) v = -v;
          } else {
            v = Number(b.toString('latin1', start, p));
          }
          values[count++] = v;
        }
        c = b[p]!;
      }
      // After a value (or at the ']' of an empty array): close arrays until a ',' asks for another value.
      for (;;) {
        if (c === 44) {
          c = b[++p]!;
          while (c === 32 || c === 10 || c === 13 || c === 9) c = b[++p]!;
          len++;
          break;
        }
        if (c === 93) {
          const dim = levelDim[level]!;
          if (dim === -1) levelDim[level] = len;
          else if (dim !== len) return -1;
          p++;
          if (--level === 0) {
            if (leafLevel !== 0 && leafLevel !== deepest) return -1;
            this.packed = finish(values, count, deepest, bools);
            return p;
          }
          len = levelLen[level]!;
          c = b[p]!;
          continue;
        }
        if (c === 32 || c === 10 || c === 13 || c === 9) {
          c = b[++p]!;
          continue;
        }
        return -1;
      }
    }
  }
}

/** Short ASCII strings (keys, datatypes, names) come from a small table when the same bytes were seen before. */
const CACHED_MAX = 32;
const stringCache: string[] = new Array<string>(512).fill('');

function cachedAscii(b: Buffer, start: number, len: number): string {
  let h = len;
  for (let i = start; i < start + len; i++) h = (h * 31 + b[i]!) | 0;
  const slot = h & 511;
  const hit = stringCache[slot]!;
  if (hit.length === len) {
    let i = 0;
    while (i < len && hit.charCodeAt(i) === b[start + i]) i++;
    if (i === len) return hit;
  }
  const s = b.toString('latin1', start, start + len);
  stringCache[slot] = s;
  return s;
}

/** Where the literal true/false/null starting at p stops matching. */
function literalMismatch(b: Buffer, p: number): number {
  const word = b[p] === 116 ? 'true' : b[p] === 102 ? 'false' : 'null';
  let i = 0;
  while (i < word.length && b[p + i] === word.charCodeAt(i)) i++;
  return p + i;
}

/** Beyond this a JS array made with a length may start in dictionary mode; larger data grows as it goes. */
const PRESIZE_MAX = 1 << 22;

/** The element count `shape` promises when it is an array of integers, up to `max` (what the bytes left can hold). */
function presize(shape: unknown, max: number): number {
  if (!Array.isArray(shape)) return 0;
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) return 0;
    n *= d;
  }
  return n <= max && n <= PRESIZE_MAX ? n : 0;
}

function finish(values: number[], count: number, deepest: number, bools: number[] | null): ScannedData {
  const dims: number[] = new Array(deepest);
  for (let l = 1; l <= deepest; l++) dims[l - 1] = levelDim[l]!;
  if (values.length !== count) values.length = count;
  let mask: Uint8Array | null = null;
  if (bools !== null) {
    mask = new Uint8Array(count);
    for (let i = 0; i < bools.length; i++) if (bools[i] === 1) mask[i] = 1;
  }
  return new ScannedData(values, count, dims, mask);
}

/** Runs secure-json-parse's filter (breadth first, as it does) over a result that has a suspect key. */
function filterPoison(root: object, protoAction: PoisonAction, constructorAction: PoisonAction, at: number): void {
  let next: object[] = [root];
  while (next.length > 0) {
    const nodes = next;
    next = [];
    for (const node of nodes) {
      if (protoAction !== 'ignore' && Object.hasOwn(node, '__proto__')) {
        if (protoAction === 'error') throw new JsonScanError('poison', 'Object contains forbidden prototype property', at);
        delete (node as { __proto__?: unknown }).__proto__;
      }
      const ctor = Object.hasOwn(node, 'constructor') ? (node as { constructor: unknown }).constructor : undefined;
      if (constructorAction !== 'ignore' && ctor !== null && typeof ctor === 'object' && Object.hasOwn(ctor, 'prototype')) {
        if (constructorAction === 'error') throw new JsonScanError('poison', 'Object contains forbidden prototype property', at);
        delete (node as { constructor?: unknown }).constructor;
      }
      for (const key in node) {
        const value = (node as Record<string, unknown>)[key];
        if (value !== null && typeof value === 'object' && !(value instanceof ScannedData)) next.push(value);
      }
    }
  }
}

/**
 * Parses JSON bytes as Fastify's default JSON parser does (a leading BOM dropped; "__proto__" and
 * constructor.prototype per the actions, 'error' by default), with at most `maxDepth` nesting levels.
 * Throws JsonScanError. The body is never decoded as a whole: strings are decoded one by one.
 */
export function scanJson(bytes: Uint8Array, options: ScanOptions = {}): unknown {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const protoAction = options.protoAction ?? 'error';
  const constructorAction = options.constructorAction ?? 'error';
  const scanner = new Scanner(buf, options.maxDepth ?? DEFAULT_MAX_DEPTH, options.packTensorData ?? false);
  const result = scanner.parse();
  if (scanner.suspect && (protoAction !== 'ignore' || constructorAction !== 'ignore') && result !== null && typeof result === 'object') {
    filterPoison(result, protoAction, constructorAction, scanner.suspectAt);
  }
  return result;
}

/** A V2 inference body: scanJson with every `inputs[i].data` of numbers/booleans packed as ScannedData. */
export function scanInferBody(bytes: Uint8Array, options?: Omit<ScanOptions, 'packTensorData'>): unknown {
  return scanJson(bytes, options === undefined ? PACK : { ...options, packTensorData: true });
}

const PACK: ScanOptions = { packTensorData: true };
