import { finishAction, getAction, type ActionStart } from './instanceActions.js';
import { operationRow, resolveVmOutcome } from './catalogue.js';
import { attachmentsOf, Ports, Volumes, type AttachableKind } from '../shared/attachables.js';
import { releaseClaim } from './release.js';
import { isThrottle } from '../shared/throttles.js';
import { takenOverAttributes, takenOverClaims, type Claim, type Instance, type InstancePatch } from './instance.js';
import { settleReservation, undoReservation } from './reservations.js';
import { settleMoveEnding } from './placing.js';
import { previousVersionPatch } from './storedInstance.js';
import { readRun, type Run } from './runs.js';
import type { Table } from '../shared/table.js';

export type Result =
  | { readonly ok: true; readonly patch: InstancePatch }
  | { readonly ok: false; readonly message: string; readonly code?: number };

/** The request a claim or a queued message stands for. */
export type ClaimRef = Pick<Claim, 'requestId' | 'op' | 'params' | 'userId'> & {
  /** The requester's project (a stored claim's, filled in by `requestOf`). */
  readonly projectId: string;
  readonly claimedAt?: number;
  readonly eventStart?: string;
};

/**
 * The action's start: from the live claim when it is this request's, its event's start from the
 * run that ends it, else from the claim (a checkpoint or a takeover wrote it there), else from
 * the claim's first run's own item (a first run that never wrote the instance).
 */
async function actionStart(table: Table, instance: Instance, claim: ClaimRef, token: number, run?: Run): Promise<ActionStart> {
  const live = instance.claim?.requestId === claim.requestId ? instance.claim : undefined;
  if (!live) return claim;
  // A reaper's read of the run item is retried when throttled, as its writes are: it must not be
  // what leaves a claim for the next sweep.
  const eventStart = run?.eventStart ?? live.eventStart ?? (await retryThrottled(() => readRun(table, instance.id, token)))?.eventStart;
  return { ...claim, claimedAt: live.claimedAt, eventStart };
}

/**
 * Ends an operation that still holds its claim: the catalogue's outcome in ONE fenced release
 * (which also keeps the ended action on the instance item), then (only once released) what the
 * operation's volume or port must say now, and the action's one record. Used by the worker, the
 * sweeper and the dead-letter handler alike. Returns false, having changed nothing, when the
 * claim had moved on.
 */
export async function settleOperation(
  table: Table,
  s: { instance: Instance; claim: ClaimRef; token: number; result: Result; now: number; onlyIfLeaseBefore?: number; run?: Run },
): Promise<boolean> {
  const row = operationRow(s.claim.op);
  const { instance, result } = s;
  const start = await actionStart(table, instance, s.claim, s.token, s.run);
  const vmState = resolveVmOutcome(result.ok ? row.onSuccess : row.onFailure, instance.vmState, instance.preResizeVmState);
  await endTakenOver(table, instance, s.now);
  // An item of the previous version keeps its last move's ending: settled here (every write of it
  // conditioned, so a second time changes nothing) before the release takes it off.
  if (instance.moveEnding) await settleMoveEnding(table, instance.id, instance.moveEnding, s.now);
  const upgrade = previousVersionPatch(instance);
  const released = await releaseClaim(table, {
    instanceId: instance.id, token: s.token, vmState, now: s.now,
    patch: result.ok ? { ...upgrade, ...result.patch, ...(vmState === 'deleted' ? emptied(instance) : {}) } : upgrade,
    fault: result.ok ? undefined : { code: result.code ?? 500, message: result.message, created: new Date(s.now).toISOString() },
    // What a redelivery needs to find its own outcome, and what shows the action until its record
    // is written next: the requester only when not the owner, no event start or finish time (the
    // release's `updated`). About 150 bytes less on an item billed per KB on every write.
    outcome: {
      requestId: s.claim.requestId, result: result.ok ? 'Success' : 'Error', ...(result.ok ? {} : { message: result.message }),
      op: start.op, claimedAt: start.claimedAt,
      ...(start.userId !== instance.userId ? { userId: start.userId } : {}),
      ...(start.projectId !== instance.projectId ? { projectId: start.projectId } : {}),
    },
    onlyIfLeaseBefore: s.onlyIfLeaseBefore, run: s.run, takenOver: takenOverAttributes(instance),
  });
  if (!released) return false;
  // Past the release nothing else will find this operation again (the sweeper's query no longer
  // sees it, a lost message brings no redelivery): a throttled write here is retried, not dropped.
  const ending = result.ok ? result.patch.moveEnding : undefined;
  await retryThrottled(() => settleReservation(table, instance.id, s.claim, result.ok, released, ending));
  await retryThrottled(() => finishAction(table, instance.id, start, {
    result: result.ok ? 'Success' : 'Error', traceback: result.ok ? undefined : result.message, now: s.now,
  }));
  return true;
}

const SUPERSEDED = 'Superseded: the claim on the instance was taken over before this operation finished';

/**
 * What an operation that took claims over (a delete, a hard reboot) owes them, before its own
 * release (or its give-back) clears the record of them: the reservation each made given back,
 * and each action ended in Error. Their own workers do the same when they are fenced out, but
 * their messages may have been lost: then nothing else would ever end them. Every write is
 * conditioned, so doing them twice (a redelivery, the superseded worker itself) changes nothing.
 */
export async function endTakenOver(table: Table, instance: Instance, now: number): Promise<void> {
  for (const claim of takenOverClaims(instance)) {
    await undoReservation(table, instance.id, claim);
    await finishAction(table, instance.id, claim, { result: 'Error', now, traceback: SUPERSEDED });
  }
}

/**
 * A deleted server holds nothing: its release empties its maps and records what they held, and
 * only after it is each volume and port freed (reservations.ts), so at no instant is a resource
 * free while a server still lists it. The item taken up is current: under the claim nothing
 * else changes the maps.
 */
function emptied(instance: Instance): InstancePatch {
  const ids = (kind: AttachableKind) => attachmentsOf(instance, kind).map((a) => a.id);
  return { volumes: {}, ports: {}, heldWhenDeleted: { volumes: ids(Volumes), ports: ids(Ports) } };
}

const SETTLE_ATTEMPTS = 5;

export async function retryThrottled<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (attempt >= SETTLE_ATTEMPTS || !isThrottle(err)) throw err;
      await new Promise((r) => setTimeout(r, 20 * 2 ** attempt));
    }
  }
}

/**
 * A request whose claim is gone. If its action already ended, this is a late duplicate: nothing
 * to do (undoing now could detach what it attached). If the instance records that this very
 * request released it (a crash came between the release and the action record), that is its
 * outcome, and what followed the release is done again. Otherwise it was superseded (delete,
 * reset-state, lease expiry): it gives back what it reserved, changes nothing on the instance,
 * and its action ends in Error.
 */
export async function abandonSuperseded(
  table: Table, instanceId: string, claim: ClaimRef, now: number, current?: Instance,
): Promise<void> {
  if ((await getAction(table, instanceId, claim.requestId))?.finishTime) return;
  const own = current?.lastOutcome?.requestId === claim.requestId ? current.lastOutcome : undefined;
  await settleReservation(table, instanceId, claim, own?.result === 'Success', current);
  const start: ActionStart = own
    ? { ...claim, claimedAt: own.claimedAt ?? claim.claimedAt, eventStart: own.eventStart ?? claim.eventStart }
    : claim;
  await finishAction(table, instanceId, start, {
    result: own?.result ?? 'Error', now,
    traceback: own ? own.message : SUPERSEDED,
  });
}
