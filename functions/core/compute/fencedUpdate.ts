import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Instance } from './instance.js';
import { isConditionFailure, keys, usedPlaceholders, type Table } from '../shared/table.js';

/**
 * A write fenced by the claim's token; undefined when the claim has moved on. The version alone is
 * the fence: every write that takes a claim or clears one (CLEARED_CLAIM) moves it on. `condition`
 * is a conjunction; `anyOf`, alternatives each joined to the fence (unparenthesised, as in
 * claimInstance).
 */
export async function fencedUpdate(
  table: Table, instanceId: string, token: number,
  update: {
    expression: string; names: Record<string, string>; values: Record<string, unknown>; condition?: string; anyOf?: readonly string[];
  },
): Promise<Instance | undefined> {
  const fence = ['#ver = :token', update.condition].filter(Boolean).join(' AND ');
  const condition = update.anyOf ? update.anyOf.map((alternative) => `${fence} AND ${alternative}`).join(' OR ') : fence;
  try {
    const out = await table.db.send(new UpdateCommand({
      TableName: table.name,
      Key: keys.instance(instanceId),
      ConditionExpression: condition,
      UpdateExpression: update.expression,
      ...usedPlaceholders([condition, update.expression],
        { '#ver': 'version', '#ts': 'taskState', ...update.names }, { ':token': token, ...update.values }),
      ReturnValues: 'ALL_NEW',
    }));
    return out.Attributes as Instance;
  } catch (err) {
    if (isConditionFailure(err)) return undefined;
    throw err;
  }
}
