import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { derivedUuid } from '../shared/ids.js';
import { isConditionFailure, type Table } from '../shared/table.js';
import { defaultPools, formatIp, parseCidr, type Cidr } from './ip.js';
import { NETWORK_PARTITION, networkKeys, type Network, type Subnet } from './model.js';
import { getItem } from './store.js';

// What a cloud gives every project before anyone made anything, as devstack does: a shared
// network `private` (10.0.0.0/24) that every project's servers can boot on (`--network private`,
// `auto`), and the external network `public` (172.24.4.0/24) floating addresses come from. One
// shared network rather than one per project: a name resolves to one network for every project,
// administrators included, and nothing has to be made on a project's first request.
//
// Written on first use by whichever process comes first: each item put only if absent (ids are
// fixed), then a marker. A process that sees the marker writes nothing again, so a network an
// administrator deleted stays deleted.

/** The id the compute side has always given the network of a port it made (functions/api/compute/attachments.ts). */
export const PRIVATE_NETWORK_ID = '3b0e7c4a-0c4e-4b3e-9a57-6a1d3c1f0b2a';
export const PRIVATE_SUBNET_ID = derivedUuid('subnet', 'private-subnet');
export const PUBLIC_NETWORK_ID = derivedUuid('network', 'public');
export const PUBLIC_SUBNET_ID = derivedUuid('subnet', 'public-subnet');
/** The cloud's own project, which owns the default networks (as devstack's admin project does). */
export const CLOUD_PROJECT_ID = derivedUuid('project', 'taskgate-cloud').replaceAll('-', '');

const MARKER = { pk: NETWORK_PARTITION, sk: 'SEEDED#1' };
const EPOCH = '2024-01-01T00:00:00.000Z';

function network(id: string, name: string, subnetId: string, shape: { shared: boolean; external: boolean }): Network {
  return {
    id, name, description: '', projectId: CLOUD_PROJECT_ID, adminStateUp: true, ...shape, mtu: 1450,
    portSecurityEnabled: true, subnets: [subnetId], createdAt: EPOCH, updatedAt: EPOCH, revision: 1,
  };
}

function subnet(id: string, name: string, networkId: string, cidrText: string): Subnet {
  const cidr = parseCidr(cidrText) as Cidr;
  const gateway = cidr.network + 1n;
  return {
    id, name, description: '', projectId: CLOUD_PROJECT_ID, networkId, ipVersion: 4, cidr: cidrText,
    gatewayIp: formatIp({ version: 4, value: gateway }),
    allocationPools: defaultPools(cidr, gateway).map((p) => ({
      start: formatIp({ version: 4, value: p.start }), end: formatIp({ version: 4, value: p.end }),
    })),
    enableDhcp: true, dnsNameservers: [], createdAt: EPOCH, updatedAt: EPOCH, revision: 1,
  };
}

export const DEFAULT_NETWORKS: readonly Network[] = [
  network(PRIVATE_NETWORK_ID, 'private', PRIVATE_SUBNET_ID, { shared: true, external: false }),
  network(PUBLIC_NETWORK_ID, 'public', PUBLIC_SUBNET_ID, { shared: false, external: true }),
];
export const DEFAULT_SUBNETS: readonly Subnet[] = [
  subnet(PRIVATE_SUBNET_ID, 'private-subnet', PRIVATE_NETWORK_ID, '10.0.0.0/24'),
  subnet(PUBLIC_SUBNET_ID, 'public-subnet', PUBLIC_NETWORK_ID, '172.24.4.0/24'),
];

const seeded = new Map<string, Promise<void>>();

/** The default networks exist (or were deliberately deleted); once per process and table. */
export function ensureDefaults(table: Table): Promise<void> {
  let done = seeded.get(table.name);
  if (!done) {
    done = seed(table);
    seeded.set(table.name, done);
    done.catch(() => seeded.delete(table.name));
  }
  return done;
}

async function seed(table: Table): Promise<void> {
  if (await getItem(table, MARKER)) return;
  const put = async (key: { pk: string; sk: string }, item: object) => {
    try {
      await table.db.send(new PutCommand({ TableName: table.name, Item: { ...key, ...item }, ConditionExpression: 'attribute_not_exists(pk)' }));
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  };
  for (const s of DEFAULT_SUBNETS) await put(networkKeys.subnet(s.id), s);
  for (const n of DEFAULT_NETWORKS) await put(networkKeys.network(n.id), n);
  await put(MARKER, { seededAt: new Date().toISOString() });
}
