import { BatchGetCommand, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { TABLE_DEFINITION, type Table } from './table.js';

// The listing indexes project only keys (table.ts): an entry copies nothing that changes, so a
// write that changes a server's state, a volume's status or a port's binding is billed on the
// table alone, not again on every index. A listing reads its page's keys from the index, then
// the items themselves, in one BatchGetItem per hundred.

type Key = Record<string, unknown>;

const BATCH_GET_LIMIT = 100;
const UNPROCESSED_ATTEMPTS = 8;

const keyOf = (entry: Record<string, unknown>): Key => ({
  [TABLE_DEFINITION.partitionKey.name]: entry[TABLE_DEFINITION.partitionKey.name],
  [TABLE_DEFINITION.sortKey.name]: entry[TABLE_DEFINITION.sortKey.name],
});
const keyText = (key: Key) => `${String(key[TABLE_DEFINITION.partitionKey.name])}\u0000${String(key[TABLE_DEFINITION.sortKey.name])}`;

/**
 * The items of `entries` (index entries or keys), in their order; an entry whose item is gone
 * (deleted since the index was read: the index lags the table) is left out.
 */
export async function itemsOf<T>(table: Table, entries: readonly Record<string, unknown>[]): Promise<T[]> {
  const found = new Map<string, Record<string, unknown>>();
  const keys = entries.map(keyOf);
  for (let i = 0; i < keys.length; i += BATCH_GET_LIMIT) {
    let pending: Key[] = keys.slice(i, i + BATCH_GET_LIMIT);
    for (let attempt = 1; pending.length > 0; attempt++) {
      // DynamoDB returns the keys it did not get to (throttling, the 16 MB limit) to be asked again.
      if (attempt > UNPROCESSED_ATTEMPTS) throw new Error(`BatchGetItem left ${pending.length} keys unread after ${UNPROCESSED_ATTEMPTS} attempts`);
      if (attempt > 1) await new Promise((r) => setTimeout(r, 10 * 2 ** attempt));
      const out = await table.db.send(new BatchGetCommand({ RequestItems: { [table.name]: { Keys: pending } } }));
      for (const item of out.Responses?.[table.name] ?? []) found.set(keyText(item), item);
      pending = (out.UnprocessedKeys?.[table.name]?.Keys ?? []) as Key[];
    }
  }
  return keys.map((k) => found.get(keyText(k))).filter((item) => item !== undefined) as T[];
}

/** One page of a Query of a listing index, with its entries' items read whole. */
export async function queryIndexedItems<T>(
  table: Table, input: Omit<QueryCommandInput, 'TableName'>,
): Promise<{ items: T[]; next?: Record<string, unknown> }> {
  const out = await table.db.send(new QueryCommand({ ...input, TableName: table.name }));
  return { items: await itemsOf<T>(table, out.Items ?? []), next: out.LastEvaluatedKey };
}
