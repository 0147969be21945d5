import {
  CreateTableCommand, DescribeTableCommand, GetItemCommand, ResourceInUseException, QueryCommand, ScanCommand, type AttributeValue, type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';

// The table test/support/crashWriter.ts writes to and test/integration/crashConsistency.test.ts
// checks: an ALL index (as taskgate's listing indexes were before they projected keys only: the
// entries that copy the most, and so the most to tear) and a KEYS_ONLY one with a numeric sort key
// (as taskgate's lease index), over a few index partitions, so every index entry can be found by Query.

export const CRASH_TABLE = 'crash';
export const ITEM_KEYS = 64;
export const GROUPS = ['G0', 'G1', 'G2', 'G3'];
export const LEASE_SHARDS = ['L0', 'L1', 'L2', 'L3'];

export const INDEXES = [
  { name: 'byGroup', pk: 'gpk', sk: 'gsk', partitions: GROUPS },
  { name: 'byLease', pk: 'lpk', sk: 'lsk', partitions: LEASE_SHARDS },
] as const;

export async function createCrashTable(db: DynamoDBClient): Promise<void> {
  await db.send(new CreateTableCommand({
    TableName: CRASH_TABLE, BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' },
      { AttributeName: 'gpk', AttributeType: 'S' }, { AttributeName: 'gsk', AttributeType: 'S' },
      { AttributeName: 'lpk', AttributeType: 'S' }, { AttributeName: 'lsk', AttributeType: 'N' },
    ],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
    GlobalSecondaryIndexes: [
      {
        IndexName: 'byGroup', Projection: { ProjectionType: 'ALL' },
        KeySchema: [{ AttributeName: 'gpk', KeyType: 'HASH' }, { AttributeName: 'gsk', KeyType: 'RANGE' }],
      },
      {
        IndexName: 'byLease', Projection: { ProjectionType: 'KEYS_ONLY' },
        KeySchema: [{ AttributeName: 'lpk', KeyType: 'HASH' }, { AttributeName: 'lsk', KeyType: 'RANGE' }],
      },
    ],
  })).catch((err: unknown) => { if (!(err instanceof ResourceInUseException)) throw err; });
  // dynalite makes a table ACTIVE on a timer, even with createTableMs 0: writes before it are
  // ResourceNotFound (seen on a busy machine). Wait for it, as the emulators' createTable does.
  for (let i = 0; i < 200; i++) {
    if ((await db.send(new DescribeTableCommand({ TableName: CRASH_TABLE }))).Table?.TableStatus === 'ACTIVE') return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`table ${CRASH_TABLE} did not become ACTIVE`);
}

export interface Violations {
  /** Index entries whose base item is missing (a listing would show what GET calls 404). */
  readonly ghosts: string[];
  /** Index entries whose base item has other index keys, and items missing from an index. */
  readonly mismatches: string[];
}

const s = (v: AttributeValue | undefined) => (v ? (v.S ?? v.N ?? '') : undefined);

/**
 * Every index entry (a Query of each index partition) has its base item (GetItem) with the same
 * index keys, and every item with an index's keys is in that index.
 */
export async function checkIndexes(db: DynamoDBClient): Promise<Violations> {
  const ghosts: string[] = [];
  const mismatches: string[] = [];
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await db.send(new ScanCommand({ TableName: CRASH_TABLE, ConsistentRead: true, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);

  for (const index of INDEXES) {
    const seen = new Set<string>();
    for (const partition of index.partitions) {
      let from: Record<string, AttributeValue> | undefined;
      do {
        const page = await db.send(new QueryCommand({
          TableName: CRASH_TABLE, IndexName: index.name, ExclusiveStartKey: from,
          KeyConditionExpression: '#pk = :pk', ExpressionAttributeNames: { '#pk': index.pk },
          ExpressionAttributeValues: { ':pk': { S: partition } },
        }));
        const entries = page.Items ?? [];
        const bases = await Promise.all(entries.map(async (entry) => (await db.send(new GetItemCommand({
          TableName: CRASH_TABLE, Key: { pk: entry.pk!, sk: entry.sk! }, ConsistentRead: true,
        }))).Item));
        for (const [i, entry] of entries.entries()) {
          const where = `${index.name} ${partition}/${s(entry[index.sk])} -> ${s(entry.pk)}`;
          const base = bases[i];
          if (!base) ghosts.push(where);
          else if (s(base[index.pk]) !== partition || s(base[index.sk]) !== s(entry[index.sk])) mismatches.push(`${where}: item has other keys`);
          seen.add(`${s(entry.pk)}|${partition}|${s(entry[index.sk])}`);
        }
        from = page.LastEvaluatedKey;
      } while (from);
    }
    for (const item of items) {
      if (item[index.pk] && item[index.sk] && !seen.has(`${s(item.pk)}|${s(item[index.pk])}|${s(item[index.sk])}`)) {
        mismatches.push(`${s(item.pk)} missing from ${index.name}`);
      }
    }
  }
  return { ghosts, mismatches };
}
