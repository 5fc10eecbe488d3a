// A model's traffic table: integer weights per version summing to 100, an optional shadow, and a revision that
// increases with every change. Routing is data: `pick()` chooses a version for an unversioned request, sticky
// for a routing key (the same key lands on the same version while the weights stay), weighted at random otherwise.
import { createHash } from 'node:crypto';

export interface Shadow {
  version: string;
  /** Share of primary requests mirrored to the shadow, 0..1. */
  fraction: number;
}

export interface TrafficTable {
  weights: Record<string, number>;
  shadow: Shadow | null;
  revision: number;
}

export class TrafficError extends Error {}

/** Checks weights (integers 0..100 summing to 100, at least one version) and shadow; throws TrafficError. */
export function validateTraffic(weights: Record<string, number>, shadow: Shadow | null): void {
  const entries = Object.entries(weights);
  if (entries.length === 0) throw new TrafficError('weights must name at least one version');
  let sum = 0;
  for (const [v, w] of entries) {
    if (!/^[1-9][0-9]{0,8}$/.test(v)) throw new TrafficError(`weights: '${v}' is not a version (a positive integer as a string)`);
    if (!Number.isInteger(w) || w < 0 || w > 100) throw new TrafficError(`weights: '${v}' must be an integer from 0 to 100`);
    sum += w;
  }
  if (sum !== 100) throw new TrafficError(`weights must sum to 100 (got ${sum})`);
  if (shadow) {
    if (!/^[1-9][0-9]{0,8}$/.test(shadow.version)) throw new TrafficError(`shadow.version '${shadow.version}' is not a version`);
    if (!(shadow.fraction > 0 && shadow.fraction <= 1)) throw new TrafficError('shadow.fraction must be in (0, 1]');
  }
}

/** The versions a table sends requests to: those with a weight above 0, and the shadow. */
export function routedVersions(table: { weights: Record<string, number>; shadow: Shadow | null }): string[] {
  const named = Object.entries(table.weights).filter(([, w]) => w > 0).map(([v]) => v);
  return table.shadow ? [...named, table.shadow.version] : named;
}

/** Precomputed cumulative weights, so a pick is one random number and a short scan. */
export class TrafficRouter {
  readonly table: TrafficTable;
  private readonly versions: string[];
  private readonly cumulative: number[];

  constructor(table: TrafficTable) {
    this.table = table;
    this.versions = [];
    this.cumulative = [];
    let acc = 0;
    for (const [v, w] of Object.entries(table.weights).sort((a, b) => Number(a[0]) - Number(b[0]))) {
      if (w <= 0) continue;
      acc += w;
      this.versions.push(v);
      this.cumulative.push(acc);
    }
  }

  /** The version for a request; `routingKey` makes it sticky (hash of the key onto the 0..99 weight line). */
  pick(routingKey?: string): string {
    const point = routingKey === undefined ? Math.random() * 100 : keyPoint(routingKey);
    for (let i = 0; i < this.cumulative.length; i++) if (point < this.cumulative[i]!) return this.versions[i]!;
    return this.versions[this.versions.length - 1]!;
  }

  /** Whether this request should also go to the shadow (the coin is independent of the routing). */
  mirror(): Shadow | null {
    const s = this.table.shadow;
    return s && Math.random() < s.fraction ? s : null;
  }

  routesTo(version: string): boolean {
    return routedVersions(this.table).includes(version);
  }
}

/** A stable point in [0, 100) for a routing key. */
export function keyPoint(key: string): number {
  const h = createHash('sha1').update(key).digest();
  return (h.readUInt32BE(0) / 0x1_0000_0000) * 100;
}
