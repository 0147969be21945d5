import { randomUUID } from 'node:crypto';
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { finishAction, recordActionStart } from './actions.js';
import { operationRow, type OperationName } from './catalogue.js';
import { abandonClaim, claimInstance, type ClaimGuard, type Claimed } from './claims.js';
import { BadRequest, ServiceUnavailable } from './errors.js';
import { findFlavor } from './flavors.js';
import type { Caller, Claim, Instance } from './instance.js';
import type { OperationMessage, OperationQueue } from './queue.js';
import { Reservations } from './reservations.js';
import { eventName } from './settle.js';
import { PowerState } from './states.js';
import { keys, leaseShardOf, type Table } from './table.js';

export interface AdmissionDeps {
  readonly table: Table;
  readonly queue: OperationQueue;
  /** How long an accepted operation may wait for its worker before the sweeper expires it. */
  readonly claimLeaseMs: number;
  readonly now?: () => number;
}

export interface OperationRequest {
  readonly instanceId: string;
  readonly op: OperationName;
  readonly caller: Caller;
  readonly requestId: string;
  /** The caller's global request id (X-OpenStack-Request-ID), carried to the worker. */
  readonly globalRequestId?: string;
  readonly params?: Record<string, unknown>;
  readonly guard?: ClaimGuard;
}

export interface Accepted extends Claimed {
  readonly params: Record<string, unknown>;
}

/**
 * The API side of a guarded operation: claim (one conditional write; 409 names what blocks),
 * reserve what it needs, record the action, enqueue. Every step after the claim that fails
 * undoes the ones before it, so a refused request leaves nothing behind.
 */
export async function requestOperation(deps: AdmissionDeps, req: OperationRequest): Promise<Accepted> {
  const now = (deps.now ?? Date.now)();
  const params = req.params ?? {};
  const claimed = await claimInstance(deps.table, {
    instanceId: req.instanceId, op: req.op, caller: req.caller, requestId: req.requestId, params,
    now, leaseMs: deps.claimLeaseMs, guard: req.guard,
  });
  const giveBack = () => abandonClaim(deps.table, req.instanceId, claimed.token);

  const reservation = Reservations[req.op];
  const claim: Claim = claimed.instance.claim!;
  let extra: Record<string, unknown> = {};
  if (reservation) {
    try {
      extra = await reservation.acquire(deps.table, {
        instanceId: req.instanceId, projectId: claimed.instance.projectId, requestId: req.requestId, params, now,
      });
    } catch (err) {
      // A refusal after part of the reservation was taken (the volume reserved, then no free
      // device): undo is safe to repeat and touches only this request's holdings.
      await reservation.undo(deps.table, claim, req.instanceId);
      await giveBack();
      throw err;
    }
  }
  const allParams = { ...params, ...extra };
  try {
    await recordActionStart(deps.table, {
      instanceId: req.instanceId, requestId: req.requestId, action: operationRow(req.op).action,
      userId: req.caller.userId, projectId: req.caller.projectId, now,
    });
    await deps.queue.send(messageFor(req, claimed.token, allParams));
  } catch (err) {
    await reservation?.undo(deps.table, claim, req.instanceId);
    await giveBack();
    await failUnqueued(deps.table, req.instanceId, req.requestId, req.op, now);
    throw new ServiceUnavailable('The operation could not be queued; nothing was changed. Try again.', { cause: err });
  }
  return { ...claimed, params: allParams };
}

function messageFor(req: OperationRequest, token: number, params: Record<string, unknown>): OperationMessage {
  return {
    requestId: req.requestId, instanceId: req.instanceId, op: req.op, token, params,
    userId: req.caller.userId, projectId: req.caller.projectId,
    ...(req.globalRequestId ? { globalRequestId: req.globalRequestId } : {}),
  };
}

async function failUnqueued(table: Table, instanceId: string, requestId: string, op: OperationName, now: number) {
  await finishAction(table, {
    instanceId, requestId, event: eventName(op), result: 'Error', now, traceback: 'The operation could not be queued',
  }).catch(() => undefined);
}

export interface CreateRequest {
  readonly caller: Caller;
  readonly requestId: string;
  readonly globalRequestId?: string;
  readonly name: string;
  readonly flavorRef: string;
  readonly imageRef: string;
}

/** Create: the new item itself is the claim (task_state scheduling), written only if absent. */
export async function createServer(deps: AdmissionDeps, req: CreateRequest): Promise<Instance> {
  if (!findFlavor(req.flavorRef)) throw new BadRequest(`Flavor ${req.flavorRef} could not be found.`);
  const now = (deps.now ?? Date.now)();
  const id = randomUUID();
  const created = new Date(now).toISOString();
  const row = operationRow('create');
  const instance: Instance = {
    id, projectId: req.caller.projectId, userId: req.caller.userId, name: req.name,
    vmState: 'building', taskState: row.taskStates[0], powerState: PowerState.NOSTATE,
    flavorId: req.flavorRef, imageId: req.imageRef, locked: false, version: 1, created, updated: created,
    claim: {
      requestId: req.requestId, op: 'create', userId: req.caller.userId, projectId: req.caller.projectId,
      params: {}, claimedAt: now,
    },
    leaseUntil: now + deps.claimLeaseMs,
  };
  await deps.table.db.send(new PutCommand({
    TableName: deps.table.name,
    Item: {
      ...keys.instance(id), ...instance,
      gsi1pk: `PROJECT#${req.caller.projectId}`, gsi1sk: `${created}#${id}`, leaseShard: leaseShardOf(id),
    },
    ConditionExpression: 'attribute_not_exists(pk)',
  }));
  const request: OperationRequest = {
    instanceId: id, op: 'create', caller: req.caller, requestId: req.requestId, globalRequestId: req.globalRequestId,
  };
  try {
    await recordActionStart(deps.table, {
      instanceId: id, requestId: req.requestId, action: row.action,
      userId: req.caller.userId, projectId: req.caller.projectId, now,
    });
    await deps.queue.send(messageFor(request, instance.version, {}));
  } catch (err) {
    await deps.table.db.send(new DeleteCommand({
      TableName: deps.table.name, Key: keys.instance(id),
      ConditionExpression: '#ver = :one', ExpressionAttributeNames: { '#ver': 'version' },
      ExpressionAttributeValues: { ':one': 1 },
    })).catch(() => undefined);
    await failUnqueued(deps.table, id, req.requestId, 'create', now);
    throw new ServiceUnavailable('The server could not be queued for creation; nothing was changed. Try again.', { cause: err });
  }
  return instance;
}
