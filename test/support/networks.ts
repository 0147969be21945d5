import { PRIVATE_NETWORK_ID } from '../../functions/core/networks/defaults.js';
import { readNetwork } from '../../functions/core/networks/networks.js';
import { createPort } from '../../functions/core/networks/ports.js';
import { subnetsOf } from '../../functions/core/networks/subnets.js';
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

/** A port on `private` written through the network service's core, as the project's. */
export async function seedPort(table: Table, projectId: string, id = crypto.randomUUID()): Promise<string> {
  const network = (await readNetwork(table, PRIVATE_NETWORK_ID))!;
  const now = Date.now();
  await createPort(table, {
    id, projectId, network, subnets: await subnetsOf(table, network), name: '', description: '', adminStateUp: true,
    securityGroups: [], portSecurityEnabled: true, requestId: `seed-port-${++seeded}-${id}`, now, creatingUntil: now + 60_000,
  });
  return id;
}
