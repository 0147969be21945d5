import { BatchGetCommand, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { MAX_SPREAD, spreadOf } from '../../shared/projectSpread.js';
import { shardOf, type Table } from '../../shared/table.js';

// What each server was charged, one small item per server (`SERVERCHARGES#<project>`,
// `CHARGE#<server id>`), written and deleted in the same transaction as the project's usage
// counters change (usage.ts). Under a partition key of their own, not the counters': the
// counters' item takes 2 write units a charge and the charges as many again, so sharing a key
// would halve what one project's charges can do a second (docs/write-units.md).
//
// The previous version named every charged server in a map on the usage item itself (`counted`,
// about 60 bytes a server): a write to the counters was billed a unit more per KB of it, and at
// DynamoDB's 400 KB a project could hold no more than about 6,500 servers. Such a map is still
// read, and drains as its servers give their charges back.
//
// A project spread over usage slices (projectSpread.ts, usageSlices > 1) puts each charge under
// `SERVERCHARGES<n>#<project>`, n its server id's hash mod MAX_SPREAD (n = 0 keeps the unspread
// key): a fixed count, not the slices', so raising the slices never moves a charge, and a retry's
// charge put, conditioned on its absence, meets the charge its first attempt wrote whatever the
// count was then. Each such charge names the slice its room was taken from (`slice`), which its
// give-back returns the room to (usage.ts, slices.ts). Readers also look under the unspread key,
// where the charges made before the project was spread stay.

export interface Counted {
  readonly cores: number;
  readonly ram: number;
  readonly at: number;
}

/** A charge and where it is kept: its own item, or an entry of the previous version's map. */
export interface Charge extends Counted {
  readonly inMap: boolean;
  /** The partition its item is under (a spread project's charges are under several). */
  readonly pk?: string;
  /** The usage slice its room was taken from: given back there, not to the counters. */
  readonly slice?: number;
}

export const usageKey = (projectId: string) => ({ pk: `SERVERUSAGE#${projectId}`, sk: 'META' });

/** A give-back's delete of the charge's item (in its transaction), conditioned on the charge as read: a repeat gives back nothing. */
export const chargeDeletion = (table: Table, projectId: string, serverId: string, charge: Counted & { readonly pk?: string }) => ({
  Delete: {
    TableName: table.name, Key: { ...chargeKey(projectId, serverId), ...(charge.pk ? { pk: charge.pk } : {}) },
    ConditionExpression: '#cores = :cores AND #ram = :ram AND #at = :at',
    ExpressionAttributeNames: { '#cores': 'cores', '#ram': 'ram', '#at': 'at' },
    ExpressionAttributeValues: { ':cores': charge.cores, ':ram': charge.ram, ':at': charge.at },
  },
});
/** Where a server's charge is: the one partition of an ordinary project, one of MAX_SPREAD of a spread one. */
export const chargeKey = (projectId: string, serverId: string, spread = false) => ({
  pk: chargesOf(projectId, spread ? shardOf(serverId, MAX_SPREAD) : 0), sk: `${CHARGE}${serverId}`,
});
/** Partition n of a project's charges: the number before the `#`, as a project id may hold `#`. */
const chargesOf = (projectId: string, n = 0) => (n === 0 ? `SERVERCHARGES#${projectId}` : `SERVERCHARGES${n}#${projectId}`);
const CHARGE = 'CHARGE#';

/** Whether the project's charges are spread over MAX_SPREAD partitions (its usage is sliced). */
export const chargesSpread = (table: Table, projectId: string) => spreadOf(table, projectId).usageSlices > 1;

/** The keys a server's charge may be under: its spread key, and the unspread one it had before. */
function chargeKeysOf(table: Table, projectId: string, serverId: string) {
  const own = chargeKey(projectId, serverId, chargesSpread(table, projectId));
  const before = chargeKey(projectId, serverId);
  return own.pk === before.pk ? [own] : [own, before];
}

const asCharge = (entry: Record<string, unknown>, inMap: boolean): Charge => ({
  cores: Number(entry.cores), ram: Number(entry.ram), at: Number(entry.at), inMap,
  ...(typeof entry.pk === 'string' ? { pk: entry.pk } : {}),
  ...(typeof entry.slice === 'number' ? { slice: entry.slice } : {}),
});

/**
 * One server's charge, its item first, else its entry in the previous version's map: both items
 * in one BatchGetItem, each read only for what a charge holds.
 */
export async function readCharge(table: Table, projectId: string, serverId: string): Promise<Charge | undefined> {
  const own = chargeKeysOf(table, projectId, serverId);
  const found: Record<string, unknown>[] = [];
  let pending: Record<string, unknown>[] | undefined = [...own, usageKey(projectId)];
  while (pending && pending.length > 0) {
    const out = await table.db.send(new BatchGetCommand({
      RequestItems: {
        [table.name]: {
          Keys: pending, ConsistentRead: true, ProjectionExpression: 'pk, sk, #cores, #ram, #at, #slice, #counted.#sid',
          ExpressionAttributeNames: { '#cores': 'cores', '#ram': 'ram', '#at': 'at', '#slice': 'slice', '#counted': 'counted', '#sid': serverId },
        },
      },
    }));
    found.push(...out.Responses?.[table.name] ?? []);
    pending = out.UnprocessedKeys?.[table.name]?.Keys as Record<string, unknown>[] | undefined;
  }
  // Its spread key first: the one a charge made since the project was spread is under.
  for (const key of own) {
    const item = found.find((i) => i.pk === key.pk && i.sk === key.sk);
    if (item) return asCharge(item, false);
  }
  const entry = (found.find((i) => i.sk === 'META')?.counted as Record<string, Record<string, unknown>> | undefined)?.[serverId];
  return entry ? asCharge(entry, true) : undefined;
}

/** Every charge of a project, by server id: its items (all pages) and what the previous map still holds. */
export async function readCharges(table: Table, projectId: string): Promise<Map<string, Charge>> {
  const charges = new Map<string, Charge>();
  const partitions = chargesSpread(table, projectId) ? MAX_SPREAD : 1;
  const pages = await Promise.all(Array.from({ length: partitions }, (_, n) => readPartition(table, chargesOf(projectId, n))));
  // A server charged before its project was spread and again since (a retry across the change)
  // is listed by its charge of before: its delete gives back the other (readCharge), then this
  // one, its server gone, is settled.
  for (const items of [...pages.slice(1), pages[0]!]) {
    for (const item of items) charges.set(String(item.sk).slice(CHARGE.length), asCharge(item, false));
  }
  const usage = await table.db.send(new GetCommand({
    TableName: table.name, Key: usageKey(projectId), ConsistentRead: true, ProjectionExpression: 'counted',
  }));
  for (const [id, entry] of Object.entries((usage.Item?.counted ?? {}) as Record<string, Record<string, unknown>>)) {
    if (!charges.has(id)) charges.set(id, asCharge(entry, true));
  }
  return charges;
}

/** Every charge item under one partition, all pages. */
async function readPartition(table: Table, pk: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await table.db.send(new QueryCommand({
      TableName: table.name, ConsistentRead: true, ExclusiveStartKey: start,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :charge)',
      ExpressionAttributeValues: { ':pk': pk, ':charge': CHARGE },
    }));
    items.push(...out.Items ?? []);
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

/**
 * Which of `serverIds` are charged already: their items with one BatchGetItem per 100, and the
 * entries of the previous version's map (only read when some are not items: a map names every
 * server of its project).
 */
export async function chargedAmong(table: Table, projectId: string, serverIds: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  const all = serverIds.flatMap((id) => chargeKeysOf(table, projectId, id));
  for (let i = 0; i < all.length; i += 100) {
    let pending: Record<string, unknown>[] | undefined = all.slice(i, i + 100);
    while (pending && pending.length > 0) {
      const out = await table.db.send(new BatchGetCommand({
        RequestItems: { [table.name]: { Keys: pending, ConsistentRead: true, ProjectionExpression: 'sk' } },
      }));
      for (const item of out.Responses?.[table.name] ?? []) found.add(String(item.sk).slice(CHARGE.length));
      pending = out.UnprocessedKeys?.[table.name]?.Keys as Record<string, unknown>[] | undefined;
    }
  }
  if (found.size === serverIds.length) return found;
  const usage = await table.db.send(new GetCommand({ TableName: table.name, Key: usageKey(projectId), ConsistentRead: true, ProjectionExpression: 'counted' }));
  const counted = (usage.Item?.counted ?? {}) as Record<string, unknown>;
  for (const id of serverIds) if (Object.hasOwn(counted, id)) found.add(id);
  return found;
}
