import type { OperationName } from './catalogue.js';
import { findFlavor } from './flavors.js';
import type { Instance, InstancePatch, MoveEnding } from './instance.js';
import {
  advanceMigration, advanceMigrationUnderClaim, failMigration, findMigration, migrationUuidFor, recordMigration, recordMoveOrigin, refuseStopped,
  type MigrationStatus, type MigrationType,
} from './migrations.js';
import { pendingMoveTo, waitingMove, type WaitingMove } from './pendingMove.js';
import {
  allocationOf, allocationsOf, freeServer, giveBack, recordedAllocation, recordsAllocation, resizeAllocation, restoreAllocation,
} from '../placement/allocations.js';
import { readHosts, type Allocation } from '../placement/hosts.js';
import { NO_VALID_HOST, schedule } from '../placement/scheduler.js';
import { removeMember } from '../placement/serverGroups.js';
import { DriverError } from '../shared/errors.js';
import type { Table } from '../shared/table.js';

// Where compute asks Placement for a host: in the worker, under the operation's claim, before
// the driver's first step, as Nova's conductor asks its scheduler before it casts to a compute
// host. Not at admission: the API answers a create with one write and one message, and whether a
// host has room is known only when the build starts (a host may fill or be disabled meanwhile);
// not in the driver: every driver is placed the same way. The chosen host reaches the driver in
// its parameters and the instance with the operation's release. An allocation is given back by
// the create's failure (reservations.ts) or the server's deletion, once (allocations.ts).

export interface PlacingContext {
  readonly table: Table;
  readonly instance: Instance;
  readonly requestId: string;
  /** The claim's token: a move's Migration record is written only while the claim holds (fencedPut.ts). */
  readonly token: number;
  readonly params: Record<string, unknown>;
  readonly now: number;
  /** The claim's lease: an allocation older than it whose server is gone was left by a dead worker. */
  readonly leaseMs: number;
}

/**
 * What a placing answers: the patch its release writes and, for a confirm or a revert, what the
 * driver and the release's vm_state take from the move it ends (`beforeMove`: from its migration
 * record, or from an item of the previous version; never written to the item).
 */
export type Placed = InstancePatch & { readonly beforeMove?: Pick<Instance, 'oldFlavorId' | 'preResizeVmState'> };

export type Placing = (ctx: PlacingContext) => Promise<Placed>;

const placeNew: Placing = async ({ table, instance, now, leaseMs }) => {
  const flavor = await findFlavor(table, instance.flavorId);
  if (!flavor) throw new DriverError(`Flavor ${instance.flavorId} could not be found.`, 500);
  const placed = await schedule(table, {
    serverId: instance.id, vcpus: flavor.vcpus, ram: flavor.ram, disk: diskOf(flavor),
    now, leaseMs,
    ...(instance.serverGroupId ? { groupId: instance.serverGroupId } : {}),
    ...(instance.requestedZone ? { zone: instance.requestedZone } : {}),
    ...(instance.requestedHost ? { forcedHost: instance.requestedHost } : {}),
  });
  return { host: placed.host, node: placed.node, availabilityZone: placed.zone, allocation: recordedAllocation(placed.allocation) };
};

/**
 * Each move's last status, written after its release (MoveEnding), from the one before it: Nova's
 * statuses for a resize or a cold migration going to VERIFY_RESIZE, a live migration, an
 * evacuation, a confirm and a revert. One table, read by the placings and by a redelivery.
 */
const ENDINGS: Partial<Record<OperationName, { readonly from: readonly MigrationStatus[]; readonly to: MigrationStatus }>> = {
  resize: { from: ['migrating'], to: 'finished' },
  migrate: { from: ['migrating'], to: 'finished' },
  live_migrate: { from: ['post-migrating'], to: 'completed' },
  evacuate: { from: ['pre-migrating'], to: 'done' },
  confirm_resize: { from: ['confirming'], to: 'confirmed' },
  revert_resize: { from: ['reverting'], to: 'reverted' },
};

const endingOf = (op: OperationName, migration: string, giveBack?: MoveEnding['giveBack']): MoveEnding => ({
  migration, ...ENDINGS[op]!, ...(giveBack ? { giveBack } : {}),
});

/** The disk a flavor asks of its host, in GiB: root, ephemeral and swap (MiB) disks. */
const diskOf = (f: { disk: number; ephemeral: number; swap: number }) => f.disk + f.ephemeral + Math.ceil(f.swap / 1024);

/**
 * Resize: on the server's host (each simulated host is one node, and Nova allows resizing on the
 * same host), its allocation replaced by the new flavor's in one conditional write; no room there
 * is Nova's NoValidHost, and the server stays as it was. A server placed before the scheduler
 * existed has no allocation: nothing to move.
 */
const placeResize: Placing = async ({ table, instance, now, requestId, params, token }) => {
  const migration = await startMigration(table, instance, token, 'resize', 'migrating', requestId, now, String(params.flavorRef));
  const moved = { pendingMove: pendingMoveTo(migration), moveEnding: endingOf('resize', migration) };
  if (!instance.host || !instance.allocation) return moved;
  const flavor = await findFlavor(table, String(params.flavorRef));
  if (!flavor) throw new DriverError(`Flavor ${String(params.flavorRef)} could not be found.`, 500);
  const { group } = instance.allocation;
  const resized = await resizeAllocation(table, instance.host, instance.id, instance.allocation, {
    vcpus: flavor.vcpus, ram: flavor.ram, disk: diskOf(flavor), at: now, ...(group ? { group } : {}),
  }, requestId);
  if (!resized) throw new DriverError(NO_VALID_HOST, 500);
  // The allocation before it, a revert's way back, is on the migration record (Migration.before).
  return { allocation: recordedAllocation(resized), ...moved };
};

/** Nova's Migration record of a move, made by the worker that holds its claim (once: its uuid is the request's). */
async function startMigration(
  table: Table, instance: Instance, token: number, type: MigrationType, status: MigrationStatus, requestId: string, now: number, newFlavorId = instance.flavorId,
): Promise<string> {
  const inPlace = type === 'resize';
  // What a confirm or a revert of a move that waits for it goes back to (pendingMove.ts).
  const waits = inPlace || type === 'migration';
  const before = {
    vmState: instance.vmState, ...(inPlace ? {} : { availabilityZone: instance.availabilityZone ?? null }),
    ...(instance.allocation ? { allocation: recordedAllocation(instance.allocation) } : {}),
  };
  const made = await recordMigration(table, {
    instanceUuid: instance.id, migrationType: type, status, requestId,
    sourceCompute: instance.host ?? null, sourceNode: instance.node ?? instance.host ?? null,
    destCompute: inPlace ? instance.host ?? null : null, destNode: inPlace ? instance.node ?? instance.host ?? null : null,
    oldFlavorId: instance.flavorId, newFlavorId, userId: instance.userId, projectId: instance.projectId, ...(waits ? { before } : {}),
  }, now, { instanceId: instance.id, token });
  if (waits && !made.before) await recordMoveOrigin(table, { instanceId: instance.id, token }, made.uuid, before);
  return made.uuid;
}

/**
 * A move's target: the scheduler's one conditional write on another host (never the source,
 * where the server's allocation is kept until the move ends), the entry marked as this request's
 * so that its failure gives back this one and nothing else. `host`: an administrator's choice
 * (2.56 migrate, os-migrateLive, evacuate), still checked by the write.
 */
async function placeTarget(table: Table, instance: Instance, requestId: string, params: Record<string, unknown>, now: number, leaseMs: number) {
  const flavor = await findFlavor(table, instance.flavorId);
  if (!flavor) throw new DriverError(`Flavor ${instance.flavorId} could not be found.`, 500);
  return schedule(table, {
    serverId: instance.id, vcpus: flavor.vcpus, ram: flavor.ram, disk: diskOf(flavor), now, leaseMs,
    movedBy: requestId, ...(instance.host ? { excludeHost: instance.host } : {}),
    ...(instance.serverGroupId ? { groupId: instance.serverGroupId } : {}),
    // The zone the server was asked into binds its moves too (Nova's request spec keeps it).
    ...(instance.requestedZone ? { zone: instance.requestedZone } : {}),
    ...(typeof params.host === 'string' ? { forcedHost: params.host } : {}),
  });
}

/** The server's place on its source: what a move leaves behind and a revert goes back to. */
function sourceOf(instance: Instance) {
  if (!instance.host || !instance.allocation) throw new DriverError(`Instance ${instance.id} is not ready`, 409);
  return {
    host: instance.host, node: instance.node ?? instance.host, availabilityZone: instance.availabilityZone ?? null, allocation: recordedAllocation(instance.allocation),
  };
}

/**
 * A move's first steps, alike for the three: its Migration record in `first`, its target taken,
 * the record moved on (`next`) naming the target and, when the source is given back after the
 * release (`leavesSource`), the source (Migration.giveBack). `onTarget` is what the release records of it.
 */
async function moveToTarget(
  { table, instance, now, requestId, params, leaseMs, token }: PlacingContext,
  type: MigrationType, first: MigrationStatus, next: { from: readonly MigrationStatus[]; to: MigrationStatus }, leavesSource: boolean,
) {
  const source = sourceOf(instance);
  const migration = await startMigration(table, instance, token, type, first, requestId, now);
  const placed = await placeTarget(table, instance, requestId, params, now, leaseMs);
  const giveBack = leavesSource ? { giveBack: { host: source.host, allocation: source.allocation } } : {};
  const advanced = await advanceMigrationUnderClaim(
    table, { instanceId: instance.id, token }, migration, next.from, next.to, now, { destCompute: placed.host, destNode: placed.node, ...giveBack },
  );
  const onTarget = { host: placed.host, node: placed.node, availabilityZone: placed.zone, allocation: recordedAllocation(placed.allocation) };
  return { source, migration, advanced, onTarget, ...giveBack };
}

/**
 * Cold migration (Nova's resize without a new flavor): to another host, the source's allocation
 * kept until confirmResize gives it back or revertResize moves the server back to it.
 */
const placeMigrate: Placing = async (ctx) => {
  const { migration, onTarget } = await moveToTarget(ctx, 'migration', 'pre-migrating', { from: ['pre-migrating'], to: 'migrating' }, false);
  return { ...onTarget, pendingMove: pendingMoveTo(migration), moveEnding: endingOf('migrate', migration) };
};

/**
 * Live migration: the target taken as for a cold one; the source's allocation is left to give
 * back after the release. The migration goes queued, then preparing here (refused if an abort
 * came first: the move fails and its target is given back); the driver takes it on (running,
 * post-migrating) through the context's `migration`, each step one conditional write.
 */
const placeLiveMigrate: Placing = async (ctx) => {
  const { migration, advanced, onTarget, giveBack } = await moveToTarget(ctx, 'live-migration', 'queued', { from: ['queued', 'preparing'], to: 'preparing' }, true);
  if (!advanced.ok) refuseStopped(advanced.migration);
  return { ...onTarget, moveEnding: endingOf('live_migrate', migration, giveBack) };
};

/**
 * Evacuation (admission checked its source's service is down): rebuilt on another host chosen
 * by the scheduler; the source's allocation is given back after the release (Nova frees it when
 * the source's compute comes back; here at once: nothing runs there any more).
 */
const placeEvacuate: Placing = async (ctx) => {
  const { migration, onTarget, giveBack } = await moveToTarget(ctx, 'evacuation', 'accepted', { from: ['accepted'], to: 'pre-migrating' }, true);
  return { ...onTarget, moveEnding: endingOf('evacuate', migration, giveBack) };
};

/** What a revert goes back to and the vm_state a confirm or a revert ends in, from the move. */
const beforeOf = (move: WaitingMove): Placed['beforeMove'] => ({
  ...(move.oldFlavorId !== undefined ? { oldFlavorId: move.oldFlavorId } : {}),
  ...(move.preResizeVmState !== undefined ? { preResizeVmState: move.preResizeVmState } : {}),
});

/**
 * Confirm: the migration confirming; a cold migration's source allocation is left to give back
 * after the release (named on the record). An item of the previous version drops its allocation
 * before a resize.
 */
const placeConfirm: Placing = async ({ table, instance, now, token }) => {
  const move = await waitingMove(table, instance);
  if (!move) return {};
  const giveBack = move.source ? { giveBack: { host: move.source.host, allocation: recordedAllocation(move.source.allocation) } } : undefined;
  await advanceMigrationUnderClaim(table, { instanceId: instance.id, token }, move.migration, ['finished', 'confirming'], 'confirming', now, giveBack);
  return {
    clear: ['pendingMove'],
    ...(instance.allocation ? { allocation: recordedAllocation(instance.allocation) } : {}),
    moveEnding: endingOf('confirm_resize', move.migration, giveBack?.giveBack), beforeMove: beforeOf(move),
  };
};

/**
 * Revert: a cold migration goes back to its source, whose allocation it kept, and leaves the
 * target's to give back after the release; a resize gets the allocation before it back on its host.
 */
const placeRevert: Placing = async ({ table, instance, now, token }) => {
  const move = await waitingMove(table, instance);
  const target = move?.source && instance.host && instance.allocation
    ? { giveBack: { host: instance.host, allocation: recordedAllocation(instance.allocation) } } : undefined;
  if (move) await advanceMigrationUnderClaim(table, { instanceId: instance.id, token }, move.migration, ['finished', 'reverting'], 'reverting', now, target);
  const ending = move
    ? { clear: ['pendingMove'] as const, moveEnding: endingOf('revert_resize', move.migration, target?.giveBack), beforeMove: beforeOf(move) } : {};
  if (move?.source) {
    return {
      host: move.source.host, node: move.source.node, availabilityZone: move.source.availabilityZone ?? null,
      allocation: recordedAllocation(move.source.allocation), ...ending,
    };
  }
  const resized = instance.allocation;
  const before = move?.allocationBefore;
  if (!instance.host || !resized || !before) return { ...ending };
  await restoreAllocation(table, instance.host, instance.id, { ...resized, previous: before });
  return { allocation: recordedAllocation(before), ...ending };
};

/** The operations that need a host chosen (or their allocation changed) before the driver runs. */
export const Placings: Partial<Record<OperationName, Placing>> = {
  create: placeNew,
  resize: placeResize,
  confirm_resize: placeConfirm,
  revert_resize: placeRevert,
  migrate: placeMigrate,
  live_migrate: placeLiveMigrate,
  evacuate: placeEvacuate,
};

/** The operations that move a server to another host, each taking its target with an entry marked as its own. */
const MOVES: readonly OperationName[] = ['migrate', 'live_migrate', 'evacuate'];

/** The server as an undo or a settle sees it: what its item records as its own. */
type Holder = Pick<Instance, 'host' | 'allocation' | 'pendingMove'>;

/** The source a cold migration waiting for its confirm keeps, if the server waits on one (pendingMove.ts). */
async function keptSource(table: Table, server: Holder | undefined): Promise<WaitingMove['source']> {
  return (await waitingMove(table, server))?.source;
}

/**
 * Whether the server's item records `allocation` on `host` as its own: its allocation, or the
 * source a cold migration waiting for its confirm keeps (`source`: a late duplicate of the move
 * before finds that source still marked as its target).
 */
function holds(server: Holder | undefined, source: WaitingMove['source'], host: string, allocation: Allocation): boolean {
  if (!server) return false;
  return recordsAllocation(server, host, allocation) || (source?.host === host && source.allocation.at === allocation.at);
}

/**
 * A move that failed or was superseded gives back what it took on its target (the entries marked
 * as this request's, once each) and its migration ends in error; the source's stays the server's.
 * Not if the server's item records one of them (`server`, the item as it is now): then the move
 * released and the target is the server's (a late duplicate, or a redelivery that finds a later
 * operation's outcome on the item): nothing is undone, and false is answered.
 */
export async function undoMove(table: Table, instanceId: string, requestId: string, server?: Holder, now = Date.now()): Promise<boolean> {
  const taken = allocationsOf(await readHosts(table), instanceId).filter(({ entry }) => entry.movedBy === requestId);
  const source = taken.length > 0 ? await keptSource(table, server) : undefined;
  if (taken.some(({ host, entry }) => holds(server, source, host.name, entry))) return false;
  for (const { host, entry } of taken) await giveBack(table, host.name, instanceId, entry);
  await failMigration(table, requestId, 'error', now);
  return true;
}

/**
 * What a move's release left to do (its MoveEnding), once: the allocation it no longer needs
 * given back (conditioned on the entry) and its migration's last status (conditioned on the one
 * before). Only after that release (or for a deleted server): what it gives back is then no
 * longer the server's.
 */
export async function settleMoveEnding(table: Table, instanceId: string, ending: MoveEnding | undefined, now = Date.now()): Promise<void> {
  if (!ending) return;
  if (ending.giveBack) await giveBack(table, ending.giveBack.host, instanceId, ending.giveBack.allocation);
  await advanceMigration(table, ending.migration, ending.from, ending.to, now);
}

/**
 * A move's ending as a redelivery finds it, with nothing on the server's item: its steps from
 * the operation, its migration from the request (a confirm's or a revert's from its message,
 * which admission gave the pending move's: reservations.ts), what it gives back from the
 * migration record, where the step before the release put it. One read.
 */
export async function recordedEnding(
  table: Table, claim: { readonly op: OperationName; readonly requestId: string; readonly params?: Record<string, unknown> },
): Promise<MoveEnding | undefined> {
  if (!ENDINGS[claim.op]) return undefined;
  const migration = claim.op === 'confirm_resize' || claim.op === 'revert_resize' ? claim.params?.migration : migrationUuidFor(claim.requestId);
  if (typeof migration !== 'string') return undefined;
  return endingOf(claim.op, migration, (await findMigration(table, migration))?.giveBack);
}

/**
 * What a superseded operation's placement left, given back by its own worker whatever else
 * already ended its action: a delete (or a reset) that took a create or a resize over may have
 * run before this worker allocated, and then nothing else would give the allocation back. Only
 * what the server's item does not record as its own goes: a late duplicate of an operation that
 * ended well finds its allocation recorded there and leaves it. Each give-back is conditioned, so
 * done twice it happens once.
 */
export async function placementOfSuperseded(
  table: Table, msg: { op: OperationName; requestId: string; instanceId: string }, current: Instance | undefined,
): Promise<void> {
  if (msg.op === 'create' && (!current || current.deleted || !current.allocation)) await freeServer(table, msg.instanceId);
  if (msg.op === 'resize') await undoResizeAllocation(table, msg.instanceId, msg.requestId, current);
  if (MOVES.includes(msg.op)) await undoMove(table, msg.instanceId, msg.requestId, current);
}

/**
 * A resize that failed or was superseded after its allocation was resized gives the difference
 * back: the host's entry, if it is this request's, restored to the one before (once). Not if the
 * server's item records that entry (the resize released): false then.
 */
export async function undoResizeAllocation(table: Table, instanceId: string, requestId: string, server?: Holder): Promise<boolean> {
  const found = allocationOf(await readHosts(table), instanceId);
  if (found?.entry.resizedBy !== requestId) return true;
  if (holds(server, await keptSource(table, server), found.host.name, found.entry)) return false;
  await restoreAllocation(table, found.host.name, instanceId, found.entry);
  return true;
}

/**
 * What a server holds in Placement, each give-back conditioned, so once. A deleted server gives
 * back the allocation its item records (no read) and its group membership; a build that failed
 * or was superseded never recorded one on the item, so its allocation is looked for on the hosts
 * (an ERROR server stays in its group, as in Nova, until it is deleted).
 */
export async function givePlacementBack(
  table: Table, instance: Pick<Instance, 'id' | 'serverGroupId' | 'host' | 'allocation' | 'pendingMove' | 'moveEnding'>, deleted: boolean,
): Promise<void> {
  // A server deleted while a cold migration waits for its confirm holds its source too; an item
  // the previous version wrote, what its last move's release left (it kept the ending there).
  const source = deleted ? await keptSource(table, instance) : undefined;
  if (source) await giveBack(table, source.host, instance.id, source.allocation);
  if (deleted && instance.moveEnding?.giveBack) await giveBack(table, instance.moveEnding.giveBack.host, instance.id, instance.moveEnding.giveBack.allocation);
  if (instance.host && instance.allocation) {
    const given = await giveBack(table, instance.host, instance.id, instance.allocation);
    // A deleted server holds nothing. Its entry no longer as recorded is a late write of an
    // operation taken over before it wrote (a resize's, whose worker died before undoing it):
    // given back as it stands, each entry conditioned on itself (a repeat finds none).
    if (!given && deleted) {
      for (const { host, entry } of allocationsOf(await readHosts(table), instance.id)) await giveBack(table, host.name, instance.id, entry);
    }
  } else if (!deleted) await freeServer(table, instance.id);
  if (deleted && instance.serverGroupId) await removeMember(table, instance.serverGroupId, instance.id);
}
