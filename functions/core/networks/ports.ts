import { createHash } from 'node:crypto';
import { DeleteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { Conflict, DomainError, NotFound, ServiceUnavailable } from '../shared/errors.js';
import { queryIndexedItems } from '../shared/indexedItems.js';
import {
  INDEX_ALL_SERVERS, INDEX_BY_PROJECT, isConditionFailure, itemFromConditionFailure, keys, leaseShardOf, SERVER_SHARDS, shardOf,
  usedPlaceholders, type Table,
} from '../shared/table.js';
import { addressesHeldBy, allocateAddress, checkRequestedAddress, freeAddress } from './addresses.js';
import {
  invalidInput, networkKeys, networkNotFound, nowIso, type FixedIp, type Network, type Port, type Subnet,
} from './model.js';
import { getItem } from './store.js';
import { listingKeyOf, listingKeys } from '../shared/projectListing.js';

// A port's life on its PORT# item. Made in steps, each one conditional write: the item
// (`creating`, with a lease on the sweeper's index), its membership of the network, its
// addresses, then the item finished (available, or bound to a server). Removed in the reverse
// order: the item marked `deleting` (with a lease), its addresses given back, its membership,
// then the item. A process that dies in between leaves a `creating` or `deleting` item whose
// lease runs out; the sweeper (or the next to touch it) finishes the removal. No address is
// ever free while a port lists it, nor listed by two ports.

/** How long a removal may take before the sweeper finishes it. */
export const REMOVAL_LEASE_MS = 60_000;

/** The requested shape of a port's addresses: each entry a subnet, an address, or both. */
export interface FixedIpRequest {
  readonly subnetId?: string;
  readonly ipAddress?: string;
}

export interface PortSpec {
  readonly id: string;
  readonly projectId: string;
  readonly network: Network;
  /** The network's subnets (read with it). */
  readonly subnets: readonly Subnet[];
  readonly name: string;
  readonly description: string;
  readonly adminStateUp: boolean;
  readonly macAddress?: string;
  /** Undefined: one address from the first IPv4 subnet that has one, and one from the first IPv6. */
  readonly fixedIps?: readonly FixedIpRequest[];
  readonly securityGroups: readonly string[];
  readonly portSecurityEnabled: boolean;
  readonly deviceId?: string;
  readonly deviceOwner?: string;
  /** The request making it (a retry of the request finds it). */
  readonly requestId: string;
  readonly now: number;
  /** Until when its creation may take before the sweeper undoes it. */
  readonly creatingUntil: number;
  /** Made by Nova for a server: it ends reserved (attaching) for that server and request. */
  readonly bind?: { readonly instanceId: string; readonly leaseUntil: number };
}

/** Neutron's MACs (base fa:16:3e), from the port id: a retry of a creation gives the same one. */
export function macFor(portId: string): string {
  const h = createHash('sha256').update(`mac:${portId}`).digest();
  return `fa:16:3e:${[h[0]!, h[1]!, h[2]!].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
}

const portIndexes = (table: Table, id: string, projectId: string, created: string) => ({
  gsi1pk: listingKeyOf(table, 'PORTS', projectId, id), gsi1sk: `${created}#${id}`,
  gsi2pk: `PORTS#${shardOf(id, PORT_INDEX_SHARDS)}`, gsi2sk: `${created}#${id}`,
});
export const PORT_INDEX_SHARDS = SERVER_SHARDS;

/**
 * The addresses a port asks for, checked against its network (400 with nothing written):
 * each named subnet is one of the network's, each address inside its subnet.
 */
export function plannedAddresses(spec: Pick<PortSpec, 'network' | 'subnets' | 'fixedIps'>): { subnet: Subnet; ipAddress?: string }[] {
  const bySubnet = new Map(spec.subnets.map((s) => [s.id, s]));
  if (spec.fixedIps === undefined) {
    const first = (v: 4 | 6) => spec.subnets.find((s) => s.ipVersion === v);
    return [first(4), first(6)].filter((s): s is Subnet => s !== undefined).map((subnet) => ({ subnet }));
  }
  return spec.fixedIps.map((f) => {
    let subnet = f.subnetId !== undefined ? bySubnet.get(f.subnetId) : undefined;
    if (f.subnetId !== undefined && !subnet) {
      throw invalidInput(`Invalid input for operation: Failed to create port on network ${spec.network.id}, because fixed_ips included invalid subnet ${f.subnetId}.`);
    }
    if (f.ipAddress !== undefined && !subnet) {
      subnet = spec.subnets.find((s) => {
        try { checkRequestedAddress(s, f.ipAddress!); return true; } catch { return false; }
      });
      if (!subnet) throw invalidInput(`Invalid input for operation: IP address ${f.ipAddress} is not a valid IP for any subnet on network ${spec.network.id}.`);
    }
    return { subnet: subnet!, ...(f.ipAddress !== undefined ? { ipAddress: checkRequestedAddress(subnet!, f.ipAddress) } : {}) };
  });
}

/**
 * Makes the port. Every failure after the first write undoes what was written, and a retry of the
 * same request (the same port id) goes on from where the first stopped.
 */
export async function createPort(table: Table, spec: PortSpec): Promise<Port> {
  const plan = plannedAddresses(spec);
  const created = nowIso(spec.now);
  const item: Port = {
    id: spec.id, status: 'creating', projectId: spec.projectId, networkId: spec.network.id, networkName: spec.network.name,
    name: spec.name, description: spec.description, macAddress: spec.macAddress ?? macFor(spec.id), fixedIps: [],
    subnetIds: [...new Set(plan.map((p) => p.subnet.id))], adminStateUp: spec.adminStateUp,
    securityGroups: [...spec.securityGroups], portSecurityEnabled: spec.portSecurityEnabled,
    ...(spec.deviceId ? { deviceId: spec.deviceId } : {}), ...(spec.deviceOwner ? { deviceOwner: spec.deviceOwner } : {}),
    ...(spec.bind ? { novaMade: true } : {}),
    createdByRequest: spec.requestId, leaseUntil: spec.creatingUntil, createdAt: created, updatedAt: created, revision: 1,
  } as Port;
  for (let attempt = 0; ; attempt++) {
    try {
      await table.db.send(new PutCommand({
        TableName: table.name,
        Item: { ...keys.port(spec.id), ...item, leaseShard: leaseShardOf(spec.id), ...portIndexes(table, spec.id, spec.projectId, created) },
        ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }));
      break;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const made = itemFromConditionFailure<Port>(err) ?? await getItem<Port>(table, keys.port(spec.id));
      if (made?.createdByRequest !== spec.requestId) throw err;
      // This request made it before it died: still creating, it goes on; being undone (the sweeper
      // gave up on it), the undo is finished and it is made again; finished, it is reported.
      if (made.status === 'creating') break;
      if (made.status !== 'deleting' || attempt > 0) return made;
      await finishRemoval(table, made);
    }
  }
  const fixedIps: FixedIp[] = [];
  try {
    await putMembership(table, spec.network.id, spec.id, spec.now);
    const network = await getItem<Network>(table, networkKeys.network(spec.network.id));
    if (!network || network.deleting) throw networkNotFound(spec.network.id);
    for (const p of plan) {
      const exclude = new Set(fixedIps.filter((f) => f.subnetId === p.subnet.id).map((f) => f.ipAddress));
      fixedIps.push(await allocateAddress(table, {
        subnet: p.subnet, portId: spec.id, networkId: spec.network.id, ipAddress: p.ipAddress, exclude, now: spec.now,
      }));
    }
  } catch (err) {
    // Refused (no address left, the network gone): undone now. Anything else (a throttled write,
    // a crash) leaves it creating, for a retry of the request to go on or the sweeper to undo.
    if (err instanceof DomainError && err.kind !== 'serviceUnavailable') {
      await removePort(table, spec.id, { from: 'creating', now: spec.now }).catch(() => undefined);
    }
    throw err;
  }
  return finishCreation(table, spec, fixedIps);
}

async function finishCreation(table: Table, spec: PortSpec, fixedIps: FixedIp[]): Promise<Port> {
  const bound = spec.bind;
  const expression = bound
    ? 'SET #status = :attaching, #ips = :ips, #instance = :instance, #request = :request, #lease = :lease, #updated = :now'
    : 'SET #status = :unbound, #ips = :ips, #updated = :now REMOVE #lease, #shard';
  try {
    const out = await table.db.send(new UpdateCommand({
      TableName: table.name, Key: keys.port(spec.id),
      ConditionExpression: '#status = :creating', UpdateExpression: expression,
      ...usedPlaceholders(['#status = :creating', expression], {
        '#status': 'status', '#ips': 'fixedIps', '#instance': 'instanceId', '#request': 'requestId', '#lease': 'leaseUntil',
        '#shard': 'leaseShard', '#updated': 'updatedAt',
      }, {
        // A device a user named (not a server) holds it as a server would: Nova cannot bind it.
        ':creating': 'creating', ':attaching': 'attaching', ':unbound': spec.deviceId ? 'in-use' : 'available', ':ips': fixedIps,
        ':instance': bound?.instanceId, ':request': spec.requestId, ':lease': bound?.leaseUntil, ':now': nowIso(spec.now),
      }),
      ReturnValues: 'ALL_NEW',
    }));
    return out.Attributes as Port;
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    // Its creation took so long the sweeper undid it: what it took goes back, and a retry starts over.
    for (const f of fixedIps) await freeAddress(table, f.subnetId, f.ipAddress, spec.id);
    throw new ServiceUnavailable('The port could not be created in time; nothing was kept. Please retry.', { cause: err });
  }
}

async function putMembership(table: Table, networkId: string, portId: string, now: number): Promise<void> {
  await table.db.send(new PutCommand({
    TableName: table.name, Item: { ...networkKeys.member(networkId, portId), portId, networkId, createdAt: now },
  }));
}

export interface RemovalStart {
  /** The only status the removal may start from (`creating`: an undo); absent: a finished port. */
  readonly from?: 'creating';
  /**
   * A further condition the port must meet: a conjunction (e.g. "held by this server"), and
   * optionally alternatives of which one must hold too (e.g. "Nova made it" or "Neutron deleted it").
   */
  readonly condition?: {
    readonly expression: string; readonly anyOf?: readonly string[];
    readonly names: Record<string, string>; readonly values: Record<string, unknown>;
  };
  readonly now: number;
}

/**
 * Removes the port: ONE conditional write marks it `deleting` (from then on no one reserves,
 * binds or lists it), then its addresses and membership go, then the item. Returns false, having
 * changed nothing, when the condition does not hold; a removal already under way is finished.
 */
export async function removePort(table: Table, id: string, start: RemovalStart): Promise<boolean> {
  const names: Record<string, string> = {
    '#status': 'status', '#lease': 'leaseUntil', '#shard': 'leaseShard', '#from': 'removedFrom', ...start.condition?.names,
  };
  const values: Record<string, unknown> = {
    ':deleting': 'deleting', ':creating': 'creating', ':lease': start.now + REMOVAL_LEASE_MS, ':shard': leaseShardOf(id),
    ':from': start.from ?? 'finished', ...start.condition?.values,
  };
  const state = start.from === 'creating' ? '#status = :creating' : 'attribute_exists(pk) AND NOT #status IN (:deleting, :creating)';
  const conjunction = [state, start.condition?.expression].filter(Boolean).join(' AND ');
  // Unparenthesised alternatives (AND binds tighter than OR), as the claims write them.
  const alternatives = start.condition?.anyOf;
  const condition = alternatives?.length ? alternatives.map((a) => `${conjunction} AND ${a}`).join(' OR ') : conjunction;
  // A port removed while still creating may hold addresses it never listed: its removal looks for them.
  const expression = 'SET #status = :deleting, #lease = :lease, #shard = :shard, #from = :from';
  let marked: Port;
  try {
    const out = await table.db.send(new UpdateCommand({
      TableName: table.name, Key: keys.port(id), ConditionExpression: condition, UpdateExpression: expression,
      ...usedPlaceholders([condition, expression], names, values), ReturnValues: 'ALL_NEW', ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    }));
    marked = out.Attributes as Port;
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    const current = itemFromConditionFailure<Port>(err);
    if (current?.status === 'deleting') await finishRemoval(table, current);
    return false;
  }
  await finishRemoval(table, marked);
  return true;
}

/** The rest of a removal, from a `deleting` item; every step conditional, so any number may run it. */
export async function finishRemoval(table: Table, port: Port & { removedFrom?: string }): Promise<void> {
  const held = port.removedFrom === 'creating' ? await addressesHeldBy(table, port.id, port.subnetIds ?? []) : [];
  for (const f of [...(port.fixedIps ?? []), ...held]) await freeAddress(table, f.subnetId, f.ipAddress, port.id);
  await table.db.send(new DeleteCommand({
    TableName: table.name, Key: networkKeys.member(port.networkId, port.id),
    ConditionExpression: 'attribute_not_exists(pk) OR #port = :port', ExpressionAttributeNames: { '#port': 'portId' },
    ExpressionAttributeValues: { ':port': port.id },
  }));
  try {
    await table.db.send(new DeleteCommand({
      TableName: table.name, Key: keys.port(port.id), ConditionExpression: '#status = :deleting',
      ExpressionAttributeNames: { '#status': 'status' }, ExpressionAttributeValues: { ':deleting': 'deleting' },
    }));
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
  }
}

/**
 * The sweeper's part: a port whose creation or removal outlived its lease (its process died) is
 * removed. Undefined for what is not this module's (a reservation: attachables.ts reclaims it).
 */
export async function expirePort(table: Table, port: Port, now: number): Promise<boolean | undefined> {
  if (port.status !== 'creating' && port.status !== 'deleting') return undefined;
  if (port.leaseUntil === undefined || port.leaseUntil >= now) return false;
  if (port.status === 'deleting') {
    await finishRemoval(table, port);
    return true;
  }
  return removePort(table, port.id, {
    from: 'creating', now,
    condition: { expression: '#lease < :before', names: { '#lease': 'leaseUntil' }, values: { ':before': now } },
  });
}

/**
 * How a server lets go of its port (attachables.ts unreserve and releaseAttachable, for ports): a
 * port Nova made, one deleted through Neutron meanwhile, or (an undo) one this very request made,
 * is removed with its addresses; any other is unbound and available again. Each attempt is one
 * conditional write on "still this server's"; false when the port had already moved on.
 */
export async function letGoOfPort(
  table: Table,
  req: { id: string; instanceId: string; requestId?: string; onlyIfLeaseBefore?: number; now?: number },
): Promise<boolean> {
  const names: Record<string, string> = { '#instance': 'instanceId' };
  const values: Record<string, unknown> = { ':instance': req.instanceId, ':true': true };
  const held = ['#instance = :instance'];
  if (req.requestId !== undefined) {
    held.push('#request = :request');
    names['#request'] = 'requestId';
    values[':request'] = req.requestId;
  }
  if (req.onlyIfLeaseBefore !== undefined) {
    held.push('#status = :attaching', '#lease < :before');
    Object.assign(names, { '#status': 'status', '#lease': 'leaseUntil' });
    Object.assign(values, { ':attaching': 'attaching', ':before': req.onlyIfLeaseBefore });
  }
  const now = req.now ?? Date.now();
  const goes = ['#novaMade = :true', '#doomed = :true', ...(req.requestId !== undefined ? ['#createdBy = :request'] : [])];
  // Unbinding first: a port the user made (the one a detach lets go of) costs one write; a port
  // that goes is told apart by the failed write's old item, and removed.
  for (let attempt = 0; attempt < 3; attempt++) {
    const unbound = await unbind(table, req.id, held, names, values, req.requestId !== undefined);
    if (unbound !== 'goes') return unbound;
    if (await removePortIf(table, req.id, held, goes, names, values, now) === 'yes') return true;
  }
  return false;
}

/** Removal if the port is held as `held` and any of `goes`: 'yes', or 'no' (it does not go, or is not held). */
async function removePortIf(
  table: Table, id: string, held: string[], goes: string[], names: Record<string, string>, values: Record<string, unknown>, now: number,
): Promise<'yes' | 'no'> {
  const ok = await removePort(table, id, {
    now, condition: {
      expression: held.join(' AND '), anyOf: goes,
      names: { ...names, '#novaMade': 'novaMade', '#doomed': 'doomed', '#createdBy': 'createdByRequest' }, values,
    },
  });
  return ok ? 'yes' : 'no';
}

async function unbind(
  table: Table, id: string, held: string[], names: Record<string, string>, values: Record<string, unknown>, undo: boolean,
): Promise<boolean | 'goes'> {
  const stays = ['attribute_not_exists(#novaMade)', 'attribute_not_exists(#doomed)', 'NOT #status IN (:creating, :deleting)',
    ...(undo ? ['NOT #createdBy = :request'] : [])];
  const condition = [...held, ...stays].join(' AND ');
  const expression = 'SET #status = :available REMOVE #instance, #request, #lease, #shard';
  try {
    await table.db.send(new UpdateCommand({
      TableName: table.name, Key: keys.port(id), ConditionExpression: condition, UpdateExpression: expression,
      ...usedPlaceholders([condition, expression], {
        ...names, '#novaMade': 'novaMade', '#doomed': 'doomed', '#status': 'status', '#instance': 'instanceId',
        '#request': 'requestId', '#lease': 'leaseUntil', '#shard': 'leaseShard', '#createdBy': 'createdByRequest',
      }, { ...values, ':available': 'available', ':creating': 'creating', ':deleting': 'deleting' }),
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    }));
    return true;
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    const current = itemFromConditionFailure<Port>(err);
    // Still this server's, but a port that goes (Nova made it, Neutron deleted it, or this undo's request made it).
    const removable = current?.novaMade || current?.doomed || (undo && current?.createdByRequest === values[':request']);
    return current?.instanceId === values[':instance'] && current?.status !== 'deleting' && removable ? 'goes' : false;
  }
}

/** Marks a port held by a server for removal when the server lets go of it (Neutron's delete of a bound port). */
export async function doomPort(table: Table, id: string, instanceId: string): Promise<boolean> {
  try {
    await table.db.send(new UpdateCommand({
      TableName: table.name, Key: keys.port(id),
      ConditionExpression: '#instance = :instance AND NOT #status IN (:creating, :deleting)',
      UpdateExpression: 'SET #doomed = :true',
      ExpressionAttributeNames: { '#instance': 'instanceId', '#status': 'status', '#doomed': 'doomed' },
      ExpressionAttributeValues: { ':instance': instanceId, ':creating': 'creating', ':deleting': 'deleting', ':true': true },
    }));
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

/** The port as Neutron shows it: absent while it is being made or removed, or once Neutron deleted it. */
export async function readPort(table: Table, id: string): Promise<Port | undefined> {
  const port = await getItem<Port>(table, keys.port(id));
  return port && isShown(port) ? port : undefined;
}

export const isShown = (p: Port) => p.status !== 'creating' && p.status !== 'deleting' && !p.doomed && p.networkId !== undefined;

/**
 * Nova's refusal to bind a port it cannot have: one being made or removed (or deleted through
 * Neutron) is not there (404); one a server or another device holds is Nova's 409 PortInUse.
 */
export function portRefusal(id: string, held: { status: string; doomed?: boolean }): DomainError {
  if (held.status === 'creating' || held.status === 'deleting' || held.doomed) return new NotFound(`Port id ${id} could not be found.`);
  return new Conflict(`Port ${id} is still in use.`);
}

/** Every port of the project (its port index), or of every project; being made or removed, or deleted through Neutron, left out. */
export async function listPorts(table: Table, asker: { projectId: string; isAdmin: boolean }): Promise<Port[]> {
  const partitions = asker.isAdmin
    ? Array.from({ length: PORT_INDEX_SHARDS }, (_, n) => ({ index: INDEX_ALL_SERVERS, key: 'gsi2pk', value: `PORTS#${n}` }))
    : listingKeys(table, 'PORTS', asker.projectId).map((value) => ({ index: INDEX_BY_PROJECT, key: 'gsi1pk', value }));
  // The partitions side by side: an administrator's list reads every one of PORT_INDEX_SHARDS, a
  // project's its listing partitions (one, unless the project is spread: projectListing.ts).
  const byPartition = await Promise.all(partitions.map(async (p) => {
    const ports: Port[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await queryIndexedItems<Port>(table, {
        IndexName: p.index, KeyConditionExpression: '#k = :v',
        ExpressionAttributeNames: { '#k': p.key }, ExpressionAttributeValues: { ':v': p.value }, ExclusiveStartKey: start,
      });
      ports.push(...out.items.filter(isShown));
      start = out.next;
    } while (start);
    return ports;
  }));
  return byPartition.flat();
}
