import type { Table } from './table.js';

// How many keys one project's writes are spread over, for a project an operator names because it
// needs more creates and deletes a second than one key takes (about 1,000 write units a second:
// docs/write-units.md, "Spreading one project's writes"). Every other project keeps one of each,
// today's layout exactly. Counts are only ever raised: readers look at every key below the count,
// and what was written under a smaller count stays where it was written.

export interface ProjectSpread {
  /** The project's servers' and ports' listing entries: `PROJECT#<id>` and `PROJECT#<id>#<m>`, m < this. */
  readonly listingPartitions: number;
  /** The project's quota usage: the counters and this many slices of room taken from them. */
  readonly usageSlices: number;
}

/** Most keys of either kind: a page merges that many Queries, and a slice's room is gathered from at most that many. */
export const MAX_SPREAD = 64;

export const UNSPREAD: ProjectSpread = { listingPartitions: 1, usageSlices: 1 };

export type ProjectSpreads = Readonly<Record<string, ProjectSpread>>;

/** The spread of one project: the operator's setting, else one key of each. */
export const spreadOf = (table: Table, projectId: string): ProjectSpread => table.spreads?.[projectId] ?? UNSPREAD;
