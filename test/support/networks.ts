import { PRIVATE_NETWORK_ID } from '../../functions/core/networks/defaults.js';
import type { Network, Subnet } from '../../functions/core/networks/model.js';
import { createNetwork, readNetwork } from '../../functions/core/networks/networks.js';
import { createPort } from '../../functions/core/networks/ports.js';
import { createSubnet, subnetsOf } from '../../functions/core/networks/subnets.js';
import type { Table } from '../../functions/core/shared/table.js';
import { Nova } from './nova.js';

// Ports are Neutron's: a test makes one before Nova binds it, as a client does (over HTTP with
// `neutron(nova).post('/ports', ...)`, or straight on the table with seedPort).

/** A client of the network service at the same root as `nova`, as the same caller (no compute microversion). */
export function neutron(nova: Nova): Nova {
  const headers = { ...nova.defaultHeaders };
  delete headers['OpenStack-API-Version'];
  return new Nova(`${nova.baseUrl.replace(/\/v2\.1$/, '')}/network/v2.0`, nova.token, headers);
}

/** A port on `private` (or the network given), made through the API as the client's project; its id. */
export async function makePort(nova: Nova, body: Record<string, unknown> = {}): Promise<string> {
  const res = await neutron(nova).post('/ports', { port: { network_id: PRIVATE_NETWORK_ID, ...body } });
  if (res.status !== 201) throw new Error(`port create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.port.id;
}

let seeded = 0;
const seedNetworks = new Map<string, Promise<{ network: Network; subnets: Subnet[] }>>();

/**
 * The network seeded ports live on: its own, owned by a project of its own and shared with no one
 * (so a project's `auto` still finds one network), with a /12: tests seed thousands of ports
 * and the 253 addresses of `private` would run out.
 */
function seedNetwork(table: Table): Promise<{ network: Network; subnets: Subnet[] }> {
  let made = seedNetworks.get(table.name);
  if (!made) {
    made = (async () => {
      const owner = { projectId: 'seed-networks', isAdmin: true };
      const network = await createNetwork(table, 'seed-network', {
        name: 'seed', description: '', projectId: owner.projectId, adminStateUp: true, shared: false, external: false, mtu: 1450,
        portSecurityEnabled: true,
      }, Date.now());
      await createSubnet(table, owner, 'seed-subnet', {
        networkId: network.id, projectId: owner.projectId, name: 'seed', description: '', ipVersion: 4, cidr: '10.128.0.0/12',
        enableDhcp: true, dnsNameservers: [],
      }, Date.now());
      const current = (await readNetwork(table, network.id))!;
      return { network: current, subnets: await subnetsOf(table, current) };
    })();
    seedNetworks.set(table.name, made);
  }
  return made;
}

/** A port written through the network service's core, as the project's, on a network of seeded ports. */
export async function seedPort(table: Table, projectId: string, id = crypto.randomUUID()): Promise<string> {
  const { network, subnets } = await seedNetwork(table);
  const now = Date.now();
  await createPort(table, {
    id, projectId, network, subnets, name: '', description: '', adminStateUp: true,
    securityGroups: [], portSecurityEnabled: true, requestId: `seed-port-${++seeded}-${id}`, now, creatingUntil: now + 60_000,
  });
  return id;
}
