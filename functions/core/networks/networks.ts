import { DeleteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { Conflict, Forbidden } from '../shared/errors.js';
import { derivedUuid } from '../shared/ids.js';
import { isConditionFailure, itemFromConditionFailure, keys, usedPlaceholders, type Table } from '../shared/table.js';
import { ensureDefaults } from './defaults.js';
import {
  NETWORK_PARTITION, networkKeys, networkNotFound, nowIso, type Asker, type Network,
} from './model.js';
import { fieldAssignments, getItem, queryPartition, withoutKeys } from './store.js';

// Networks: Neutron's visibility (the owner, anyone for a shared or external one, the
// administrator for all), and a deletion that never strands a port: the network is marked
// deleting, then its members are looked for; a port being made writes its membership, then looks
// at the network. Whichever comes second sees the other (both reads are strongly consistent).

export const canSeeNetwork = (n: Network, asker: Asker) =>
  !n.deleting && (asker.isAdmin || n.projectId === asker.projectId || n.shared || n.external);

export const ownsNetwork = (n: Network, asker: Asker) => asker.isAdmin || n.projectId === asker.projectId;

export async function allNetworks(table: Table): Promise<Network[]> {
  await ensureDefaults(table);
  return (await queryPartition<Record<string, unknown>>(table, NETWORK_PARTITION, 'NETWORK#')).map((i) => withoutKeys<Network>(i));
}

// Nova's admission reads networks for every create (the project's network, or the ones named):
// each process keeps the list for a few seconds, as it keeps flavors, so a create stays one write
// and one send. A network the list lacks is read again before it is refused; one deleted
// elsewhere may still be accepted for those seconds, and its port then fails the build (the
// worker reads the network itself), as a network deleted during a build does in Nova.
const NETWORK_CACHE_MS = 10_000;
const cache = new Map<string, { readonly until: number; readonly networks: Promise<Network[]> }>();

export function cachedNetworks(table: Table, now = Date.now()): Promise<Network[]> {
  const hit = cache.get(table.name);
  if (hit && hit.until > now) return hit.networks;
  const networks = allNetworks(table);
  cache.set(table.name, { until: now + NETWORK_CACHE_MS, networks });
  networks.catch(() => cache.delete(table.name));
  return networks;
}

/** The network by id from the cached list, the list read again if it lacks it. */
export async function cachedNetwork(table: Table, id: string): Promise<Network | undefined> {
  let found = (await cachedNetworks(table)).find((n) => n.id === id);
  if (!found) {
    cache.delete(table.name);
    found = (await cachedNetworks(table)).find((n) => n.id === id);
  }
  return found;
}

export async function readNetwork(table: Table, id: string): Promise<Network | undefined> {
  await ensureDefaults(table);
  const item = await getItem<Record<string, unknown>>(table, networkKeys.network(id));
  return item && withoutKeys<Network>(item);
}

/** The network if the asker may see it; Neutron's 404 otherwise (another project's is not there). */
export async function visibleNetwork(table: Table, asker: Asker, id: string): Promise<Network> {
  const n = await readNetwork(table, id);
  if (!n || !canSeeNetwork(n, asker)) throw networkNotFound(id);
  return n;
}

export interface NewNetwork {
  readonly name: string;
  readonly description: string;
  readonly projectId: string;
  readonly adminStateUp: boolean;
  readonly shared: boolean;
  readonly external: boolean;
  readonly mtu: number;
  readonly portSecurityEnabled: boolean;
}

/** The id comes from the request id: a retry that goes on as the request (Idempotency-Key) finds it. */
export async function createNetwork(table: Table, requestId: string, fields: NewNetwork, now: number): Promise<Network> {
  const network: Network = {
    id: derivedUuid('network', requestId), ...fields, subnets: [],
    createdAt: nowIso(now), updatedAt: nowIso(now), revision: 1,
  };
  try {
    await table.db.send(new PutCommand({
      TableName: table.name, Item: { ...networkKeys.network(network.id), ...network },
      ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    }));
    return network;
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    const made = itemFromConditionFailure<Record<string, unknown>>(err);
    return made ? withoutKeys<Network>(made) : network;
  }
}

export type NetworkChanges = Partial<Pick<Network, 'name' | 'description' | 'adminStateUp' | 'shared' | 'external' | 'mtu' | 'portSecurityEnabled'>>;

/** One conditional write: the network exists, is not being deleted, and is the asker's (or the asker administers). */
export async function updateNetwork(table: Table, asker: Asker, id: string, changes: NetworkChanges, now: number): Promise<Network> {
  const current = await visibleNetwork(table, asker, id);
  if (!ownsNetwork(current, asker)) throw new Forbidden('rule:update_network is disallowed by policy', { type: 'PolicyNotAuthorized' });
  const names: Record<string, string> = { '#deleting': 'deleting', '#project': 'projectId', '#updated': 'updatedAt', '#rev': 'revision' };
  const values: Record<string, unknown> = { ':project': current.projectId, ':now': nowIso(now), ':one': 1 };
  const sets = ['#updated = :now', ...fieldAssignments(changes, names, values)];
  const condition = 'attribute_exists(pk) AND attribute_not_exists(#deleting) AND #project = :project';
  const expression = `SET ${sets.join(', ')} ADD #rev :one`;
  try {
    const out = await table.db.send(new UpdateCommand({
      TableName: table.name, Key: networkKeys.network(id), ConditionExpression: condition, UpdateExpression: expression,
      ...usedPlaceholders([condition, expression], names, values), ReturnValues: 'ALL_NEW',
    }));
    return withoutKeys<Network>(out.Attributes!);
  } catch (err) {
    if (isConditionFailure(err)) throw networkNotFound(id);
    throw err;
  }
}

export const networkInUse = (id: string) => new Conflict(
  `Unable to complete operation on network ${id}. There are one or more ports still in use on the network.`,
  { type: 'NetworkInUse' },
);

/**
 * Neutron's delete: refused while a port is on the network (409 NetworkInUse); its subnets go
 * with it. Marked deleting first, so no port can be made on it meanwhile (ports.ts looks after
 * writing its membership), then its members are read; none: the subnets and the network go.
 */
export async function deleteNetwork(table: Table, asker: Asker, id: string): Promise<void> {
  const current = await visibleNetwork(table, asker, id);
  if (!ownsNetwork(current, asker)) throw new Forbidden('rule:delete_network is disallowed by policy', { type: 'PolicyNotAuthorized' });
  let marked: Network;
  try {
    const out = await table.db.send(new UpdateCommand({
      TableName: table.name, Key: networkKeys.network(id),
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#deleting)',
      UpdateExpression: 'SET #deleting = :true', ExpressionAttributeNames: { '#deleting': 'deleting' },
      ExpressionAttributeValues: { ':true': true }, ReturnValues: 'ALL_NEW',
    }));
    marked = withoutKeys<Network>(out.Attributes!);
  } catch (err) {
    // Another delete of it is under way, or it is gone: either way it is not there for this one.
    if (isConditionFailure(err)) throw networkNotFound(id);
    throw err;
  }
  if (await hasLiveMembers(table, id)) {
    await table.db.send(new UpdateCommand({
      TableName: table.name, Key: networkKeys.network(id), ConditionExpression: 'attribute_exists(pk)',
      UpdateExpression: 'REMOVE #deleting', ExpressionAttributeNames: { '#deleting': 'deleting' },
    })).catch((err) => { if (!isConditionFailure(err)) throw err; });
    throw networkInUse(id);
  }
  for (const subnetId of marked.subnets) {
    await table.db.send(new DeleteCommand({
      TableName: table.name, Key: networkKeys.subnet(subnetId),
      ConditionExpression: '#network = :network', ExpressionAttributeNames: { '#network': 'networkId' }, ExpressionAttributeValues: { ':network': id },
    })).catch((err) => { if (!isConditionFailure(err)) throw err; });
  }
  await table.db.send(new DeleteCommand({
    TableName: table.name, Key: networkKeys.network(id),
    ConditionExpression: '#deleting = :true', ExpressionAttributeNames: { '#deleting': 'deleting' }, ExpressionAttributeValues: { ':true': true },
  })).catch((err) => { if (!isConditionFailure(err)) throw err; });
}

/**
 * Whether a port is on the network. A port's item is written before its membership and removed
 * after it (ports.ts), so a membership whose port item is gone is one being removed right now.
 */
async function hasLiveMembers(table: Table, networkId: string): Promise<boolean> {
  const members = await queryPartition<{ portId: string }>(table, `NETWORK#${networkId}`, 'PORT#');
  for (const m of members) {
    const port = await getItem<{ networkId?: string }>(table, keys.port(m.portId));
    if (port?.networkId === networkId) return true;
  }
  return false;
}
