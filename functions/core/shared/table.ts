import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';

/** The one DynamoDB table and the client that reaches it. */
export interface Table {
  readonly db: DynamoDBDocumentClient;
  readonly name: string;
}

export const INDEX_BY_PROJECT = 'byProject';
export const INDEX_BY_LEASE = 'byLease';
/** Every live server, newest first, over LEASE_SHARDS partitions (gsi2pk SERVERS#<shard>): admins' all_tenants lists. */
export const INDEX_ALL_SERVERS = 'allServers';
export const LEASE_SHARDS = 8;

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
 * leaseShard, so it holds only claims, and the sweeper reads only their keys).
 */
export const TABLE_DEFINITION = {
  /** Epoch seconds after which DynamoDB deletes the item: instance actions, deleted instances. */
  ttlAttribute: 'expiresAt',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  indexes: [
    { name: INDEX_BY_PROJECT, partitionKey: { name: 'gsi1pk', type: 'S' }, sortKey: { name: 'gsi1sk', type: 'S' }, projection: 'ALL' },
    { name: INDEX_BY_LEASE, partitionKey: { name: 'leaseShard', type: 'S' }, sortKey: { name: 'leaseUntil', type: 'N' }, projection: 'KEYS_ONLY' },
    { name: INDEX_ALL_SERVERS, partitionKey: { name: 'gsi2pk', type: 'S' }, sortKey: { name: 'gsi2sk', type: 'S' }, projection: 'ALL' },
  ],
} as const satisfies { ttlAttribute: string; partitionKey: KeyAttribute; sortKey: KeyAttribute; indexes: readonly IndexDefinition[] };

/** The endpoint comes from AWS_ENDPOINT_URL(_DYNAMODB) when set, so no code knows where it runs. */
export function makeTable(name: string, client = new DynamoDBClient({})): Table {
  const db = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  return { db, name };
}

export function tableFromEnv(): Table {
  const name = process.env.TABLE_NAME;
  if (!name) throw new Error('TABLE_NAME is not set');
  return makeTable(name);
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

/** The all-servers index partition of an instance (`SERVERS#<n>`, n < LEASE_SHARDS). */
export function serverShardOf(instanceId: string): string {
  return leaseShardOf(instanceId).replace(/^LEASE#/, 'SERVERS#');
}

/** Spreads claims over a few index partitions so the sweeper never reads one hot key. */
export function leaseShardOf(instanceId: string): string {
  let sum = 0;
  for (let i = 0; i < instanceId.length; i++) sum = (sum + instanceId.charCodeAt(i)) % LEASE_SHARDS;
  return `LEASE#${sum}`;
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
