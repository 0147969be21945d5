import type { OperationName } from './catalogue.js';
import { findFlavor } from './flavors.js';
import type { Instance, InstancePatch } from './instance.js';
import { allocationOf, freeServer, giveBack, resizeAllocation, restoreAllocation } from '../placement/allocations.js';
import { readHosts } from '../placement/hosts.js';
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
  readonly params: Record<string, unknown>;
  readonly now: number;
  /** The claim's lease: an allocation older than it whose server is gone was left by a dead worker. */
  readonly leaseMs: number;
}

export type Placing = (ctx: PlacingContext) => Promise<InstancePatch>;

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
  return { host: placed.host, node: placed.node, availabilityZone: placed.zone, allocation: placed.allocation };
};

/** The disk a flavor asks of its host, in GiB: root, ephemeral and swap (MiB) disks. */
const diskOf = (f: { disk: number; ephemeral: number; swap: number }) => f.disk + f.ephemeral + Math.ceil(f.swap / 1024);

/**
 * Resize: on the server's host (each simulated host is one node, and Nova allows resizing on the
 * same host), its allocation replaced by the new flavor's in one conditional write; no room there
 * is Nova's NoValidHost, and the server stays as it was. A server placed before the scheduler
 * existed has no allocation: nothing to move.
 */
const placeResize: Placing = async ({ table, instance, now, requestId, params }) => {
  if (!instance.host || !instance.allocation) return {};
  const flavor = await findFlavor(table, String(params.flavorRef));
  if (!flavor) throw new DriverError(`Flavor ${String(params.flavorRef)} could not be found.`, 500);
  const { group } = instance.allocation;
  const resized = await resizeAllocation(table, instance.host, instance.id, instance.allocation, {
    vcpus: flavor.vcpus, ram: flavor.ram, disk: diskOf(flavor), at: now, ...(group ? { group } : {}),
  }, requestId);
  if (!resized) throw new DriverError(NO_VALID_HOST, 500);
  return { allocation: resized };
};

/** Revert: the allocation before the resize back (its release records it on the item). */
const placeRevert: Placing = async ({ table, instance }) => {
  const resized = instance.allocation;
  if (!instance.host || !resized?.previous) return {};
  await restoreAllocation(table, instance.host, instance.id, resized);
  return { allocation: resized.previous };
};

/** The operations that need a host chosen (or their allocation changed) before the driver runs. */
export const Placings: Partial<Record<OperationName, Placing>> = {
  create: placeNew,
  resize: placeResize,
  revert_resize: placeRevert,
};

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
  if (msg.op === 'resize' && current?.allocation?.resizedBy !== msg.requestId) await undoResizeAllocation(table, msg.instanceId, msg.requestId);
}

/**
 * A resize that failed or was superseded after its allocation was resized gives the difference
 * back: the host's entry, if it is this request's, restored to the one before (once).
 */
export async function undoResizeAllocation(table: Table, instanceId: string, requestId: string): Promise<void> {
  const found = allocationOf(await readHosts(table), instanceId);
  if (found?.entry.resizedBy === requestId) await restoreAllocation(table, found.host.name, instanceId, found.entry);
}

/**
 * What a server holds in Placement, each give-back conditioned, so once. A deleted server gives
 * back the allocation its item records (no read) and its group membership; a build that failed
 * or was superseded never recorded one on the item, so its allocation is looked for on the hosts
 * (an ERROR server stays in its group, as in Nova, until it is deleted).
 */
export async function givePlacementBack(
  table: Table, instance: Pick<Instance, 'id' | 'serverGroupId' | 'host' | 'allocation'>, deleted: boolean,
): Promise<void> {
  if (instance.host && instance.allocation) await giveBack(table, instance.host, instance.id, instance.allocation);
  else if (!deleted) await freeServer(table, instance.id);
  if (deleted && instance.serverGroupId) await removeMember(table, instance.serverGroupId, instance.id);
}
