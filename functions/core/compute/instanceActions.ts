import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { operationRow, type OperationName } from './catalogue.js';
import { requestOf, takenOverClaims, type Claim, type Instance, type Outcome } from './instance.js';
import { readRun } from './runs.js';
import { isConditionFailure, keys, queryInstanceItems, type Table } from '../shared/table.js';

// Nova's instance actions: one record per request, with the compute event that ran it.
//
// Admission writes no action record: the claim on the instance item IS the running action (who,
// what, when), so the one conditional write that admits a request also records it. The release
// keeps the ended claim as `lastOutcome`, and only then is the action's own ACTION# item written,
// once, with its start, event and finish together. A reader merges the three, so an action is
// visible from the moment its 202 is answered to the end of its 90 days.

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

export const eventName = (op: OperationName) => `compute_${op}`;

/** Who asked for what, when: what an action record needs from the request that made it. */
export interface ActionStart {
  readonly requestId: string;
  readonly op: OperationName;
  readonly userId: string;
  readonly projectId: string;
  /** Admission time, epoch ms (absent only on messages queued before it was carried). */
  readonly claimedAt?: number;
  readonly eventStart?: string;
}

/**
 * The one terminal outcome of a request, written as its whole record. The condition makes it
 * exactly one: a duplicate delivery, the sweeper and the dead-letter handler cannot finish an
 * action twice.
 */
export async function finishAction(
  table: Table, instanceId: string, start: ActionStart,
  end: { result: 'Success' | 'Error'; traceback?: string; now: number },
): Promise<boolean> {
  const nowIso = new Date(end.now).toISOString();
  const fields: Record<string, unknown> = {
    instanceId, requestId: start.requestId, action: operationRow(start.op).action,
    userId: start.userId, projectId: start.projectId,
    startTime: new Date(start.claimedAt ?? end.now).toISOString(),
    event: eventName(start.op), eventStart: start.eventStart ?? nowIso,
    finishTime: nowIso, result: end.result,
    expiresAt: Math.floor(end.now / 1000) + ACTION_RETENTION_S,
    ...(end.result === 'Error' ? { message: 'Error' } : {}),
    ...(end.traceback ? { traceback: end.traceback } : {}),
  };
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const sets = Object.entries(fields).map(([field, value], i) => {
    names[`#a${i}`] = field;
    values[`:a${i}`] = value;
    return `#a${i} = :a${i}`;
  });
  names['#finish'] = 'finishTime';
  try {
    await table.db.send(new UpdateCommand({
      TableName: table.name, Key: keys.action(instanceId, start.requestId),
      ConditionExpression: 'attribute_not_exists(#finish)',
      UpdateExpression: `SET ${sets.join(', ')}`,
      ExpressionAttributeNames: names, ExpressionAttributeValues: values,
    }));
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

/** The action a live claim stands for (its event once a worker took it up). */
function fromClaim(instance: Instance, c: Claim): InstanceAction {
  return {
    instanceId: instance.id, requestId: c.requestId, action: operationRow(c.op).action, userId: c.userId, projectId: requestOf(c, instance).projectId,
    startTime: new Date(c.claimedAt).toISOString(),
    ...(c.eventStart ? { event: eventName(c.op), eventStart: c.eventStart } : {}),
  };
}

/**
 * The action a released claim stands for, until its own record is written. The outcome keeps
 * the requester only when it is not the server's owner, and no finish time: the release that
 * wrote it set the item's `updated` (the previous version kept both, and its event's start).
 */
function fromOutcome(instance: Instance, o: Outcome): InstanceAction | undefined {
  if (!o.op || o.claimedAt === undefined) return undefined;
  const finishTime = o.finishedAt ?? instance.updated;
  return {
    instanceId: instance.id, requestId: o.requestId, action: operationRow(o.op).action,
    userId: o.userId ?? instance.userId, projectId: o.projectId ?? instance.projectId,
    startTime: new Date(o.claimedAt).toISOString(), event: eventName(o.op),
    eventStart: o.eventStart ?? finishTime, finishTime, result: o.result,
    ...(o.result === 'Error' ? { message: 'Error', traceback: o.message } : {}),
  };
}

/** The actions the instance item itself carries: the running one, those it took over, the last ended one. */
function actionsOnInstance(instance: Instance): InstanceAction[] {
  const found: InstanceAction[] = [];
  if (instance.claim) found.push(fromClaim(instance, instance.claim));
  for (const claim of takenOverClaims(instance)) found.push(fromClaim(instance, claim));
  const last = instance.lastOutcome && fromOutcome(instance, instance.lastOutcome);
  if (last) found.push(last);
  return found;
}

/**
 * The instance with its live claim's event start: a first run that has not checkpointed keeps it
 * on its own RUN# item only (runs.ts).
 */
async function withRunStart(table: Table, instance: Instance): Promise<Instance> {
  if (!instance.claim || instance.claim.eventStart) return instance;
  const run = await readRun(table, instance.id, instance.version);
  return run ? { ...instance, claim: { ...instance.claim, eventStart: run.eventStart } } : instance;
}

/** One action of a server the caller has read: from the instance item when it is there, else its record. */
export async function findAction(table: Table, instance: Instance, requestId: string): Promise<InstanceAction | undefined> {
  const live = instance.claim?.requestId === requestId ? await withRunStart(table, instance) : instance;
  const onItem = actionsOnInstance(live).find((a) => a.requestId === requestId);
  if (onItem && !onItem.finishTime) return onItem;
  return (await getAction(table, instance.id, requestId)) ?? onItem;
}

/** An action's own record (written once the action has ended). */
export async function getAction(table: Table, instanceId: string, requestId: string): Promise<InstanceAction | undefined> {
  const out = await table.db.send(new GetCommand({
    TableName: table.name, Key: keys.action(instanceId, requestId), ConsistentRead: true,
  }));
  return out.Item as InstanceAction | undefined;
}

/** Newest first, as Nova lists them: the records, and what the instance item carries besides. */
export async function listActionsOf(table: Table, instance: Instance): Promise<InstanceAction[]> {
  const [records, live] = await Promise.all([
    queryInstanceItems<InstanceAction>(table, instance.id, 'ACTION#'), withRunStart(table, instance),
  ]);
  const recorded = new Set(records.map((a) => a.requestId));
  const all = [...records, ...actionsOnInstance(live).filter((a) => !recorded.has(a.requestId))];
  return all.sort((a, b) => b.startTime.localeCompare(a.startTime));
}

/**
 * An action that no operation ran (an external event a service reported on the server): its
 * whole record at once, written only if this request has none on the server yet.
 */
export async function recordAction(table: Table, action: InstanceAction, now: number): Promise<boolean> {
  try {
    await table.db.send(new PutCommand({
      TableName: table.name,
      Item: { ...keys.action(action.instanceId, action.requestId), ...action, expiresAt: Math.floor(now / 1000) + ACTION_RETENTION_S },
      ConditionExpression: 'attribute_not_exists(pk)',
    }));
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}
