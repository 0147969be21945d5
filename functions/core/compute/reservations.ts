import {
  attachmentOn, attachmentsOf, beginAttaching, beginDetaching, markAttached, Ports, releaseAttachable, reserve, undoDetaching, unreserve, Volumes,
  type AttachableKind,
} from '../shared/attachables.js';
import type { OperationName } from './catalogue.js';
import type { ClaimGuard } from './claimInstance.js';
import { NotFound } from '../shared/errors.js';
import type { Claim, Instance, MoveEnding } from './instance.js';
import type { Table } from '../shared/table.js';
import { attachingInterface, creatingServerPorts } from '../networks/serverPorts.js';
import { giveBackServer } from '../placement/quotas/usage.js';
import { readInstance } from './readInstance.js';
import { removeAttachmentItem } from './attachmentItems.js';
import { pendingMigrationOf } from './pendingMove.js';
import { givePlacementBack, recordedEnding, settleMoveEnding, undoMove, undoResizeAllocation } from './placing.js';
import { advanceMigration, failMigration } from './migrations.js';
import { snapshotting } from './snapshotReservation.js';

// What some operations hold besides the instance claim: a volume or a port. Its own item is
// reserved at admission BEFORE the claim (so a request for a resource another server holds is
// refused with one failed write and never claims the instance), under a short lease that ends a
// reservation whose request died before claiming (attachables.ts), and given back, or made
// in-use, or freed, after the operation's fenced release. A resource is freed only AFTER the
// release that took it off the instance item: at no instant may a resource be free while an
// instance item still lists it, or another server could attach it meanwhile.

export interface ReservationContext {
  readonly instanceId: string;
  /** The instance's project: a volume or port it reserves becomes (or must be) that project's. */
  readonly projectId: string;
  readonly requestId: string;
  readonly params: Record<string, unknown>;
  readonly now: number;
  /** How long a reservation stands without its request's claim on the instance (attachables.ts). */
  readonly leaseMs: number;
}

type ClaimRef = Pick<Claim, 'requestId' | 'params'> & { readonly op?: OperationName };
/** The claim as its worker holds it: `token` fences the worker's writes (fencedPut.ts). */
type TakenClaim = ClaimRef & { readonly token: number };

export interface Reservation {
  /**
   * Before the claim: reserve the resource (a 400 here costs no claim). What it returns joins the
   * claim's parameters (a port's address and MAC, for the worker and the answer).
   */
  readonly reserve?: (table: Table, ctx: ReservationContext) => Promise<Record<string, unknown> | void>;
  /** A precondition the claim's own write checks (detach: the attachment exists). */
  readonly guard?: (ctx: ReservationContext) => ClaimGuard;
  /** After the claim, from the claimed item (no read): extra parameters for the worker. */
  readonly decide?: (instance: Instance) => Record<string, unknown>;
  /**
   * When its worker takes the operation up, before the driver runs: what the resource's own item
   * says while it runs (a volume: attaching, detaching). Safe to repeat; undone by `undo`.
   * May throw FencedOut (the claim was taken over), having written nothing.
   */
  readonly begin?: (table: Table, claim: TakenClaim, instanceId: string) => Promise<void>;
  /** Undo this request's reservation; safe to repeat, a no-op once the resource moved on. */
  readonly undo: (table: Table, claim: ClaimRef, instanceId: string) => Promise<void>;
  /**
   * After a successful release: what the resource's own item must say now. Safe to repeat.
   * `released` is the instance item as the release left it, when known; `ending`, what a move's
   * release left to do, when its worker still holds it (placing.ts).
   */
  readonly settle: (table: Table, claim: ClaimRef, instanceId: string, released?: Instance, ending?: MoveEnding) => Promise<void>;
}

const nothing = async () => undefined;

const attaching = (kind: AttachableKind, idParam: string, decide?: Reservation['decide']): Reservation => ({
  reserve: async (table, ctx) => {
    await reserve(table, kind, {
      id: String(ctx.params[idParam]), instanceId: ctx.instanceId, projectId: ctx.projectId, requestId: ctx.requestId,
      now: ctx.now, leaseMs: ctx.leaseMs,
    });
  },
  decide,
  begin: async (table, claim, instanceId) => {
    if (kind === Volumes) await beginAttaching(table, kind, { id: String(claim.params[idParam]), instanceId, requestId: claim.requestId });
  },
  undo: async (table, claim, instanceId) => {
    await unreserve(table, kind, { id: String(claim.params[idParam]), instanceId, requestId: claim.requestId });
  },
  settle: async (table, claim, instanceId) => {
    const device = typeof claim.params.device === 'string' ? { device: claim.params.device } : {};
    await markAttached(table, kind, { id: String(claim.params[idParam]), instanceId, requestId: claim.requestId, ...device });
  },
});

/** Detach: the claim's own write checks the attachment is on the instance item (Nova: 404 first). */
const detaching = (kind: AttachableKind, idParam: string): Reservation => ({
  guard: (ctx) => {
    const id = String(ctx.params[idParam]);
    return {
      condition: 'attribute_exists(#attMap.#attId)',
      names: { '#attMap': kind.map, '#attId': id },
      values: {},
      beforeState: true,
      refusal: (instance) => (attachmentOn(instance, kind, id)
        ? undefined
        : new NotFound(`${kind === Volumes ? 'Volume' : 'Port'} ${id} is not attached to ${ctx.instanceId}`)),
    };
  },
  // A volume shows Cinder's detaching while the detach's worker runs, and in-use again if it fails.
  begin: async (table, claim, instanceId) => {
    if (kind === Volumes) await beginDetaching(table, kind, { id: String(claim.params[idParam]), instanceId, requestId: claim.requestId });
  },
  undo: async (table, claim, instanceId) => {
    if (kind === Volumes) await undoDetaching(table, kind, { id: String(claim.params[idParam]), instanceId, requestId: claim.requestId });
  },
  settle: async (table, claim, instanceId) => {
    await releaseAttachable(table, kind, { id: String(claim.params[idParam]), instanceId });
  },
});

/**
 * Delete: its release empties the instance's maps and records what they held (settle.ts, heldWhenDeleted);
 * only after that is each volume and port freed, each write conditioned on the resource still
 * being this instance's. A worker that dies between the release and these writes leaves the
 * resources in-use by a deleted server, owned by nobody else; its redelivery finds its own
 * outcome on the item (abandonSuperseded) and frees them from the same record.
 */
const deleting: Reservation = {
  undo: nothing,
  settle: async (table, _claim, instanceId, released) => {
    for (const kind of [Volumes, Ports]) {
      for (const id of released?.heldWhenDeleted?.[kind.map] ?? []) {
        await releaseAttachable(table, kind, { id, instanceId });
        // Its details too: a deleted server takes no later claim, so every one is at or below its version.
        await removeAttachmentItem(table, instanceId, kind.map, id, released!.version);
      }
    }
    // Its quota charge, once (conditioned on the entry); a worker that dies before this leaves it
    // to the usage's settling of servers that are gone (functions/core/placement/quotas/usage.ts).
    const server = released ?? await readInstance(table, instanceId);
    if (server?.projectId) await giveBackServer(table, server.projectId, instanceId);
    // Its host's capacity and its group membership, once each (conditioned on the entries).
    if (server) await givePlacementBack(table, server, true);
  },
};

/**
 * After a move's release: what it left to do (its MoveEnding), once: as its worker holds it, else
 * (a redelivery after a crash) as an item of the previous version kept it, else from its record.
 */
const settlingMove = (op: OperationName): Reservation['settle'] => async (table, claim, instanceId, released, ending) => {
  const server = released ?? await readInstance(table, instanceId);
  await settleMoveEnding(table, instanceId, ending ?? server?.moveEnding ?? await recordedEnding(table, { ...claim, op }));
};

/**
 * A move that failed or was superseded gives back its target. One whose release the server's
 * item shows after all (a redelivery after a crash, its outcome overwritten by a later
 * operation's) settles instead; so does a deleted server's, whose delete may have come between
 * that release and its give-back (the source is given back, conditioned, if it is still held).
 */
const moving = (op: OperationName): Reservation => ({
  undo: async (table, claim, instanceId) => {
    const server = await readInstance(table, instanceId);
    const undone = await undoMove(table, instanceId, claim.requestId, server);
    if (!undone || server?.deleted) await settleMoveEnding(table, instanceId, await recordedEnding(table, { ...claim, op }));
  },
  settle: settlingMove(op),
});

/**
 * Confirm and revert end the move a resize or a migration began: a failure leaves the server as
 * it was (both allocations kept) and its migration in error, as Nova's does. Their message names
 * the pending move's migration (decided from the claimed item), for a redelivery after a crash
 * between the release (which takes the pending move off) and its settle (recordedEnding).
 */
const endingMove = (op: 'confirm_resize' | 'revert_resize'): Reservation => ({
  decide: (instance) => {
    const migration = pendingMigrationOf(instance);
    return migration ? { migration } : {};
  },
  undo: async (table, _claim, instanceId) => {
    const migration = pendingMigrationOf(await readInstance(table, instanceId));
    if (migration) await advanceMigration(table, migration, ['confirming', 'reverting'], 'error', Date.now());
  },
  settle: settlingMove(op),
});

/** A create's reservation, whose failure (or supersession) also gives back the host it was placed on. */
function placedCreate(ports: Reservation): Reservation {
  return { ...ports, undo: async (table, claim, instanceId) => {
    await ports.undo(table, claim, instanceId);
    await givePlacementBack(table, { id: instanceId }, false);
  } };
}

/** The next free guest device (vdb, vdc, ...; vda is the root disk), from the claimed item. */
function nextDevice(instance: Instance): Record<string, unknown> {
  const taken = new Set(attachmentsOf(instance, Volumes).map((a) => a.device));
  for (let c = 'b'.charCodeAt(0); c <= 'z'.charCodeAt(0); c++) {
    const device = `/dev/vd${String.fromCharCode(c)}`;
    if (!taken.has(device)) return { device };
  }
  throw new NotFound('No free device name left on this server');
}

export const Reservations: Partial<Record<OperationName, Reservation>> = {
  attach_volume: attaching(Volumes, 'volumeId', nextDevice),
  detach_volume: detaching(Volumes, 'volumeId'),
  attach_interface: attachingInterface,
  detach_interface: detaching(Ports, 'portId'),
  delete: deleting,
  // A resize holds its host's extra capacity from its worker's start (placing.ts): a failed or
  // superseded one gives the difference back.
  resize: {
    undo: async (table, claim, instanceId) => {
      const server = await readInstance(table, instanceId);
      if (await undoResizeAllocation(table, instanceId, claim.requestId, server)) await failMigration(table, claim.requestId, 'error', Date.now());
      else await settleMoveEnding(table, instanceId, await recordedEnding(table, { ...claim, op: 'resize' }));
    },
    settle: settlingMove('resize'),
  },
  // A move holds its target beside its source from its worker's placement (placing.ts): a failed
  // or superseded one gives back its target; a successful one what its release left (its source).
  migrate: moving('migrate'),
  live_migrate: moving('live_migrate'),
  evacuate: moving('evacuate'),
  confirm_resize: endingMove('confirm_resize'),
  revert_resize: endingMove('revert_resize'),
  create: placedCreate(creatingServerPorts),
  create_image: snapshotting,
  create_backup: snapshotting,
};

/** Undo whatever `claim` reserved; a no-op for operations that reserve nothing. */
export async function undoReservation(
  table: Table, instanceId: string, claim: Pick<Claim, 'op' | 'requestId' | 'params'> | null | undefined,
): Promise<void> {
  if (claim) await Reservations[claim.op]?.undo(table, claim, instanceId);
}

/**
 * After a release: a failed operation gives back what it reserved; a successful one settles it.
 * `released`: the instance item as the release left it.
 */
export async function settleReservation(
  table: Table, instanceId: string, claim: Pick<Claim, 'op' | 'requestId' | 'params'>, succeeded: boolean, released?: Instance, ending?: MoveEnding,
): Promise<void> {
  const reservation = Reservations[claim.op];
  if (!reservation) return;
  if (succeeded) await reservation.settle(table, claim, instanceId, released, ending);
  else await reservation.undo(table, claim, instanceId);
}
