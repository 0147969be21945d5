import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Table } from '../shared/table.js';

// The two reads the network service makes: one item, and one partition (all its pages), both
// strongly consistent: a check that follows a conditional write must see that write.

type Key = { pk: string; sk: string };

export async function getItem<T>(table: Table, key: Key): Promise<T | undefined> {
  const out = await table.db.send(new GetCommand({ TableName: table.name, Key: key, ConsistentRead: true }));
  return out.Item as T | undefined;
}

export async function queryPartition<T>(
  table: Table, pk: string, skPrefix: string, projection?: readonly string[],
): Promise<T[]> {
  const items: T[] = [];
  let start: Record<string, unknown> | undefined;
  const names = projection ? Object.fromEntries(projection.map((p, i) => [`#p${i}`, p])) : {};
  do {
    const out = await table.db.send(new QueryCommand({
      TableName: table.name,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': pk, ':prefix': skPrefix },
      ...(projection ? { ProjectionExpression: Object.keys(names).join(', '), ExpressionAttributeNames: names } : {}),
      ConsistentRead: true, ExclusiveStartKey: start,
    }));
    items.push(...((out.Items ?? []) as T[]));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

/**
 * The SET clauses of an update for the fields given (an undefined one is left as it is), each
 * under placeholders of its own, added to `names` and `values`.
 */
export function fieldAssignments(
  fields: Record<string, unknown>, names: Record<string, string>, values: Record<string, unknown>,
): string[] {
  const sets: string[] = [];
  for (const [field, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    names[`#f_${field}`] = field;
    values[`:f_${field}`] = value;
    sets.push(`#f_${field} = :f_${field}`);
  }
  return sets;
}

/** An item as the domain sees it: without the table's own attributes. */
export function withoutKeys<T>(item: Record<string, unknown>): T {
  const { pk: _pk, sk: _sk, gsi1pk: _g1, gsi1sk: _g1s, gsi2pk: _g2, gsi2sk: _g2s, leaseShard: _ls, ...rest } = item;
  return rest as T;
}
