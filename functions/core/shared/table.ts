import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { projectSpreads } from './config.js';
import type { ProjectSpreads } from './projectSpread.js';

/** The one DynamoDB table and the client that reaches it. */
export interface Table {
  readonly db: DynamoDBDocumentClient;
  readonly name: string;
  /** The projects whose writes are spread over more keys than one (projectSpread.ts); none by default. */
  readonly spreads?: ProjectSpreads;
}

export const INDEX_BY_PROJECT = 'byProject';
export const INDEX_BY_LEASE = 'byLease';
/** Every live server, newest first, over SERVER_SHARDS partitions (gsi2pk SERVERS#<shard>): admins' all_tenants lists. */
export const INDEX_ALL_SERVERS = 'allServers';
/**
 * Partitions of the lease index. Every claim (a server's, and a volume's or a port's reservation)
 * is put into it and deleted from it, 2 write units on one partition key, and one partition key
 * takes about 1,000 write units a second: 512 keys carry 100,000 creates a second, each claiming
 * its server and its port (4 units), with room to spare (docs/write-units.md). Only ever raised:
 * the sweeper queries every partition below the count, so an entry written under a smaller count
 * is still found.
 */
export const LEASE_SHARDS = 512;
/**
 * Partitions of the all-servers (and all-ports) listing: an entry is written when a server or a
 * port is made and deleted when it goes, nothing in between (the index projects keys only), so
 * 256 keys carry 100,000 creates a second of a server with its port (2 units each) at 781 units a
 * key; an admin's page merges 256 Queries. Only ever raised, as LEASE_SHARDS.
 */
export const SERVER_SHARDS = 256;

export interface KeyAttribute {
  readonly name: string;
  /** DynamoDB's attribute type: S (string) or N (number). */
  readonly type: 'S' | 'N';
}

export interface IndexDefinition {
  readonly name: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey: KeyAttribute;
  readonly projection: 'ALL' | 'KEYS_ONLY';
}

/**
 * The table's keys and indexes, the one definition both the CDK stack (lib/table.ts) and the
 * local runtime (local/emulators.ts) create the table from: pk/sk; the project index that lists
 * servers; the sparse lease index the sweeper queries (only items holding a claim have
 * leaseShard, so it holds only claims, and the sweeper reads only their keys). Every index
 * projects keys only: an entry that copied the item would be billed again on every write that
 * changes the item (a claim, a release, a volume's status), where a key-only entry is written
 * only when the item enters or leaves the index; a listing reads its items after (indexedItems.ts).
 */
export const TABLE_DEFINITION = {
  /** Epoch seconds after which DynamoDB deletes the item: instance actions, deleted instances. */
  ttlAttribute: 'expiresAt',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  indexes: [
    { name: INDEX_BY_PROJECT, partitionKey: { name: 'gsi1pk', type: 'S' }, sortKey: { name: 'gsi1sk', type: 'S' }, projection: 'KEYS_ONLY' },
    { name: INDEX_BY_LEASE, partitionKey: { name: 'leaseShard', type: 'S' }, sortKey: { name: 'leaseUntil', type: 'N' }, projection: 'KEYS_ONLY' },
    // Sorted on the project index's sort key: every item written carries the same `created#id` in
    // both, so a second copy (gsi2sk, which the previous version wrote) is 67 bytes on every server
    // item for nothing (docs/write-units.md).
    { name: INDEX_ALL_SERVERS, partitionKey: { name: 'gsi2pk', type: 'S' }, sortKey: { name: 'gsi1sk', type: 'S' }, projection: 'KEYS_ONLY' },
  ],
} as const satisfies { ttlAttribute: string; partitionKey: KeyAttribute; sortKey: KeyAttribute; indexes: readonly IndexDefinition[] };

/** The endpoint comes from AWS_ENDPOINT_URL(_DYNAMODB) when set, so no code knows where it runs. */
export function makeTable(name: string, client = new DynamoDBClient({}), spreads?: ProjectSpreads): Table {
  const db = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  return spreads && Object.keys(spreads).length > 0 ? { db, name, spreads } : { db, name };
}

export function tableFromEnv(): Table {
  const name = process.env.TABLE_NAME;
  if (!name) throw new Error('TABLE_NAME is not set');
  return makeTable(name, undefined, projectSpreads(process.env));
}

export const keys = {
  instance: (id: string) => ({ pk: `INSTANCE#${id}`, sk: 'META' }),
  action: (instanceId: string, requestId: string) => ({ pk: `INSTANCE#${instanceId}`, sk: `ACTION#${requestId}` }),
  /** The first run of the claim whose token is `token` (runs.ts). */
  run: (instanceId: string, token: number) => ({ pk: `INSTANCE#${instanceId}`, sk: `RUN#${token}` }),
  volume: (id: string) => ({ pk: `VOLUME#${id}`, sk: 'META' }),
  port: (id: string) => ({ pk: `PORT#${id}`, sk: 'META' }),
  /** Images live under one partition (IMAGES), read together as flavors are (functions/core/images/store.ts). */
  image: (id: string) => ({ pk: 'IMAGES', sk: `IMAGE#${id}` }),
};

export function isConditionFailure(err: unknown): err is Error & { Item?: Record<string, unknown> } {
  return err instanceof Error && err.name === 'ConditionalCheckFailedException';
}

/**
 * The item as it was when a conditional write failed, from ReturnValuesOnConditionCheckFailure.
 * A backend that ignores that parameter returns nothing: the caller then reads (the embedded
 * dynalite returns it with the project's patch, patches/dynalite+4.0.0.patch).
 */
export function itemFromConditionFailure<T>(err: { Item?: Record<string, unknown> }): T | undefined {
  if (!err.Item) return undefined;
  return unmarshall(err.Item as Parameters<typeof unmarshall>[0]) as T;
}

/** The all-servers index partition of an instance (`SERVERS#<n>`, n < SERVER_SHARDS). */
export function serverShardOf(instanceId: string): string {
  return `SERVERS#${shardOf(instanceId, SERVER_SHARDS)}`;
}

/** The lease index partition of a claim on `id` (`LEASE#<n>`, n < LEASE_SHARDS). */
export function leaseShardOf(id: string): string {
  return `LEASE#${shardOf(id, LEASE_SHARDS)}`;
}

/** `id`'s partition among `shards`, evenly spread (FNV-1a): no partition key takes more than its share of writes. */
export function shardOf(id: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193) >>> 0;
  return hash % shards;
}

/**
 * DynamoDB refuses names and values an expression does not use; conditions are built from parts,
 * so keep only the placeholders that made it into the final expressions.
 */
export function usedPlaceholders(
  expressions: readonly (string | undefined)[],
  names: Record<string, string>,
  values: Record<string, unknown>,
): { ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Record<string, unknown> } {
  const text = expressions.filter(Boolean).join(' ');
  const used = new Set(text.match(/[#:][A-Za-z0-9_]+/g) ?? []);
  const keep = <T>(entries: Record<string, T>) => {
    const kept = Object.fromEntries(Object.entries(entries).filter(([k]) => used.has(k)));
    return Object.keys(kept).length > 0 ? kept : undefined;
  };
  return { ExpressionAttributeNames: keep(names), ExpressionAttributeValues: keep(values) };
}

/** Every item under an instance whose sort key starts with `prefix`, all pages, consistently read. */
export function queryInstanceItems<T>(table: Table, instanceId: string, prefix: string): Promise<T[]> {
  return queryInstance<T>(table, instanceId, 'begins_with(sk, :from)', { ':from': prefix });
}

async function queryInstance<T>(
  table: Table, instanceId: string, skCondition: string, values: Record<string, string>,
): Promise<T[]> {
  const items: T[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await table.db.send(new QueryCommand({
      TableName: table.name,
      KeyConditionExpression: `pk = :pk AND ${skCondition}`,
      ExpressionAttributeValues: { ':pk': keys.instance(instanceId).pk, ...values },
      ConsistentRead: true,
      ExclusiveStartKey: start,
    }));
    items.push(...((out.Items ?? []) as T[]));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}
