import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { finishAction, getAction } from './instanceActions.js';
import { attachmentOn, Volumes } from '../shared/attachables.js';
import { operationRow, type OperationName } from './catalogue.js';
import { abandonClaim } from './release.js';
import { claimInstance, type ClaimGuard, type Claimed } from './claimInstance.js';
import { readInstance } from './readInstance.js';
import { BadRequest, NotFound, NotImplemented, ServiceUnavailable } from '../shared/errors.js';
import type { DriverCapabilities } from './driver.js';
import type { ConsoleReader } from './consoleLog.js';
import { findFlavor } from './flavors.js';
import { derivedUuid } from '../shared/ids.js';
import { authorize } from '../shared/policy.js';
import { isVisibleTo, takenOverAttributes, takenOverClaims, type Caller, type Instance, type InstanceFields } from './instance.js';
import type { OperationMessage, OperationQueue } from './queue.js';
import { Reservations, type Reservation, type ReservationContext } from './reservations.js';
import { giveBackCreatePorts, interfacesForCreate, type Nic } from '../networks/serverPorts.js';
import { endTakenOver, retryThrottled } from './settle.js';
import { PowerState } from './states.js';
import { storedInstance } from './storedInstance.js';
import { putCreatedAttachmentItem } from './attachmentItems.js';
import { isConditionFailure, itemFromConditionFailure, keys, leaseShardOf, serverShardOf, type Table } from '../shared/table.js';
import { listingKeyOf } from '../shared/projectListing.js';

export interface AdmissionDeps {
  readonly table: Table;
  readonly queue: OperationQueue;
  /** How long an accepted operation may wait for its worker before the sweeper expires it. */
  readonly claimLeaseMs: number;
  /**
   * How long a volume's or port's reservation stands before the instance must show its claim:
   * longer than an API invocation can live (timings().reservationLeaseSeconds). Unset, the claim
   * lease, which is longer still: safe, only slower to recover a leaked reservation.
   */
  readonly reservationLeaseMs?: number;
  /** What the compute driver can carry out (capabilities.ts); unset, every operation. */
  readonly capabilities?: DriverCapabilities;
  /** The driver's guest console, for os-getConsoleOutput (consoleLog.ts); unset, the simulated guest's. */
  readonly consoleReader?: ConsoleReader;
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
  /** A condition of this request on the instance (resize's flavor, shelved volumes before 2.20). */
  readonly guard?: ClaimGuard;
  /** Instance fields set with the claim itself (see ClaimRequest.fields). */
  readonly fields?: Record<string, unknown>;
  /**
   * A retry, under the same request id, of a request that died before answering (its
   * Idempotency-Key was taken over): it may have been admitted already, and then is not again.
   */
  readonly resumed?: boolean;
}

export interface Accepted extends Claimed {
  readonly params: Record<string, unknown>;
}

/**
 * The API side of a guarded operation: ONE conditional write that claims the instance and, in
 * the claim itself, records the action (who, what, when); ONE SendMessage. No read: a refusal
 * is explained from the old item the failed write returns. An operation on a volume or a port
 * first reserves it on its own item (a refusal there costs no claim), and its device name is
 * chosen from the claimed item. Every step after the claim that fails undoes the ones before it,
 * so a refused request leaves nothing behind.
 */
export async function requestOperation(deps: AdmissionDeps, req: OperationRequest): Promise<Accepted> {
  authorize(req.caller, operationRow(req.op).policy);
  await refuseUnsupported(deps, req);
  if (req.resumed) {
    const earlier = await earlierAdmission(deps, req);
    if (earlier) return earlier;
  }
  const clock = deps.now ?? Date.now;
  const now = clock();
  const asked = req.params ?? {};
  const reservation = Reservations[req.op];
  const ctx: ReservationContext = {
    instanceId: req.instanceId, projectId: await reservingProject(deps.table, req, reservation),
    requestId: req.requestId, params: asked, now, leaseMs: deps.reservationLeaseMs ?? deps.claimLeaseMs,
  };
  const guards = [reservation?.guard?.(ctx), req.guard].filter((g): g is ClaimGuard => g !== undefined);
  // What the reservation found (a port's address) goes on the claim with what was asked.
  const params = { ...asked, ...await reservation?.reserve?.(deps.table, ctx) };

  let claimed: Claimed;
  try {
    claimed = await claimInstance(deps.table, {
      instanceId: req.instanceId, op: req.op, caller: req.caller, requestId: req.requestId, params,
      now, leaseMs: deps.claimLeaseMs, guards, fields: req.fields,
    });
  } catch (err) {
    // Only a reservation made above has anything to undo (a detach's is begun by its worker).
    if (reservation?.reserve) await reservation.undo(deps.table, { requestId: req.requestId, params }, req.instanceId);
    throw err;
  }

  const giveBack = async () => {
    // A takeover's claim may be given back, but not the claims it took over: their tokens have
    // moved on, and their messages may have been lost, so they end here, before the give-back
    // clears the record of them (no read: the claim's write returned the item). A give-back that
    // cannot be written leaves the claim to its lease, and the request's key to its retry.
    try {
      await retryThrottled(() => endTakenOver(deps.table, claimed.instance, clock()));
      await retryThrottled(async () => reservation?.undo(deps.table, { requestId: req.requestId, params }, req.instanceId));
      await retryThrottled(() => abandonClaim(deps.table, req.instanceId, claimed.token, takenOverAttributes(claimed.instance)));
    } catch (err) {
      throw new ServiceUnavailable('The request could not be completed; retry it with the same Idempotency-Key.', { cause: err, mayHaveChanged: true });
    }
  };
  let allParams: Record<string, unknown>;
  try {
    allParams = { ...params, ...reservation?.decide?.(claimed.instance) };
  } catch (err) {
    await giveBack();
    throw err;
  }
  // A claim that answered after the reservation's lease ran out may have landed after the
  // reservation was taken over (attachables.ts reclaimReservation): it must not run. Never
  // happens on AWS (the API's timeout is shorter than the lease); a clock read, not a request.
  if (reservation?.reserve && clock() >= now + ctx.leaseMs) {
    await giveBack();
    await failUnqueued(deps.table, req, now);
    throw new ServiceUnavailable('The request took too long to be admitted; nothing was changed. Try again.');
  }
  try {
    await deps.queue.send(messageFor(req, claimed.token, allParams, now));
  } catch (err) {
    await giveBack();
    await failUnqueued(deps.table, req, now);
    throw new ServiceUnavailable('The operation could not be queued; nothing was changed. Try again.', { cause: err });
  }
  return { ...claimed, params: allParams };
}

/**
 * An operation the driver cannot carry out is Nova's 501 and writes nothing. Nova finds the
 * server first (404), so the refusal reads it: only a request that is refused pays the read.
 */
async function refuseUnsupported(deps: AdmissionDeps, req: OperationRequest): Promise<void> {
  if (!deps.capabilities?.unsupported.has(req.op)) return;
  if (!isVisibleTo(await readInstance(deps.table, req.instanceId), req.caller)) throw new NotFound(`Instance ${req.instanceId} could not be found.`);
  throw new NotImplemented();
}

/**
 * What became of a request that died before answering, when its retry comes (the key's in-progress
 * window outlasts any API invocation, so the first can no longer be admitting it). Admitted and
 * still holding the claim: it is queued again, as it may have died before its send (the queue
 * drops the copy by its deduplication id, the worker a late one by its token). Admitted and ended,
 * or taken over: the retry reports it. Neither: undefined, and the retry runs it.
 */
async function earlierAdmission(deps: AdmissionDeps, req: OperationRequest): Promise<Accepted | undefined> {
  const instance = await readInstance(deps.table, req.instanceId);
  if (!instance) return undefined;
  const claim = instance.claim;
  if (claim?.requestId === req.requestId) {
    const params = { ...claim.params, ...Reservations[req.op]?.decide?.(instance) };
    await deps.queue.send(messageFor(req, instance.version, params, claim.claimedAt));
    return { token: instance.version, instance, params };
  }
  const ended = instance.lastOutcome?.requestId === req.requestId
    || takenOverClaims(instance).some((c) => c.requestId === req.requestId)
    || await getAction(deps.table, req.instanceId, req.requestId) !== undefined;
  if (!ended) return undefined;
  const params = req.params ?? {};
  const device = req.op === 'attach_volume' ? attachmentOn(instance, Volumes, String(params.volumeId))?.device : undefined;
  return { token: instance.version, instance, params: { ...params, ...(device ? { device } : {}) } };
}

/**
 * The project a volume or port reserved for this request must belong to: the instance's. For a
 * member that is the caller's own (the claim's condition checks it in the same write, and a
 * refused claim undoes the reservation). An administrator may act on another project's server,
 * so only then is the instance's project read first: it never changes once the server exists.
 */
async function reservingProject(table: Table, req: OperationRequest, reservation: Reservation | undefined): Promise<string> {
  if (!reservation?.reserve || !req.caller.isAdmin) return req.caller.projectId;
  return (await readInstance(table, req.instanceId))?.projectId ?? req.caller.projectId;
}

function messageFor(
  req: Pick<OperationRequest, 'requestId' | 'instanceId' | 'op' | 'caller' | 'globalRequestId'>,
  token: number, params: Record<string, unknown>, now: number,
): OperationMessage {
  return {
    requestId: req.requestId, instanceId: req.instanceId, op: req.op, token, params,
    userId: req.caller.userId, projectId: req.caller.projectId, claimedAt: now,
    ...(req.globalRequestId ? { globalRequestId: req.globalRequestId } : {}),
  };
}

/** An accepted request that never reached the queue still ends in exactly one (failed) action. */
async function failUnqueued(table: Table, req: OperationRequest, now: number) {
  await finishAction(table, req.instanceId, {
    requestId: req.requestId, op: req.op, userId: req.caller.userId, projectId: req.caller.projectId, claimedAt: now,
  }, { result: 'Error', now, traceback: 'The operation could not be queued' }).catch(() => undefined);
}

export interface CreateRequest {
  readonly caller: Caller;
  readonly requestId: string;
  readonly globalRequestId?: string;
  readonly name: string;
  readonly flavorRef: string;
  readonly imageRef: string;
  /** What the request sets on the instance besides name, flavor and image. */
  readonly fields?: InstanceFields;
  /** Multiple create: the reservation all share, and this one's index in it. */
  readonly reservationId?: string;
  readonly launchIndex?: number;
  /** Its interfaces (functions/core/networks/serverPorts.ts): made or reserved here, held by the server's item from its write. */
  readonly nics?: readonly Nic[];
  /** A retry of a request that died before answering (see OperationRequest.resumed). */
  readonly resumed?: boolean;
}

/**
 * The id of the server a create request makes: a function of the request id, so a retry that
 * goes on as a request that died (its Idempotency-Key taken over) finds the server it made.
 */
export const serverIdFor = (requestId: string): string => derivedUuid('server', requestId);

/**
 * Create: the new item itself is the claim (task_state scheduling) and the action's start,
 * written only if absent; then one SendMessage. The item's id comes from the request id: if it
 * is there already, this request made it before it died, and the retry reports it (queued again
 * while its create still holds it: the first may have died before its send).
 */
export async function createServer(deps: AdmissionDeps, req: CreateRequest): Promise<Instance> {
  authorize(req.caller, operationRow('create').policy);
  if (!await findFlavor(deps.table, req.flavorRef)) throw new BadRequest(`Flavor ${req.flavorRef} could not be found.`);
  const clock = deps.now ?? Date.now;
  const now = clock();
  const id = serverIdFor(req.requestId);
  const created = new Date(now).toISOString();
  const row = operationRow('create');
  const request: OperationRequest = {
    instanceId: id, op: 'create', caller: req.caller, requestId: req.requestId, globalRequestId: req.globalRequestId,
  };
  const hasPorts = (req.nics ?? []).length > 0;
  // A retry finds the server its request made before making or reserving anything again.
  if (req.resumed && hasPorts) {
    const made = await readInstance(deps.table, id);
    if (made) return createdEarlier(deps, request, made);
  }
  const leaseMs = deps.reservationLeaseMs ?? deps.claimLeaseMs;
  const ports = hasPorts
    ? await interfacesForCreate(deps.table, { instanceId: id, projectId: req.caller.projectId, requestId: req.requestId, now, leaseMs }, req.nics!)
    : {};
  const params = hasPorts ? { portIds: Object.keys(ports) } : {};
  const instance: Instance = {
    id, projectId: req.caller.projectId, userId: req.caller.userId, name: req.name,
    vmState: 'building', taskState: row.taskStates[0], powerState: PowerState.NOSTATE,
    flavorId: req.flavorRef, imageId: req.imageRef, locked: false, version: 1, created, updated: created,
    metadata: {}, tags: [], ...req.fields,
    reservationId: req.reservationId ?? reservationIdFor(req.requestId), launchIndex: req.launchIndex ?? 0,
    // The requester's project is the server's own (Claim.projectId).
    claim: { requestId: req.requestId, op: 'create', userId: req.caller.userId, params, claimedAt: now },
    leaseUntil: now + deps.claimLeaseMs,
    volumes: {}, ports,
  };
  // The ports' details on their own items first (shown once the server's item names them).
  await Promise.all(Object.values(ports).map((port) => putCreatedAttachmentItem(deps.table, 'ports', port, instance.version)));
  try {
    await deps.table.db.send(new PutCommand({
      TableName: deps.table.name,
      Item: {
        ...keys.instance(id), ...storedInstance(instance),
        gsi1pk: listingKeyOf(deps.table, 'PROJECT', req.caller.projectId, id), gsi1sk: `${created}#${id}`, leaseShard: leaseShardOf(id),
        gsi2pk: serverShardOf(id),
      },
      ConditionExpression: 'attribute_not_exists(pk)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    }));
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    const made = itemFromConditionFailure<Instance>(err) ?? await readInstance(deps.table, id);
    if (!made) throw err;
    return createdEarlier(deps, request, made);
  }
  try {
    // A put that answered after the ports' reservations ran out may have landed after the sweeper
    // gave them back (attachables.ts reclaimReservation): it must not run (as requestOperation).
    if (hasPorts && clock() >= now + leaseMs) throw new Error('the create was admitted after its ports\' reservations ran out');
    await deps.queue.send(messageFor(request, instance.version, params, now));
  } catch (err) {
    // Undone only if the item is gone: one still there (a throttled delete, or a worker that got
    // the message after all) keeps the request's key, so that its retry finds it.
    const undone = await retryThrottled(() => deps.table.db.send(new DeleteCommand({
      TableName: deps.table.name, Key: keys.instance(id),
      ConditionExpression: '#ver = :one', ExpressionAttributeNames: { '#ver': 'version' },
      ExpressionAttributeValues: { ':one': 1 },
    }))).then(() => true, () => false);
    if (undone) {
      await retryThrottled(() => giveBackCreatePorts(deps.table, id, { requestId: req.requestId, params }));
      await failUnqueued(deps.table, request, now);
    }
    throw new ServiceUnavailable('The server could not be queued for creation; nothing was changed. Try again.', {
      cause: err, ...(undone ? {} : { mayHaveChanged: true as const }),
    });
  }
  return instance;
}

/** The server this very request made before it died: queued again while its create still holds it. */
async function createdEarlier(deps: AdmissionDeps, request: OperationRequest, made: Instance): Promise<Instance> {
  if (made.claim?.requestId === request.requestId) {
    await deps.queue.send(messageFor(request, made.version, made.claim.params, made.claim.claimedAt));
  }
  return made;
}

/** Nova's reservation id (r-xxxxxxxx) of a create request, from its request id as the server's is. */
export const reservationIdFor = (requestId: string): string => `r-${serverIdFor(requestId).slice(-8)}`;
