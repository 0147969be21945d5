import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Instance } from './instance.js';
import { keys, type Table } from '../shared/table.js';

// A consistent read of an instance's item. The claim's writes never read before they write: a
// read happens only to explain a refusal when the backend does not return the old item with it.

export async function readInstance(table: Table, instanceId: string): Promise<Instance | undefined> {
  const out = await table.db.send(new GetCommand({
    TableName: table.name, Key: keys.instance(instanceId), ConsistentRead: true,
  }));
  return out.Item as Instance | undefined;
}
