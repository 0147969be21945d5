import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, keys, queryInstanceItems, type Table } from './table.js';

// Nova's instance actions: one record per request, with the compute event that ran it.

export interface InstanceAction {
  readonly instanceId: string;
  readonly requestId: string;
  readonly action: string;
  readonly userId: string;
  readonly projectId: string;
  readonly startTime: string;
  /** Nova sets 'Error' when an event of the action failed. */
  readonly message?: string;
  /** The compute event (`compute_<operation>`), once a worker or a reaper touched it. */
  readonly event?: string;
  readonly eventStart?: string;
  readonly finishTime?: string;
  readonly result?: 'Success' | 'Error';
  readonly traceback?: string;
}

const ACTION_RETENTION_S = 90 * 24 * 3600;

export async function recordActionStart(
  table: Table,
  a: { instanceId: string; requestId: string; action: string; userId: string; projectId: string; now: number },
): Promise<void> {
  await table.db.send(new PutCommand({
    TableName: table.name,
    Item: {
      ...keys.action(a.instanceId, a.requestId),
      instanceId: a.instanceId, requestId: a.requestId, action: a.action,
      userId: a.userId, projectId: a.projectId, startTime: new Date(a.now).toISOString(),
      expiresAt: Math.floor(a.now / 1000) + ACTION_RETENTION_S,
    },
    ConditionExpression: 'attribute_not_exists(pk)',
  })).catch((err) => { if (!isConditionFailure(err)) throw err; });
}

/** The compute event starts (on a redelivery the first start time stays). */
export async function recordEventStart(
  table: Table, a: { instanceId: string; requestId: string; event: string; now: number },
): Promise<void> {
  await table.db.send(new UpdateCommand({
    TableName: table.name, Key: keys.action(a.instanceId, a.requestId),
    ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#finish)',
    UpdateExpression: 'SET #event = :event, #start = if_not_exists(#start, :now)',
    ExpressionAttributeNames: { '#event': 'event', '#start': 'eventStart', '#finish': 'finishTime' },
    ExpressionAttributeValues: { ':event': a.event, ':now': new Date(a.now).toISOString() },
  })).catch((err) => { if (!isConditionFailure(err)) throw err; });
}

/**
 * The one terminal outcome of a request. The condition makes it exactly one: a duplicate
 * delivery, the sweeper and the dead-letter handler cannot finish an action twice.
 */
export async function finishAction(
  table: Table,
  a: { instanceId: string; requestId: string; event: string; result: 'Success' | 'Error'; traceback?: string; now: number },
): Promise<boolean> {
  const names: Record<string, string> = {
    '#finish': 'finishTime', '#result': 'result', '#event': 'event', '#start': 'eventStart',
  };
  const values: Record<string, unknown> = { ':now': new Date(a.now).toISOString(), ':result': a.result, ':event': a.event };
  const sets = ['#finish = :now', '#result = :result', '#event = :event', '#start = if_not_exists(#start, :now)'];
  if (a.result === 'Error') {
    names['#message'] = 'message';
    values[':error'] = 'Error';
    sets.push('#message = :error');
  }
  if (a.traceback) {
    names['#traceback'] = 'traceback';
    values[':traceback'] = a.traceback;
    sets.push('#traceback = :traceback');
  }
  try {
    await table.db.send(new UpdateCommand({
      TableName: table.name, Key: keys.action(a.instanceId, a.requestId),
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#finish)',
      UpdateExpression: `SET ${sets.join(', ')}`,
      ExpressionAttributeNames: names, ExpressionAttributeValues: values,
    }));
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

export async function getAction(table: Table, instanceId: string, requestId: string): Promise<InstanceAction | undefined> {
  const out = await table.db.send(new GetCommand({
    TableName: table.name, Key: keys.action(instanceId, requestId), ConsistentRead: true,
  }));
  return out.Item as InstanceAction | undefined;
}

/** Newest first, as Nova lists them. */
export async function listActions(table: Table, instanceId: string): Promise<InstanceAction[]> {
  const items = await queryInstanceItems<InstanceAction>(table, instanceId, 'ACTION#');
  return items.sort((a, b) => b.startTime.localeCompare(a.startTime));
}
