import { BatchGetCommand, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Table } from '../../shared/table.js';

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

export interface Counted {
  readonly cores: number;
  readonly ram: number;
  readonly at: number;
}

/** A charge and where it is kept: its own item, or an entry of the previous version's map. */
export interface Charge extends Counted {
  readonly inMap: boolean;
}

export const usageKey = (projectId: string) => ({ pk: `SERVERUSAGE#${projectId}`, sk: 'META' });
export const chargeKey = (projectId: string, serverId: string) => ({ pk: chargesOf(projectId), sk: `${CHARGE}${serverId}` });
const chargesOf = (projectId: string) => `SERVERCHARGES#${projectId}`;
const CHARGE = 'CHARGE#';

const asCharge = (entry: Record<string, unknown>, inMap: boolean): Charge => ({
  cores: Number(entry.cores), ram: Number(entry.ram), at: Number(entry.at), inMap,
});

/**
 * One server's charge, its item first, else its entry in the previous version's map: both items
 * in one BatchGetItem, each read only for what a charge holds.
 */
export async function readCharge(table: Table, projectId: string, serverId: string): Promise<Charge | undefined> {
  const own = chargeKey(projectId, serverId);
  const found: Record<string, unknown>[] = [];
  let pending: Record<string, unknown>[] | undefined = [own, usageKey(projectId)];
  while (pending && pending.length > 0) {
    const out = await table.db.send(new BatchGetCommand({
      RequestItems: {
        [table.name]: {
          Keys: pending, ConsistentRead: true, ProjectionExpression: 'sk, #cores, #ram, #at, #counted.#sid',
          ExpressionAttributeNames: { '#cores': 'cores', '#ram': 'ram', '#at': 'at', '#counted': 'counted', '#sid': serverId },
        },
      },
    }));
    found.push(...out.Responses?.[table.name] ?? []);
    pending = out.UnprocessedKeys?.[table.name]?.Keys as Record<string, unknown>[] | undefined;
  }
  const item = found.find((i) => i.sk === own.sk);
  if (item) return asCharge(item, false);
  const entry = (found.find((i) => i.sk === 'META')?.counted as Record<string, Record<string, unknown>> | undefined)?.[serverId];
  return entry ? asCharge(entry, true) : undefined;
}

/** Every charge of a project, by server id: its items (all pages) and what the previous map still holds. */
export async function readCharges(table: Table, projectId: string): Promise<Map<string, Charge>> {
  const charges = new Map<string, Charge>();
  let start: Record<string, unknown> | undefined;
  do {
    const out = await table.db.send(new QueryCommand({
      TableName: table.name, ConsistentRead: true, ExclusiveStartKey: start,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :charge)',
      ExpressionAttributeValues: { ':pk': chargesOf(projectId), ':charge': CHARGE },
    }));
    for (const item of out.Items ?? []) charges.set(String(item.sk).slice(CHARGE.length), asCharge(item, false));
    start = out.LastEvaluatedKey;
  } while (start);
  const usage = await table.db.send(new GetCommand({
    TableName: table.name, Key: usageKey(projectId), ConsistentRead: true, ProjectionExpression: 'counted',
  }));
  for (const [id, entry] of Object.entries((usage.Item?.counted ?? {}) as Record<string, Record<string, unknown>>)) {
    if (!charges.has(id)) charges.set(id, asCharge(entry, true));
  }
  return charges;
}

/**
 * Which of `serverIds` are charged already: their items with one BatchGetItem per 100, and the
 * entries of the previous version's map (only read when some are not items: a map names every
 * server of its project).
 */
export async function chargedAmong(table: Table, projectId: string, serverIds: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < serverIds.length; i += 100) {
    let pending: Record<string, unknown>[] | undefined = serverIds.slice(i, i + 100).map((id) => chargeKey(projectId, id));
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
