import { DeleteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { Conflict, Forbidden } from '../shared/errors.js';
import { derivedUuid } from '../shared/ids.js';
import { isConditionFailure, itemFromConditionFailure, usedPlaceholders, type Table } from '../shared/table.js';
import { hasAddresses, subnetCidr } from './addresses.js';
import { ensureDefaults } from './defaults.js';
import { contains, defaultPools, formatIp, isReserved, lastOf, parseCidr, parseIp, type Cidr } from './ip.js';
import {
  invalidInput, networkKeys, networkNotFound, nowIso, SUBNET_PARTITION, subnetNotFound, type AllocationPool, type Asker,
  type Network, type Subnet,
} from './model.js';
import { canSeeNetwork, ownsNetwork, readNetwork } from './networks.js';
import { fieldAssignments, getItem, queryPartition, withoutKeys } from './store.js';

// Subnets: a prefix on a network, its gateway and the pools addresses are given from. Two subnets
// of one network never overlap: a new subnet joins its network's list with a write conditioned on
// the network's revision it was checked against, so two overlapping ones made at once cannot both
// join. A subnet's deletion marks it, then looks for addresses; an address being taken looks at
// the subnet after its write (addresses.ts): whichever is second sees the other.

export async function allSubnets(table: Table): Promise<Subnet[]> {
  await ensureDefaults(table);
  return (await queryPartition<Record<string, unknown>>(table, SUBNET_PARTITION, 'SUBNET#')).map((i) => withoutKeys<Subnet>(i));
}

export async function readSubnet(table: Table, id: string): Promise<Subnet | undefined> {
  await ensureDefaults(table);
  const item = await getItem<Record<string, unknown>>(table, networkKeys.subnet(id));
  return item && withoutKeys<Subnet>(item);
}

/**
 * Neutron's get_subnet (neutron/conf/policies/subnet.py: admin, the project's reader, or
 * `rule:shared`): the owner, the administrator, or anyone the subnet's network is shared with.
 * An external network is seen by all, its subnets are not.
 */
export const canSeeSubnet = (s: Subnet, network: Network | undefined, asker: Asker) =>
  !s.deleting && (asker.isAdmin || s.projectId === asker.projectId || (!!network && canSeeNetwork(network, asker)
    && (network.shared || network.projectId === asker.projectId)));

export async function visibleSubnet(table: Table, asker: Asker, id: string): Promise<{ subnet: Subnet; network: Network | undefined }> {
  const subnet = await readSubnet(table, id);
  const network = subnet && await readNetwork(table, subnet.networkId);
  if (!subnet || !canSeeSubnet(subnet, network, asker)) throw subnetNotFound(id);
  return { subnet, network };
}

/**
 * A network's subnets, in its order (the first IPv4 one gives a port its address). A subnet is
 * its network's once on the network's list: one whose maker died before adding it is not.
 */
export async function subnetsOf(table: Table, network: Network): Promise<Subnet[]> {
  const found = await Promise.all(network.subnets.map((id) => readSubnet(table, id)));
  return found.filter((s): s is Subnet => s !== undefined && !s.deleting);
}

export interface SubnetRequest {
  readonly networkId: string;
  readonly projectId: string;
  readonly name: string;
  readonly description: string;
  readonly ipVersion: 4 | 6;
  readonly cidr: string;
  /** Undefined: the prefix's first address; null: no gateway. */
  readonly gatewayIp?: string | null;
  readonly allocationPools?: readonly AllocationPool[];
  readonly enableDhcp: boolean;
  readonly dnsNameservers: readonly string[];
}

/** Neutron's checks of a subnet's shape; a 400 naming the field, nothing written. */
export function shapeSubnet(req: Pick<SubnetRequest, 'ipVersion' | 'cidr' | 'gatewayIp' | 'allocationPools'>) {
  const parsed = parseCidr(req.cidr);
  if (parsed === 'invalid') throw invalidInput(`Invalid input for cidr. Reason: '${req.cidr}' is not a valid IP subnet.`);
  if ('recommended' in parsed) {
    throw invalidInput(`Invalid input for cidr. Reason: '${req.cidr}' isn't a recommended IP subnet, '${parsed.recommended}' is recommended.`);
  }
  const cidr: Cidr = parsed;
  if (cidr.version !== req.ipVersion) {
    throw invalidInput(`Invalid input for operation: ip_version ${req.ipVersion} does not match the version of cidr ${req.cidr}.`);
  }
  let gateway: bigint | undefined;
  if (req.gatewayIp === undefined) {
    gateway = cidr.version === 4 && cidr.prefix >= 31 ? undefined : cidr.network + 1n;
  } else if (req.gatewayIp !== null) {
    const ip = parseIp(req.gatewayIp);
    if (!ip || !contains(cidr, ip) || isReserved(cidr, ip)) {
      throw invalidInput(`Invalid input for operation: Gateway is not valid on subnet. Gateway IP ${req.gatewayIp} conflicts with the subnet ${req.cidr}.`);
    }
    gateway = ip.value;
  }
  const pools = req.allocationPools === undefined
    ? defaultPools(cidr, gateway)
    : req.allocationPools.map((p) => {
      const [start, end] = [parseIp(p.start), parseIp(p.end)];
      if (!start || !end || !contains(cidr, start) || !contains(cidr, end) || start.value > end.value
        || isReserved(cidr, start) || isReserved(cidr, end)) {
        throw invalidInput(`The allocation pool ${p.start}-${p.end} spans beyond the subnet cidr ${req.cidr}.`);
      }
      if (gateway !== undefined && gateway >= start.value && gateway <= end.value) {
        throw invalidInput(`Gateway ip ${formatIp({ version: cidr.version, value: gateway })} conflicts with allocation pool ${p.start}-${p.end}`);
      }
      return { start: start.value, end: end.value };
    });
  const sorted = [...pools].sort((a, b) => (a.start < b.start ? -1 : 1));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.start <= sorted[i - 1]!.end) throw invalidInput('Found overlapping allocation pools.');
  }
  const ip = (value: bigint) => formatIp({ version: cidr.version, value });
  return {
    cidr: req.cidr, gatewayIp: gateway === undefined ? null : ip(gateway),
    allocationPools: pools.map((p) => ({ start: ip(p.start), end: ip(p.end) })),
  };
}

const overlaps = (a: Cidr, b: Cidr) => a.version === b.version && a.network <= lastOf(b) && b.network <= lastOf(a);

/** Neutron's create_subnet: the network's owner (or the administrator) adds a subnet to it. */
export async function createSubnet(table: Table, asker: Asker, requestId: string, req: SubnetRequest, now: number): Promise<Subnet> {
  const shape = shapeSubnet(req);
  const id = derivedUuid('subnet', requestId);
  const made = await readSubnet(table, id);
  const subnet: Subnet = made ?? {
    id, name: req.name, description: req.description, projectId: req.projectId, networkId: req.networkId, ipVersion: req.ipVersion,
    ...shape, enableDhcp: req.enableDhcp, dnsNameservers: [...req.dnsNameservers],
    createdAt: nowIso(now), updatedAt: nowIso(now), revision: 1,
  };
  let network = await readNetwork(table, req.networkId);
  if (!network || !canSeeNetwork(network, asker)) throw networkNotFound(req.networkId);
  // This request made it before it died: reported if it joined its network, else it joins now.
  if (made && network.subnets.includes(id)) return made;
  if (!ownsNetwork(network, asker)) throw new Forbidden('rule:create_subnet is disallowed by policy', { type: 'PolicyNotAuthorized' });
  const mine = subnetCidr(subnet);
  const checkOverlap = async (n: Network) => {
    for (const other of await subnetsOf(table, n)) {
      if (overlaps(mine, subnetCidr(other))) {
        throw invalidInput(`Invalid input for operation: Requested subnet with cidr: ${req.cidr} for network: ${n.id} overlaps with another subnet.`);
      }
    }
  };
  await checkOverlap(network);
  if (!made) await table.db.send(new PutCommand({ TableName: table.name, Item: { ...networkKeys.subnet(id), ...subnet } }));
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await table.db.send(new UpdateCommand({
        TableName: table.name, Key: networkKeys.network(network.id),
        ConditionExpression: '#rev = :rev AND attribute_not_exists(#deleting)',
        UpdateExpression: 'SET #subnets = list_append(#subnets, :one), #updated = :now ADD #rev :inc',
        ExpressionAttributeNames: { '#rev': 'revision', '#deleting': 'deleting', '#subnets': 'subnets', '#updated': 'updatedAt' },
        ExpressionAttributeValues: { ':rev': network.revision, ':one': [id], ':now': nowIso(now), ':inc': 1 },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }));
      return subnet;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const current = itemFromConditionFailure<Network>(err);
      const retry = current && !current.deleting ? current : undefined;
      if (retry) {
        network = retry;
        try {
          await checkOverlap(network);
          continue;
        } catch (overlap) {
          await table.db.send(new DeleteCommand({ TableName: table.name, Key: networkKeys.subnet(id) }));
          throw overlap;
        }
      }
      await table.db.send(new DeleteCommand({ TableName: table.name, Key: networkKeys.subnet(id) }));
      throw networkNotFound(req.networkId);
    }
  }
  await table.db.send(new DeleteCommand({ TableName: table.name, Key: networkKeys.subnet(id) }));
  throw new Conflict(`Network ${req.networkId} changed while the subnet was added; please retry.`);
}

export type SubnetChanges = Partial<Pick<Subnet, 'name' | 'description' | 'enableDhcp' | 'dnsNameservers' | 'gatewayIp' | 'allocationPools'>>;

/** One conditional write on the subnet (owner or administrator; not being deleted). */
export async function updateSubnet(table: Table, asker: Asker, id: string, changes: SubnetChanges, now: number): Promise<Subnet> {
  const { subnet, network } = await visibleSubnet(table, asker, id);
  if (!(asker.isAdmin || subnet.projectId === asker.projectId || (network && ownsNetwork(network, asker)))) {
    throw new Forbidden('rule:update_subnet is disallowed by policy', { type: 'PolicyNotAuthorized' });
  }
  const next = { ...changes };
  if (changes.gatewayIp !== undefined || changes.allocationPools !== undefined) {
    Object.assign(next, shapeSubnet({
      ipVersion: subnet.ipVersion, cidr: subnet.cidr,
      gatewayIp: changes.gatewayIp !== undefined ? changes.gatewayIp : subnet.gatewayIp,
      allocationPools: changes.allocationPools ?? subnet.allocationPools,
    }));
    delete (next as { cidr?: string }).cidr;
  }
  const names: Record<string, string> = { '#deleting': 'deleting', '#rev': 'revision', '#updated': 'updatedAt' };
  const values: Record<string, unknown> = { ':now': nowIso(now), ':one': 1 };
  const sets = ['#updated = :now', ...fieldAssignments(next, names, values)];
  const condition = 'attribute_exists(pk) AND attribute_not_exists(#deleting)';
  const expression = `SET ${sets.join(', ')} ADD #rev :one`;
  try {
    const out = await table.db.send(new UpdateCommand({
      TableName: table.name, Key: networkKeys.subnet(id), ConditionExpression: condition, UpdateExpression: expression,
      ...usedPlaceholders([condition, expression], names, values), ReturnValues: 'ALL_NEW',
    }));
    return withoutKeys<Subnet>(out.Attributes!);
  } catch (err) {
    if (isConditionFailure(err)) throw subnetNotFound(id);
    throw err;
  }
}

export const subnetInUse = (id: string) => new Conflict(
  `Unable to complete operation on subnet ${id}: One or more ports have an IP allocation from this subnet.`,
  { type: 'SubnetInUse' },
);

/** Neutron's delete_subnet: refused (409 SubnetInUse) while an address of it is allocated. */
export async function deleteSubnet(table: Table, asker: Asker, id: string): Promise<void> {
  const { subnet, network } = await visibleSubnet(table, asker, id);
  if (!(asker.isAdmin || subnet.projectId === asker.projectId || (network && ownsNetwork(network, asker)))) {
    throw new Forbidden('rule:delete_subnet is disallowed by policy', { type: 'PolicyNotAuthorized' });
  }
  try {
    await table.db.send(new UpdateCommand({
      TableName: table.name, Key: networkKeys.subnet(id), ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#deleting)',
      UpdateExpression: 'SET #deleting = :true', ExpressionAttributeNames: { '#deleting': 'deleting' }, ExpressionAttributeValues: { ':true': true },
    }));
  } catch (err) {
    if (isConditionFailure(err)) throw subnetNotFound(id);
    throw err;
  }
  if (await hasAddresses(table, id)) {
    await table.db.send(new UpdateCommand({
      TableName: table.name, Key: networkKeys.subnet(id), UpdateExpression: 'REMOVE #deleting',
      ConditionExpression: 'attribute_exists(pk)', ExpressionAttributeNames: { '#deleting': 'deleting' },
    })).catch((err) => { if (!isConditionFailure(err)) throw err; });
    throw subnetInUse(id);
  }
  // Off its network's list (by position, conditioned on the position still holding it), then gone.
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await getItem<Network>(table, networkKeys.network(subnet.networkId));
    const at = current?.subnets.indexOf(id) ?? -1;
    if (at < 0) break;
    try {
      await table.db.send(new UpdateCommand({
        TableName: table.name, Key: networkKeys.network(subnet.networkId),
        ConditionExpression: `#subnets[${at}] = :id`, UpdateExpression: `REMOVE #subnets[${at}] ADD #rev :one`,
        ExpressionAttributeNames: { '#subnets': 'subnets', '#rev': 'revision' }, ExpressionAttributeValues: { ':id': id, ':one': 1 },
      }));
      break;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }
  await table.db.send(new DeleteCommand({
    TableName: table.name, Key: networkKeys.subnet(id),
    ConditionExpression: '#deleting = :true', ExpressionAttributeNames: { '#deleting': 'deleting' }, ExpressionAttributeValues: { ':true': true },
  })).catch((err) => { if (!isConditionFailure(err)) throw err; });
}
