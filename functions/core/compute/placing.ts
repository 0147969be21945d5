import type { OperationName } from './catalogue.js';
import { findFlavor } from './flavors.js';
import type { Instance, InstancePatch } from './instance.js';
import { freeServer, giveBack } from '../placement/allocations.js';
import { schedule } from '../placement/scheduler.js';
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
  readonly now: number;
  /** The claim's lease: an allocation older than it whose server is gone was left by a dead worker. */
  readonly leaseMs: number;
}

export type Placing = (ctx: PlacingContext) => Promise<InstancePatch>;

const placeNew: Placing = async ({ table, instance, now, leaseMs }) => {
  const flavor = await findFlavor(table, instance.flavorId);
  if (!flavor) throw new DriverError(`Flavor ${instance.flavorId} could not be found.`, 500);
  const placed = await schedule(table, {
    serverId: instance.id, vcpus: flavor.vcpus, ram: flavor.ram, disk: flavor.disk + flavor.ephemeral + Math.ceil(flavor.swap / 1024),
    now, leaseMs,
    ...(instance.serverGroupId ? { groupId: instance.serverGroupId } : {}),
    ...(instance.requestedZone ? { zone: instance.requestedZone } : {}),
    ...(instance.requestedHost ? { forcedHost: instance.requestedHost } : {}),
  });
  return { host: placed.host, node: placed.node, availabilityZone: placed.zone, allocation: placed.allocation };
};

/** The operations that need a host chosen before the driver runs. */
export const Placings: Partial<Record<OperationName, Placing>> = {
  create: placeNew,
};

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
