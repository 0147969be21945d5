import { spreadOf } from './projectSpread.js';
import { shardOf, type Table } from './table.js';

// Where a project's servers and ports are listed on the byProject index: one partition key each
// (`PROJECT#<project>`, `PORTS#<project>`), or, for a project the operator spread over M listing
// partitions, M of them: an entry under partition m, m its id's hash mod M. Partition 0 keeps the
// one key, so entries written before the project was spread (and every ordinary project's) stay
// where they are; M is only ever raised, and a reader queries every partition below it, so an
// entry written under a smaller M is still found.
//
// Partition m > 0 is `PROJECT<m>#<project>`, the number before the first '#': a project id may
// hold '#' (a JWT's claim, noauth's token), so `PROJECT#<project>#<m>` could be project
// `<project>#<m>`'s own key, and one project's page would list another's servers.

/** What is listed per project: its servers, its ports. */
export type ListingKind = 'PROJECT' | 'PORTS';

const partitionKey = (kind: ListingKind, projectId: string, m: number) => (m === 0 ? `${kind}#${projectId}` : `${kind}${m}#${projectId}`);

/** The byProject partition key `id`'s entry goes under. */
export function listingKeyOf(table: Table, kind: ListingKind, projectId: string, id: string): string {
  return partitionKey(kind, projectId, shardOf(id, spreadOf(table, projectId).listingPartitions));
}

/** Every byProject partition key of the project's listing: one for an ordinary project. */
export function listingKeys(table: Table, kind: ListingKind, projectId: string): string[] {
  return Array.from({ length: spreadOf(table, projectId).listingPartitions }, (_, m) => partitionKey(kind, projectId, m));
}
