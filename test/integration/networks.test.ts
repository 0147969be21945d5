import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Identity, IdentityProvider } from '../../functions/core/identity/identity.js';
import { PRIVATE_NETWORK_ID, PRIVATE_SUBNET_ID, PUBLIC_NETWORK_ID } from '../../functions/core/networks/defaults.js';
import { startRuntime, type Runtime } from '../../local/runtime.js';
import { Nova, type NovaResponse } from '../support/nova.js';

// The network service over real HTTP on the emulators: each resource in Neutron's shapes, its
// policies (reader, member, administrator, another project), its refusals (Neutron's body,
// nothing written), and Nova's side: a server's ports and addresses as it is created with a
// network, a port, `auto` or `none`, and what becomes of its ports when it goes.

/** noauth's convention, with readers: user `admin` administers, a user named `reader...` only reads. */
class TestIdentity implements IdentityProvider {
  readonly mode = 'noauth' as const;
  async authenticate(token: string): Promise<Identity> {
    const [userId, projectId] = token.split(':') as [string, string];
    const roles = userId === 'admin' ? ['admin', 'member', 'reader'] : userId.startsWith('reader') ? ['reader'] : ['member', 'reader'];
    return { userId, projectId, roles };
  }
}

let runtime: Runtime;
let root: string;
beforeAll(async () => {
  runtime = await startRuntime({ port: 0, driver: { stepMs: 0 }, identity: new TestIdentity(), dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT });
  root = runtime.apiUrl.replace(/\/v2\.1$/, '');
});
afterAll(() => runtime.stop());

const net = (token: string) => new Nova(`${root}/network/v2.0`, token);
const nova = (token: string, version?: string) => {
  const client = new Nova(runtime.apiUrl, token);
  return version ? client.atVersion(version) : client;
};
/** A project of the test's own, so that lists see only what the test made. */
const project = () => `p${crypto.randomUUID().slice(0, 8)}`;

async function items(): Promise<Record<string, unknown>[]> {
  const all: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await runtime.table.db.send(new ScanCommand({ TableName: runtime.table.name, ConsistentRead: true, ExclusiveStartKey: start }));
    all.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return all.sort((a, b) => `${a.pk}|${a.sk}`.localeCompare(`${b.pk}|${b.sk}`));
}

/** Neutron's refusal, with nothing written by it. */
async function refused(send: () => Promise<NovaResponse>, status: number, type: string, message?: RegExp | string) {
  const before = await items();
  const res = await send();
  expect([res.status, res.body?.NeutronError?.type]).toEqual([status, type]);
  if (message) expect(res.body.NeutronError.message).toMatch(message);
  expect(res.body.NeutronError.detail).toBe('');
  expect(await items()).toEqual(before);
  return res;
}

const made = async (client: Nova, path: string, resource: string, body: Record<string, unknown>) => {
  const res = await client.post(path, { [resource]: body });
  expect([path, res.status, res.body]).toEqual([path, 201, expect.objectContaining({ [resource]: expect.any(Object) })]);
  return res.body[resource];
};

async function ownNetwork(client: Nova, cidr = '192.168.10.0/24') {
  const network = await made(client, '/networks', 'network', { name: `net-${crypto.randomUUID().slice(0, 6)}` });
  const subnet = await made(client, '/subnets', 'subnet', { network_id: network.id, ip_version: 4, cidr });
  return { network, subnet };
}

describe('version discovery', () => {
  it('answers without a token: v2.0 CURRENT at the root, its resources at /v2.0', async () => {
    const versions = await new Nova(root, '').get('/network');
    expect(versions.status).toBe(200);
    expect(versions.body.versions).toEqual([{ id: 'v2.0', status: 'CURRENT', links: [{ href: `${root}/network/v2.0/`, rel: 'self' }] }]);
    const resources = await new Nova(root, '').get('/network/v2.0');
    expect(resources.body.resources.map((r: { collection: string }) => r.collection)).toEqual(
      expect.arrayContaining(['networks', 'subnets', 'ports', 'security_groups', 'security_group_rules']),
    );
    expect((await net('').get('/networks')).status).toBe(401);
  });

  it('lists the extensions it serves', async () => {
    const res = await net(`u:${project()}`).get('/extensions');
    expect(res.body.extensions.map((e: { alias: string }) => e.alias)).toEqual(expect.arrayContaining([
      'security-group', 'port-security', 'external-net', 'standard-attr-description', 'binding', 'net-mtu',
    ]));
    expect(res.body.extensions.map((e: { alias: string }) => e.alias)).not.toContain('router');
    // Each shown by its alias (Tempest's test_list_show_extensions), one not served 404.
    expect((await net(`u:${project()}`).get('/extensions/port-security')).body.extension).toEqual(
      res.body.extensions.find((e: { alias: string }) => e.alias === 'port-security'));
    await refused(() => net(`u:${project()}`).get('/extensions/router'), 404, 'ExtensionNotFound');
  });
});

describe('networks', () => {
  it('every project sees the shared private network and the external public one, with their subnets', async () => {
    const client = net(`u:${project()}`);
    const { networks } = (await client.get('/networks')).body;
    const byName = Object.fromEntries(networks.map((n: { name: string }) => [n.name, n]));
    expect(byName.private).toMatchObject({
      id: PRIVATE_NETWORK_ID, shared: true, 'router:external': false, status: 'ACTIVE', admin_state_up: true, subnets: [PRIVATE_SUBNET_ID],
    });
    expect(byName.public).toMatchObject({ id: PUBLIC_NETWORK_ID, shared: false, 'router:external': true });
    const subnet = (await client.get(`/subnets/${PRIVATE_SUBNET_ID}`)).body.subnet;
    expect(subnet).toMatchObject({
      name: 'private-subnet', cidr: '10.0.0.0/24', gateway_ip: '10.0.0.1', ip_version: 4,
      allocation_pools: [{ start: '10.0.0.2', end: '10.0.0.254' }], network_id: PRIVATE_NETWORK_ID,
    });
    expect((await client.get('/networks?name=private')).body.networks.map((n: { id: string }) => n.id)).toEqual([PRIVATE_NETWORK_ID]);
    expect((await client.get('/networks?router:external=true')).body.networks.map((n: { id: string }) => n.id)).toEqual([PUBLIC_NETWORK_ID]);
    expect((await client.get(`/networks?id=${PUBLIC_NETWORK_ID}&fields=id&fields=name`)).body.networks).toEqual([{ id: PUBLIC_NETWORK_ID, name: 'public' }]);
  });

  it('an external network is seen by every project, its subnets only by the administrator (Neutron\'s get_subnet: rule:shared)', async () => {
    const publicSubnets = async (token: string) => ((await net(token).get(`/subnets?network_id=${PUBLIC_NETWORK_ID}`)).body.subnets as unknown[]).length;
    expect(await publicSubnets(`u:${project()}`)).toBe(0);
    expect(await publicSubnets(`admin:${project()}`)).toBeGreaterThan(0);
  });

  it('a project\'s network is its own: another project gets 404, the administrator sees it', async () => {
    const [mine, theirs] = [project(), project()];
    const { network } = await ownNetwork(net(`u:${mine}`));
    expect((await net(`u:${mine}`).get(`/networks?project_id=${mine}`)).body.networks.map((n: { id: string }) => n.id)).toEqual([network.id]);
    const hidden = await net(`u:${theirs}`).get(`/networks/${network.id}`);
    expect([hidden.status, hidden.body.NeutronError.type]).toEqual([404, 'NetworkNotFound']);
    expect((await net(`u:${theirs}`).get('/networks')).body.networks.map((n: { id: string }) => n.id)).not.toContain(network.id);
    await refused(() => net(`u:${theirs}`).request('PUT', `/networks/${network.id}`, { network: { name: 'x' } }), 404, 'NetworkNotFound');
    await refused(() => net(`u:${theirs}`).delete(`/networks/${network.id}`), 404, 'NetworkNotFound');
    expect((await net(`admin:${project()}`).get(`/networks/${network.id}`)).status).toBe(200);
    const renamed = await net(`u:${mine}`).request('PUT', `/networks/${network.id}`, { network: { name: 'renamed' } });
    expect(renamed.body.network).toMatchObject({ name: 'renamed', revision_number: 3 });
  });

  it('shared and router:external are the administrator\'s; a reader reads and writes nothing', async () => {
    const p = project();
    await refused(() => net(`u:${p}`).post('/networks', { network: { name: 'x', shared: true } }), 403, 'PolicyNotAuthorized',
      'rule:create_network:shared is disallowed by policy');
    await refused(() => net(`u:${p}`).post('/networks', { network: { name: 'x', 'router:external': true } }), 403, 'PolicyNotAuthorized');
    await refused(() => net(`reader:${p}`).post('/networks', { network: { name: 'x' } }), 403, 'PolicyNotAuthorized',
      'rule:create_network is disallowed by policy');
    expect((await net(`reader:${p}`).get('/networks')).status).toBe(200);
    expect((await net(`admin:${p}`).post('/networks', { network: { name: 'shared-one', shared: true } })).status).toBe(201);
  });

  it('refuses bad input with Neutron\'s 400, writing nothing', async () => {
    const client = net(`u:${project()}`);
    await refused(() => client.post('/networks', { network: { name: 5 } }), 400, 'HTTPBadRequest', "Invalid input for name. Reason: '5' is not a valid string.");
    await refused(() => client.post('/networks', { network: { colour: 'blue' } }), 400, 'HTTPBadRequest', "Unrecognized attribute(s) 'colour'");
    await refused(() => client.post('/networks', { network: { status: 'DOWN' } }), 400, 'HTTPBadRequest', "Attribute 'status' not allowed in POST");
    await refused(() => client.post('/networks', { nets: {} }), 400, 'HTTPBadRequest');
    await refused(() => client.post('/networks', '{"network": '), 400, 'HTTPBadRequest');
    await refused(() => client.post('/networks', { network: { admin_state_up: 'maybe' } }), 400, 'HTTPBadRequest');
    await refused(() => client.get('/networks?colour=blue'), 400, 'HTTPBadRequest', '[colour] is invalid attribute for filtering');
    await refused(() => client.get('/networks?limit=-1'), 400, 'HTTPBadRequest');
    await refused(() => client.get('/networks/not-a-uuid'), 404, 'NotFound', 'Network not-a-uuid could not be found.');
  });

  it('pages with limit and marker, and links the next and previous pages', async () => {
    const client = net(`u:${project()}`);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await made(client, '/networks', 'network', { name: `n${i}` })).id);
    const own = (res: NovaResponse) => res.body.networks.map((n: { id: string }) => n.id).filter((id: string) => ids.includes(id));
    const sorted = [...ids].sort();
    const first = await client.get('/networks?limit=2&sort_key=name&sort_dir=desc&name=n0&name=n1&name=n2');
    expect(first.body.networks.map((n: { name: string }) => n.name)).toEqual(['n2', 'n1']);
    const next = first.body.networks_links.find((l: { rel: string }) => l.rel === 'next');
    const second = await client.get(next.href.slice(`${root}/network/v2.0`.length));
    expect(second.body.networks.map((n: { name: string }) => n.name)).toEqual(['n0']);
    expect(second.body.networks_links.map((l: { rel: string }) => l.rel)).toEqual(['previous']);
    expect(own(await client.get(`/networks?marker=${sorted[0]}`))).toEqual(sorted.slice(1));
  });

  it('is not deleted while a port is on it (409 NetworkInUse); without ports, it goes with its subnets', async () => {
    const client = net(`u:${project()}`);
    const { network, subnet } = await ownNetwork(client);
    const port = await made(client, '/ports', 'port', { network_id: network.id });
    await refused(() => client.delete(`/networks/${network.id}`), 409, 'NetworkInUse',
      `Unable to complete operation on network ${network.id}. There are one or more ports still in use on the network.`);
    expect((await client.delete(`/ports/${port.id}`)).status).toBe(204);
    expect((await client.delete(`/networks/${network.id}`)).status).toBe(204);
    expect((await client.get(`/networks/${network.id}`)).body.NeutronError.type).toBe('NetworkNotFound');
    expect((await client.get(`/subnets/${subnet.id}`)).body.NeutronError.type).toBe('SubnetNotFound');
  });
});

describe('subnets', () => {
  it('takes the gateway and pool from the prefix (IPv4 and IPv6), refuses overlaps and host bits', async () => {
    const client = net(`u:${project()}`);
    const { network, subnet } = await ownNetwork(client, '192.168.20.0/24');
    expect(subnet).toMatchObject({ gateway_ip: '192.168.20.1', allocation_pools: [{ start: '192.168.20.2', end: '192.168.20.254' }] });
    const v6 = await made(client, '/subnets', 'subnet', { network_id: network.id, ip_version: 6, cidr: '2001:db8:0:1::/64' });
    expect(v6).toMatchObject({ gateway_ip: '2001:db8:0:1::1', allocation_pools: [{ start: '2001:db8:0:1::2', end: '2001:db8:0:1:ffff:ffff:ffff:ffff' }] });
    // A port gets one address from each family's first subnet; the /64's pool is too large to read, and is sampled.
    const dual = await made(client, '/ports', 'port', { network_id: network.id });
    expect(dual.fixed_ips).toEqual([
      { subnet_id: subnet.id, ip_address: expect.stringMatching(/^192\.168\.20\.\d+$/) },
      { subnet_id: v6.id, ip_address: expect.stringMatching(/^2001:db8:0:1:/) },
    ]);
    expect((await client.delete(`/ports/${dual.id}`)).status).toBe(204);
    await refused(() => client.post('/subnets', { subnet: { network_id: network.id, ip_version: 4, cidr: '192.168.20.128/25' } }), 400, 'HTTPBadRequest', /overlaps with another subnet/);
    await refused(() => client.post('/subnets', { subnet: { network_id: network.id, ip_version: 4, cidr: '192.168.30.5/24' } }), 400, 'HTTPBadRequest',
      "Invalid input for cidr. Reason: '192.168.30.5/24' isn't a recommended IP subnet, '192.168.30.0/24' is recommended.");
    await refused(() => client.post('/subnets', { subnet: { network_id: network.id, ip_version: 6, cidr: '192.168.31.0/24' } }), 400, 'HTTPBadRequest');
    await refused(() => client.post('/subnets', { subnet: { network_id: network.id, ip_version: 4, cidr: '192.168.32.0/24', gateway_ip: '192.168.32.10', allocation_pools: [{ start: '192.168.32.5', end: '192.168.32.20' }] } }), 400, 'HTTPBadRequest', /conflicts with allocation pool/);
    // The shared network is its owner's to add subnets to.
    await refused(() => client.post('/subnets', { subnet: { network_id: PRIVATE_NETWORK_ID, ip_version: 4, cidr: '10.9.0.0/24' } }), 403, 'PolicyNotAuthorized');
  });

  it('is not deleted while an address of it is allocated (409 SubnetInUse)', async () => {
    const client = net(`u:${project()}`);
    const { network, subnet } = await ownNetwork(client, '192.168.40.0/24');
    const port = await made(client, '/ports', 'port', { network_id: network.id });
    await refused(() => client.delete(`/subnets/${subnet.id}`), 409, 'SubnetInUse');
    expect((await client.delete(`/ports/${port.id}`)).status).toBe(204);
    expect((await client.delete(`/subnets/${subnet.id}`)).status).toBe(204);
    expect((await client.get(`/networks/${network.id}`)).body.network.subnets).toEqual([]);
  });
});

describe('ports', () => {
  it('gets an address from the pool and a Neutron MAC; is listed and filtered; its delete frees the address', async () => {
    const p = project();
    const client = net(`u:${p}`);
    const port = await made(client, '/ports', 'port', { network_id: PRIVATE_NETWORK_ID, name: 'p1' });
    expect(port).toMatchObject({
      name: 'p1', network_id: PRIVATE_NETWORK_ID, project_id: p, tenant_id: p, status: 'DOWN', device_id: '', device_owner: '',
      admin_state_up: true, port_security_enabled: true, fixed_ips: [{ subnet_id: PRIVATE_SUBNET_ID, ip_address: expect.stringMatching(/^10\.0\.0\.\d+$/) }],
      mac_address: expect.stringMatching(/^fa:16:3e(:[0-9a-f]{2}){3}$/), security_groups: [expect.any(String)],
    });
    expect(port).not.toHaveProperty('binding:host_id');
    const ip = port.fixed_ips[0].ip_address;
    expect(Number(ip.split('.')[3])).toBeGreaterThanOrEqual(2);
    const group = (await client.get('/security-groups?name=default')).body.security_groups[0];
    expect(port.security_groups).toEqual([group.id]);
    for (const query of [`network_id=${PRIVATE_NETWORK_ID}`, `fixed_ips=ip_address=${ip}`, 'device_id=', `id=${port.id}`, 'name=p1']) {
      expect([query, (await client.get(`/ports?${query}`)).body.ports.map((x: { id: string }) => x.id)]).toEqual([query, [port.id]]);
    }
    expect((await client.get('/ports?device_owner=compute:nova')).body.ports).toEqual([]);
    expect((await client.request('PUT', `/ports/${port.id}`, { port: { name: 'renamed', admin_state_up: false } })).body.port)
      .toMatchObject({ name: 'renamed', admin_state_up: false, revision_number: 2 });
    const addressItem = (all: Record<string, unknown>[]) => all.filter((i) => i.pk === `SUBNET#${PRIVATE_SUBNET_ID}` && i.sk === `IP#${ip}`);
    expect(addressItem(await items())).toHaveLength(1);
    expect((await client.delete(`/ports/${port.id}`)).status).toBe(204);
    expect(addressItem(await items())).toEqual([]);
    expect((await client.get(`/ports/${port.id}`)).body.NeutronError).toMatchObject({ type: 'PortNotFound', message: `Port ${port.id} could not be found.` });
  });

  it('a fixed IP asked for: the network\'s owner or the administrator; taken, it is 409 IpAddressAlreadyAllocated', async () => {
    const p = project();
    const client = net(`u:${p}`);
    const { network, subnet } = await ownNetwork(client, '192.168.50.0/24');
    const port = await made(client, '/ports', 'port', { network_id: network.id, fixed_ips: [{ ip_address: '192.168.50.77' }] });
    expect(port.fixed_ips).toEqual([{ subnet_id: subnet.id, ip_address: '192.168.50.77' }]);
    await refused(() => client.post('/ports', { port: { network_id: network.id, fixed_ips: [{ subnet_id: subnet.id, ip_address: '192.168.50.77' }] } }),
      409, 'IpAddressAlreadyAllocated', `IP address 192.168.50.77 already allocated in subnet ${subnet.id}`);
    await refused(() => client.post('/ports', { port: { network_id: network.id, fixed_ips: [{ ip_address: '192.168.51.1' }] } }), 400, 'HTTPBadRequest');
    await refused(() => client.post('/ports', { port: { network_id: network.id, fixed_ips: [{ ip_address: '192.168.50.1' }] } }), 400, 'HTTPBadRequest', /is not a valid IP for/);
    // On the shared network a member is not its owner: asking for an address is the administrator's.
    await refused(() => client.post('/ports', { port: { network_id: PRIVATE_NETWORK_ID, fixed_ips: [{ ip_address: '10.0.0.250' }] } }), 403, 'PolicyNotAuthorized');
    const asAdmin = await made(net(`admin:${p}`), '/ports', 'port', { network_id: PRIVATE_NETWORK_ID, fixed_ips: [{ ip_address: '10.0.0.250' }] });
    expect(asAdmin.fixed_ips[0].ip_address).toBe('10.0.0.250');
    expect(asAdmin['binding:vif_type']).toBe('unbound');
    expect((await net(`admin:${p}`).delete(`/ports/${asAdmin.id}`)).status).toBe(204);
  });

  it('another project\'s port is 404 for every verb; a reader reads and is refused writes', async () => {
    const [mine, theirs] = [project(), project()];
    const port = await made(net(`u:${mine}`), '/ports', 'port', { network_id: PRIVATE_NETWORK_ID });
    for (const send of [
      () => net(`u:${theirs}`).get(`/ports/${port.id}`),
      () => net(`u:${theirs}`).request('PUT', `/ports/${port.id}`, { port: { name: 'x' } }),
      () => net(`u:${theirs}`).delete(`/ports/${port.id}`),
    ]) await refused(send, 404, 'PortNotFound');
    expect((await net(`u:${theirs}`).get('/ports')).body.ports.map((x: { id: string }) => x.id)).not.toContain(port.id);
    expect((await net(`reader:${mine}`).get(`/ports/${port.id}`)).status).toBe(200);
    await refused(() => net(`reader:${mine}`).delete(`/ports/${port.id}`), 403, 'PolicyNotAuthorized', 'rule:delete_port is disallowed by policy');
    await refused(() => net(`reader:${mine}`).post('/ports', { port: { network_id: PRIVATE_NETWORK_ID } }), 403, 'PolicyNotAuthorized');
    expect((await net(`admin:${theirs}`).get('/ports')).body.ports.map((x: { id: string }) => x.id)).toContain(port.id);
    // A member may not make ports on the external network (not shared, not its own).
    await refused(() => net(`u:${mine}`).post('/ports', { port: { network_id: PUBLIC_NETWORK_ID } }), 403, 'PolicyNotAuthorized');
  });

  it('refuses bad input with Neutron\'s 400, writing nothing', async () => {
    const client = net(`u:${project()}`);
    await refused(() => client.post('/ports', { port: {} }), 400, 'HTTPBadRequest', "Failed to parse request. Required attribute 'network_id' not specified");
    await refused(() => client.post('/ports', { port: { network_id: 'nope' } }), 400, 'HTTPBadRequest', "Invalid input for network_id. Reason: 'nope' is not a valid UUID.");
    await refused(() => client.post('/ports', { port: { network_id: PRIVATE_NETWORK_ID, fixed_ips: 'x' } }), 400, 'HTTPBadRequest');
    await refused(() => client.post('/ports', { port: { network_id: PRIVATE_NETWORK_ID, mac_address: 'zz' } }), 400, 'HTTPBadRequest');
    await refused(() => client.post('/ports', { port: { network_id: PRIVATE_NETWORK_ID, allowed_address_pairs: [{ ip_address: '1.2.3.4' }] } }), 400, 'HTTPBadRequest');
    await refused(() => client.post('/ports', { port: { network_id: crypto.randomUUID() } }), 404, 'NetworkNotFound');
    await refused(() => client.post('/ports', { port: { network_id: PRIVATE_NETWORK_ID, security_groups: [crypto.randomUUID()] } }), 404, 'SecurityGroupNotFound');
  });
});

describe('security groups', () => {
  it('a project\'s default group is made on first use with Neutron\'s default rules', async () => {
    const p = project();
    const { security_groups: groups } = (await net(`u:${p}`).get('/security-groups')).body;
    expect(groups).toHaveLength(1);
    const [group] = groups;
    expect(group).toMatchObject({ name: 'default', project_id: p, stateful: true });
    const shape = (r: Record<string, unknown>) => `${r.direction} ${r.ethertype} ${r.remote_group_id === group.id ? 'self' : String(r.remote_group_id)}`;
    expect(group.security_group_rules.map(shape).sort()).toEqual(['egress IPv4 null', 'egress IPv6 null', 'ingress IPv4 self', 'ingress IPv6 self']);
    await refused(() => net(`u:${p}`).delete(`/security-groups/${group.id}`), 409, 'SecurityGroupCannotRemoveDefault');
    await refused(() => net(`u:${project()}`).get(`/security-groups/${group.id}`), 404, 'SecurityGroupNotFound');
  });

  it('groups and rules: made, a duplicate rule refused (409), deleted; one a port uses stays', async () => {
    const p = project();
    const client = net(`u:${p}`);
    const group = await made(client, '/security-groups', 'security_group', { name: 'web', description: 'web servers' });
    expect(group.security_group_rules.map((r: { direction: string }) => r.direction)).toEqual(['egress', 'egress']);
    const rule = await made(client, '/security-group-rules', 'security_group_rule', {
      security_group_id: group.id, direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_ip_prefix: '0.0.0.0/0',
    });
    expect(rule).toMatchObject({ protocol: 'tcp', port_range_min: 22, port_range_max: 22, ethertype: 'IPv4', remote_ip_prefix: '0.0.0.0/0' });
    await refused(() => client.post('/security-group-rules', { security_group_rule: { security_group_id: group.id, direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_ip_prefix: '0.0.0.0/0' } }),
      409, 'SecurityGroupRuleExists');
    await refused(() => client.post('/security-group-rules', { security_group_rule: { security_group_id: group.id, direction: 'sideways' } }), 400, 'HTTPBadRequest');
    await refused(() => client.post('/security-group-rules', { security_group_rule: { security_group_id: group.id, direction: 'ingress', protocol: 'tcp', port_range_min: 90, port_range_max: 80 } }), 400, 'HTTPBadRequest');
    expect((await client.get(`/security-groups/${group.id}`)).body.security_group.security_group_rules).toHaveLength(3);
    const port = await made(client, '/ports', 'port', { network_id: PRIVATE_NETWORK_ID, security_groups: [group.id] });
    await refused(() => client.delete(`/security-groups/${group.id}`), 409, 'SecurityGroupInUse');
    expect((await client.delete(`/ports/${port.id}`)).status).toBe(204);
    expect((await client.delete(`/security-group-rules/${rule.id}`)).status).toBe(204);
    expect((await client.delete(`/security-groups/${group.id}`)).status).toBe(204);
    expect((await client.get(`/security-group-rules?security_group_id=${group.id}`)).body.security_group_rules).toEqual([]);
  });

  it('as Neutron: "default" is taken (409, on a create and a rename), null remotes are none, ICMP type and code checked, a remote group that is not one is 404', async () => {
    const client = net(`u:${project()}`);
    await refused(() => client.post('/security-groups', { security_group: { name: 'Default' } }), 409, 'SecurityGroupDefaultAlreadyExists');
    const group = await made(client, '/security-groups', 'security_group', { name: 'db' });
    await refused(() => client.request('PUT', `/security-groups/${group.id}`, { security_group: { name: 'default' } }), 409, 'SecurityGroupDefaultAlreadyExists');
    const rule = { security_group_id: group.id, direction: 'ingress', ethertype: 'IPv4' };
    const open = await made(client, '/security-group-rules', 'security_group_rule', { ...rule, protocol: 'tcp', port_range_min: 80, port_range_max: 80, remote_ip_prefix: null, remote_group_id: null });
    expect([open.remote_ip_prefix, open.remote_group_id]).toEqual([null, null]);
    await refused(() => client.post('/security-group-rules', { security_group_rule: { ...rule, protocol: 'icmp', port_range_min: 1, port_range_max: 256 } }), 400, 'HTTPBadRequest', 'Invalid value for ICMP code (port_range_max) 256. It must be 0 to 255.');
    await refused(() => client.post('/security-group-rules', { security_group_rule: { ...rule, protocol: 'icmp', port_range_min: 300, port_range_max: 1 } }), 400, 'HTTPBadRequest', 'Invalid value for ICMP type (port_range_min) 300. It must be 0 to 255.');
    await refused(() => client.post('/security-group-rules', { security_group_rule: { ...rule, protocol: 'icmp', port_range_max: 6 } }), 400, 'HTTPBadRequest', 'ICMP code (port-range-max) 6 is provided but ICMP type (port-range-min) is missing.');
    await refused(() => client.post('/security-group-rules', { security_group_rule: { ...rule, protocol: 'tcp', remote_group_id: 'bad_group_id' } }), 404, 'SecurityGroupNotFound');
    await refused(() => client.post('/security-group-rules', { security_group_rule: { ...rule, protocol: 'tcp', remote_group_id: crypto.randomUUID() } }), 404, 'SecurityGroupNotFound');
  });
});

describe('Nova\'s proxies', () => {
  it('os-networks and os-security-groups answer as Nova below 2.36, and 404 from 2.36', async () => {
    const p = project();
    const below = nova(`u:${p}`, '2.35');
    const networks = (await below.get('/os-networks')).body.networks;
    expect(networks).toContainEqual(expect.objectContaining({ id: PRIVATE_NETWORK_ID, label: 'private', cidr: null }));
    expect((await below.get(`/os-networks/${PRIVATE_NETWORK_ID}`)).body.network).toMatchObject({ id: PRIVATE_NETWORK_ID, label: 'private' });
    const made2 = await below.post('/os-security-groups', { security_group: { name: 'legacy', description: 'made through Nova' } });
    expect(made2.status).toBe(200);
    expect(made2.body.security_group).toMatchObject({ name: 'legacy', tenant_id: p, rules: [] });
    const listed = (await below.get('/os-security-groups')).body.security_groups.map((g: { name: string }) => g.name);
    expect(listed).toEqual(['default', 'legacy']);
    const shown = (await below.get('/os-security-groups')).body.security_groups[0];
    expect(shown.rules).toContainEqual(expect.objectContaining({ ip_protocol: null, group: { name: 'default', tenant_id: p }, ip_range: {} }));
    expect((await below.delete(`/os-security-groups/${made2.body.security_group.id}`)).status).toBe(202);
    for (const path of ['/os-networks', `/os-networks/${PRIVATE_NETWORK_ID}`, '/os-security-groups']) {
      expect([path, (await nova(`u:${p}`, '2.36').get(path)).status]).toEqual([path, 404]);
    }
  });
});

describe('Nova\'s security group list across projects', () => {
  it('lists every project\'s groups to an administrator asking all_tenants, and only the caller\'s otherwise', async () => {
    const [p, q] = [project(), project()];
    const made = await nova(`u:${p}`, '2.35').post('/os-security-groups', { security_group: { name: `of-${p}`, description: 'a member\'s' } });
    expect(made.status).toBe(200);
    const admin = nova(`admin:${q}`, '2.35');
    const ids = async (client: Nova, query = '') => (await client.get(`/os-security-groups${query}`)).body.security_groups.map((g: { id: string }) => g.id);
    expect(await ids(admin, '?all_tenants=true')).toContain(made.body.security_group.id);
    expect(await ids(admin, '?all_tenants')).toContain(made.body.security_group.id);
    expect(await ids(admin)).not.toContain(made.body.security_group.id);
    // A member's all_tenants is ignored, as Nova ignores it: the project's own groups only.
    const other = await nova(`u:${q}`, '2.35').get('/os-security-groups?all_tenants=true');
    expect(other.body.security_groups.map((g: { tenant_id: string }) => g.tenant_id)).toEqual([q]);
  });
});

describe('a server\'s ports', () => {
  const ports = (token: string, serverId: string) => net(token).get(`/ports?device_id=${serverId}`).then((r) => r.body.ports);
  // A port turns ACTIVE just after its server's build releases the claim (the release is the commit
  // point; the port is marked in-use after it), as Neutron's does after Nova's build: Tempest's
  // wait_for_interface_status waits for it, and so does this.
  const activePorts = async (token: string, serverId: string) => {
    for (let attempt = 0; ; attempt++) {
      const found = await ports(token, serverId);
      if (found.every((p: { status: string }) => p.status === 'ACTIVE') || attempt === 500) return found;
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('without networks (before 2.37), `auto` or the network named, gets a port on private: its address in addresses and /ips', async () => {
    const token = `u:${project()}`;
    for (const [version, networks] of [['2.1', undefined], ['2.37', 'auto'], ['2.37', [{ uuid: PRIVATE_NETWORK_ID }]]] as const) {
      const client = nova(token, version);
      const res = await client.post('/servers', { server: { name: 'vm', flavorRef: '1', imageRef: '70a599e0-31e7-49b7-b260-868f441e862b', ...(networks ? { networks } : {}) } });
      expect(res.status).toBe(202);
      const server = await client.waitIdle(res.body.server.id);
      const [port] = await activePorts(token, server.id);
      expect(port).toMatchObject({ device_owner: 'compute:nova', device_id: server.id, status: 'ACTIVE', network_id: PRIVATE_NETWORK_ID });
      const addr = port.fixed_ips[0].ip_address;
      expect(server.addresses).toEqual({ private: [{ version: 4, addr, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': port.mac_address }] });
      expect((await client.get(`/servers/${server.id}/ips`)).body).toEqual({ addresses: { private: [{ version: 4, addr }] } });
      expect((await client.get(`/servers/${server.id}/os-interface`)).body.interfaceAttachments).toEqual([
        expect.objectContaining({ port_id: port.id, net_id: PRIVATE_NETWORK_ID, mac_addr: port.mac_address, fixed_ips: [{ ip_address: addr, subnet_id: PRIVATE_SUBNET_ID }] }),
      ]);
    }
  });

  it('`none` gets no port; a port named is bound to it, and unbound (not deleted) when the server goes', async () => {
    const token = `u:${project()}`;
    const client = nova(token, '2.37');
    const bare = (await client.post('/servers', { server: { name: 'bare', flavorRef: '1', imageRef: '70a599e0-31e7-49b7-b260-868f441e862b', networks: 'none' } })).body.server.id;
    expect((await client.waitIdle(bare)).addresses).toEqual({});
    expect(await ports(token, bare)).toEqual([]);

    const port = await made(net(token), '/ports', 'port', { network_id: PRIVATE_NETWORK_ID, name: 'mine' });
    const id = (await client.post('/servers', { server: { name: 'on-port', flavorRef: '1', imageRef: '70a599e0-31e7-49b7-b260-868f441e862b', networks: [{ port: port.id }] } })).body.server.id;
    const server = await client.waitIdle(id);
    expect(server.addresses.private.map((a: { addr: string }) => a.addr)).toEqual([port.fixed_ips[0].ip_address]);
    expect((await activePorts(token, id))[0]).toMatchObject({ id: port.id, device_id: id, device_owner: 'compute:nova', status: 'ACTIVE' });
    // Another server may not have it: Nova's 409 PortInUse, nothing created.
    const taken = await client.post('/servers', { server: { name: 'thief', flavorRef: '1', imageRef: '70a599e0-31e7-49b7-b260-868f441e862b', networks: [{ port: port.id }] } });
    expect([taken.status, taken.body.conflictingRequest?.message]).toEqual([409, `Port ${port.id} is still in use.`]);
    const missing = crypto.randomUUID();
    const none = await client.post('/servers', { server: { name: 'ghost', flavorRef: '1', imageRef: '70a599e0-31e7-49b7-b260-868f441e862b', networks: [{ port: missing }] } });
    expect([none.status, none.body.badRequest?.message]).toEqual([400, `Port id ${missing} could not be found.`]);
    expect((await client.delete(`/servers/${id}`)).status).toBe(204);
    await client.waitGone(id);
    await eventually(async () => (await net(token).get(`/ports/${port.id}`)).body.port?.device_id === '');
    expect((await net(token).get(`/ports/${port.id}`)).body.port).toMatchObject({ status: 'DOWN', device_owner: '', fixed_ips: port.fixed_ips });
  });

  it('a port Nova made goes with the server, its address freed', async () => {
    const token = `u:${project()}`;
    const client = nova(token);
    const id = await client.createServer('doomed');
    await client.waitIdle(id);
    const [port] = await ports(token, id);
    const ip = port.fixed_ips[0].ip_address;
    expect((await client.delete(`/servers/${id}`)).status).toBe(204);
    await client.waitGone(id);
    await eventually(async () => (await net(token).get(`/ports/${port.id}`)).status === 404);
    await eventually(async () => !(await items()).some((i) => i.pk === `SUBNET#${PRIVATE_SUBNET_ID}` && i.sk === `IP#${ip}`));
  });

  it('os-interface: with net_id Nova makes a port (deleted at detach), with port_id binds it (404 missing, 409 held)', async () => {
    const token = `u:${project()}`;
    const client = nova(token, '2.37');
    const [a, b] = [await client.createServer('a'), await client.createServer('b')];
    await Promise.all([client.waitIdle(a), client.waitIdle(b)]);
    const attached = await client.post(`/servers/${a}/os-interface`, { interfaceAttachment: { net_id: PRIVATE_NETWORK_ID } });
    expect(attached.status).toBe(200);
    const made2 = attached.body.interfaceAttachment;
    expect(made2).toMatchObject({ net_id: PRIVATE_NETWORK_ID, fixed_ips: [{ subnet_id: PRIVATE_SUBNET_ID, ip_address: expect.stringMatching(/^10\.0\.0\./) }] });
    await client.waitIdle(a);
    expect((await net(token).get(`/ports/${made2.port_id}`)).body.port).toMatchObject({ device_id: a, mac_address: made2.mac_addr });
    expect((await client.delete(`/servers/${a}/os-interface/${made2.port_id}`)).status).toBe(202);
    await client.waitIdle(a);
    await eventually(async () => (await net(token).get(`/ports/${made2.port_id}`)).status === 404);

    const missing = crypto.randomUUID();
    const notFound = await client.post(`/servers/${a}/os-interface`, { interfaceAttachment: { port_id: missing } });
    expect([notFound.status, notFound.body.itemNotFound?.message]).toEqual([404, `Port id ${missing} could not be found.`]);
    const noNetwork = await client.post(`/servers/${a}/os-interface`, { interfaceAttachment: { net_id: crypto.randomUUID() } });
    expect(noNetwork.status).toBe(404);
    const port = await made(net(token), '/ports', 'port', { network_id: PRIVATE_NETWORK_ID });
    expect((await client.post(`/servers/${a}/os-interface`, { interfaceAttachment: { port_id: port.id } })).status).toBe(200);
    await client.waitIdle(a);
    const held = await client.post(`/servers/${b}/os-interface`, { interfaceAttachment: { port_id: port.id } });
    expect([held.status, held.body.conflictingRequest?.message]).toEqual([409, `Port ${port.id} is still in use.`]);
    // Neutron's delete of a port the server holds: Nova detaches it, and it is gone.
    expect((await net(token).delete(`/ports/${port.id}`)).status).toBe(204);
    expect((await net(token).get(`/ports/${port.id}`)).status).toBe(404);
    await client.waitIdle(a);
    expect((await client.get(`/servers/${a}/os-interface`)).body.interfaceAttachments).toEqual([]);
    await eventually(async () => !(await items()).some((i) => i.pk === `PORT#${port.id}`));
  });

  it('a fixed IP named on a network of the project\'s own; a network out of addresses is Nova\'s 400, nothing created', async () => {
    const token = `u:${project()}`;
    const { network } = await ownNetwork(net(token), '192.168.60.0/29');
    const client = nova(token, '2.37');
    const body = (networks: unknown) => ({ server: { name: 'own', flavorRef: '1', imageRef: '70a599e0-31e7-49b7-b260-868f441e862b', networks } });
    const fixed = await client.post('/servers', body([{ uuid: network.id, fixed_ip: '192.168.60.6' }]));
    expect(fixed.status).toBe(202);
    expect((await client.waitIdle(fixed.body.server.id)).addresses).toEqual({
      [network.name]: [expect.objectContaining({ addr: '192.168.60.6' })],
    });
    // A /29: five addresses (.2 to .6), one taken above.
    for (let i = 0; i < 4; i++) expect((await client.post('/servers', body([{ uuid: network.id }]))).status).toBe(202);
    const servers = (await client.get('/servers')).body.servers.length;
    const full = await client.post('/servers', body([{ uuid: network.id }]));
    expect([full.status, full.body.badRequest?.message]).toEqual([400, `No fixed IP addresses available for network: ${network.id}`]);
    expect((await client.get('/servers')).body.servers).toHaveLength(servers);
    // Two networks of its own and private: `auto` cannot choose (Nova's 409 NetworkAmbiguous).
    const ambiguous = await client.post('/servers', body('auto'));
    expect(ambiguous.status).toBe(409);
  });
});

async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error('not within the time allowed');
    await new Promise((r) => setTimeout(r, 20));
  }
}
