import { INDEX_ALL_SERVERS, INDEX_BY_LEASE, INDEX_BY_PROJECT, LEASE_SHARDS, SERVER_SHARDS } from '../functions/core/shared/table.js';

// Issue 23's item 6 as arithmetic on measured figures: given each operation's write units per
// index (bench/writeUnits.ts) and a rate of operations, the write units a second the busiest
// partition key of each index takes, against DynamoDB's limit of about 1,000 per key (a
// throttled index throttles the table's writes with it). docs/write-units.md explains the keys.

/** About what one partition key of a table or an index takes, write units a second. */
export const PARTITION_KEY_WRITE_UNITS = 1_000;

export interface IndexLoad {
  readonly index: string;
  /** How many partition keys the load spreads over. */
  readonly keys: number;
  /** Write units a second on the busiest key, and its share of the limit. */
  readonly unitsPerKey: number;
  readonly headroom: number;
}

/**
 * The load of `perSecond` operations a second, mixed as `mix` (operation to its share, summing
 * to 1), on each index: spread over every partition of the lease and all-servers indexes, and,
 * for one project (`scope: 'project'`), on its one project key (its servers', its ports' and its
 * volumes' keys are distinct, so one key is the worst case).
 */
export function indexLoad(
  unitsPerOperation: Record<string, Record<string, number>>, mix: Record<string, number>, perSecond: number, scope: 'deployment' | 'project',
): IndexLoad[] {
  const keysOf: Record<string, number> = {
    [INDEX_BY_LEASE]: LEASE_SHARDS, [INDEX_ALL_SERVERS]: SERVER_SHARDS, [INDEX_BY_PROJECT]: scope === 'project' ? 1 : Number.POSITIVE_INFINITY,
  };
  return Object.entries(keysOf).map(([index, keys]) => {
    const units = Object.entries(mix).reduce((sum, [op, share]) => sum + share * perSecond * (unitsPerOperation[op]?.[index] ?? 0), 0);
    const unitsPerKey = Number.isFinite(keys) ? units / keys : 0;
    return { index, keys, unitsPerKey, headroom: unitsPerKey === 0 ? Number.POSITIVE_INFINITY : PARTITION_KEY_WRITE_UNITS / unitsPerKey };
  });
}

/**
 * An operation's byProject units by what the keys list, from its units by key (`byProject
 * PROJECT3#<project>`: its servers'; `PORTS…`: its ports'), the partition number dropped.
 */
export function listingUnitsByKind(keyUnits: Record<string, number>): Record<string, number> {
  const byKind: Record<string, number> = {};
  for (const [key, units] of Object.entries(keyUnits)) {
    const kind = /^byProject ([A-Z]+)\d*#/.exec(key)?.[1];
    if (kind) byKind[kind] = (byKind[kind] ?? 0) + units;
  }
  return byKind;
}

/**
 * One project spread over `partitions` listing partitions (functions/core/shared/projectListing.ts):
 * each kind's entries (its servers', its ports') over that many keys, evenly by their ids' hash,
 * so the busiest key of each kind takes its kind's units a second over `partitions`.
 */
export function spreadListingLoad(
  unitsByKind: Record<string, Record<string, number>>, mix: Record<string, number>, perSecond: number, partitions: number,
): IndexLoad[] {
  const kinds = [...new Set(Object.values(unitsByKind).flatMap((k) => Object.keys(k)))].sort();
  return kinds.map((kind) => {
    const units = Object.entries(mix).reduce((sum, [op, share]) => sum + share * perSecond * (unitsByKind[op]?.[kind] ?? 0), 0);
    const unitsPerKey = units / partitions;
    return { index: `${INDEX_BY_PROJECT} ${kind}`, keys: partitions, unitsPerKey, headroom: unitsPerKey === 0 ? Number.POSITIVE_INFINITY : PARTITION_KEY_WRITE_UNITS / unitsPerKey };
  });
}

/** Write units of each quota step of a spread project, on its three kinds of keys (bench/writeUnits.ts billSliceCharges). */
export interface SliceUnits {
  /** A create whose slice has its room: the room taken and the charge put. */
  readonly take: Record<QuotaKey, number>;
  /** A create whose slice has not: the take refused, then the refill from the counters with the charge. */
  readonly refill: Record<QuotaKey, number>;
  /** A delete's give-back: the charge deleted, its room back to its slice. */
  readonly giveBack: Record<QuotaKey, number>;
}

export type QuotaKey = 'slice' | 'charges' | 'counters';

/**
 * One project's quota writes a second over its usage slices (functions/core/placement/quotas/slices.ts):
 * `creates` and `deletes` a second, a create refilling its slice once per `refillServers` (the
 * worst case: a project only growing, so that no delete's room is there to take), over `slices`
 * slice keys, `chargePartitions` charge keys, and the one counters key.
 */
export function sliceLoad(units: SliceUnits, creates: number, deletes: number, slices: number, chargePartitions: number, refillServers: number): IndexLoad[] {
  const perCreate = (k: QuotaKey) => (1 - 1 / refillServers) * units.take[k] + (1 / refillServers) * units.refill[k];
  const keysOf: Record<QuotaKey, number> = { slice: slices, charges: chargePartitions, counters: 1 };
  return (['slice', 'charges', 'counters'] as const).map((k) => {
    const unitsPerKey = (creates * perCreate(k) + deletes * units.giveBack[k]) / keysOf[k];
    return { index: `quota ${k}`, keys: keysOf[k], unitsPerKey, headroom: unitsPerKey === 0 ? Number.POSITIVE_INFINITY : PARTITION_KEY_WRITE_UNITS / unitsPerKey };
  });
}
