import { readHosts, seedHosts } from '../../functions/core/placement/hosts.js';
import { NO_VALID_HOST } from '../../functions/core/placement/scheduler.js';
import { startRuntime, type Runtime } from '../../local/runtime.js';
import { Nova } from '../support/nova.js';
import { hostsEmptied, settled } from '../support/placement.js';

// Placement's APIs over three hosts (two in zone nova, one in az2), through the whole runtime:
// what os-hypervisors, os-services, os-hosts and os-availability-zone show as microversions
// change them, how disabling or forcing down a service steers the scheduler, zones and forced
// hosts at create, server groups and their policies, and Nova's answers to bad input.

const IMAGE = '70a599e0-31e7-49b7-b260-868f441e862b';
const HOSTS = [
  { name: 'h1', zone: 'nova', vcpus: 4, ram: 8192, disk: 100 },
  { name: 'h2', zone: 'nova', vcpus: 4, ram: 8192, disk: 100 },
  { name: 'h3', zone: 'az2', vcpus: 4, ram: 8192, disk: 100 },
];

let runtime: Runtime;
let admin: Nova;
let member: Nova;
beforeAll(async () => {
  runtime = await startRuntime({ port: 0, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT, driver: { stepMs: 0 } });
  await seedHosts(runtime.table, HOSTS);
  admin = new Nova(runtime.apiUrl, 'admin:admin');
  member = new Nova(runtime.apiUrl, 'pat:placed');
  expect((await admin.request('PUT', '/os-quota-sets/placed', { quota_set: { instances: 20, cores: 20 } })).status).toBe(200);
});
afterAll(() => runtime.stop());

const boot = (nova: Nova, name: string, extra: Record<string, unknown> = {}, hints?: Record<string, unknown>) =>
  nova.post('/servers', { server: { name, flavorRef: '1', imageRef: IMAGE, ...extra }, ...(hints ? { 'os:scheduler_hints': hints } : {}) });

async function bootAll(nova: Nova, count: number, extra: Record<string, unknown> = {}, hints?: Record<string, unknown>) {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await boot(nova, `p-${i}`, extra, hints);
    expect(res.status).toBe(202);
    ids.push(res.body.server.id);
  }
  return settled(admin.atVersion('2.64'), ids);
}

async function deleteAll(nova: Nova, ids: readonly string[]) {
  for (const id of ids) expect((await nova.delete(`/servers/${id}`)).status).toBe(204);
  for (const id of ids) await nova.waitGone(id);
  await hostsEmptied(runtime.table);
}

describe('hypervisors, services, hosts, zones', () => {
  it('lists the hypervisors with integer ids before 2.53 and uuids from it, with their resources in the detail', async () => {
    const old = (await admin.get('/os-hypervisors')).body.hypervisors;
    expect(old).toEqual(HOSTS.map((h, i) => ({ id: i + 1, hypervisor_hostname: h.name, state: 'up', status: 'enabled' })));
    const uuids = (await admin.atVersion('2.53').get('/os-hypervisors')).body.hypervisors;
    for (const h of uuids) expect(h.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
    const detail = (await admin.atVersion('2.53').get('/os-hypervisors/detail')).body.hypervisors[0];
    expect(detail).toMatchObject({ hypervisor_hostname: 'h1', vcpus: 4, memory_mb: 8192, local_gb: 100, vcpus_used: 0, running_vms: 0, service: { host: 'h1' } });
    const shown = (await admin.atVersion('2.79').get(`/os-hypervisors/${uuids[0].id}`)).body.hypervisor;
    expect([shown.hypervisor_hostname, shown.vcpus]).toEqual(['h1', 4]);
    expect((await admin.get('/os-hypervisors/2')).body.hypervisor.hypervisor_hostname).toBe('h2');
  });

  it('totals the hypervisors', async () => {
    expect((await admin.get('/os-hypervisors/statistics')).body.hypervisor_statistics).toMatchObject({
      count: 3, vcpus: 12, memory_mb: 24_576, local_gb: 300, vcpus_used: 0, running_vms: 0,
    });
    expect((await admin.atVersion('2.79').get('/os-hypervisors/statistics')).body.hypervisor_statistics.count).toBe(3);
  });

  it('refuses hypervisors and services to a member, and answers unknown ones 404', async () => {
    expect((await member.get('/os-hypervisors')).status).toBe(403);
    expect((await member.get('/os-services')).status).toBe(403);
    expect((await admin.get('/os-hypervisors/99')).body.itemNotFound.message).toBe('Hypervisor with ID \'99\' could not be found.');
    expect((await admin.atVersion('2.53').get(`/os-hypervisors/${crypto.randomUUID()}`)).status).toBe(404);
    expect((await admin.get('/os-hypervisors/nothing-like-it/search')).status).toBe(404);
  });

  it('lists each host\'s nova-compute service and its zone; os-hosts until 2.43', async () => {
    const services = (await admin.atVersion('2.11').get('/os-services')).body.services;
    expect(services.map((s: any) => [s.id, s.binary, s.host, s.zone, s.status, s.state, s.forced_down]))
      .toEqual(HOSTS.map((h, i) => [i + 1, 'nova-compute', h.name, h.zone, 'enabled', 'up', false]));
    expect((await admin.get('/os-services?host=h3')).body.services.map((s: any) => s.host)).toEqual(['h3']);
    expect((await admin.get('/os-hosts')).body.hosts).toEqual(HOSTS.map((h) => ({ host_name: h.name, service: 'compute', zone: h.zone })));
    expect((await admin.get('/os-hosts/h2')).body.host[0].resource).toEqual({ host: 'h2', project: '(total)', cpu: 4, memory_mb: 8192, disk_gb: 100 });
    expect((await admin.atVersion('2.43').get('/os-hosts')).status).toBe(404);
  });

  it('shows the zones of the hosts, available while a host in them is enabled', async () => {
    const zones = (await member.get('/os-availability-zone')).body.availabilityZoneInfo;
    expect(zones).toEqual([
      { zoneName: 'nova', zoneState: { available: true }, hosts: null },
      { zoneName: 'az2', zoneState: { available: true }, hosts: null },
    ]);
    const detail = (await admin.get('/os-availability-zone/detail')).body.availabilityZoneInfo;
    expect(Object.keys(detail[1].hosts)).toEqual(['h3']);
  });
});

describe('the scheduler', () => {
  it('places a server in the zone asked for, and refuses a zone no host is in', async () => {
    const [s] = await bootAll(member, 1, { availability_zone: 'az2' });
    expect(s!.host).toBe('h3');
    const shown = (await admin.get(`/servers/${s!.id}`)).body.server;
    expect([shown['OS-EXT-AZ:availability_zone'], shown['OS-EXT-SRV-ATTR:hypervisor_hostname']]).toEqual(['az2', 'h3']);
    expect((await member.get(`/servers/${s!.id}`)).body.server).not.toHaveProperty('OS-EXT-SRV-ATTR:host');
    expect((await admin.atVersion('2.53').get('/os-hypervisors?with_servers=true')).body.hypervisors[2].servers).toEqual([{ name: 'p-0', uuid: s!.id }]);
    const refused = await boot(member, 'nowhere', { availability_zone: 'atlantis' });
    expect([refused.status, refused.body.badRequest?.message]).toEqual([400, 'The requested availability zone is not available']);
    await deleteAll(member, [s!.id]);
  });

  it('places an administrator\'s server on the host it forces, and a member may not force one', async () => {
    const [s] = await bootAll(admin, 1, { availability_zone: 'nova:h2' });
    expect(s!.host).toBe('h2');
    expect((await boot(member, 'forced', { availability_zone: 'nova:h2' })).status).toBe(403);
    await deleteAll(admin, [s!.id]);
  });

  it('leaves a disabled or forced-down host alone, and answers NoValidHost when no host is left', async () => {
    const v = admin.atVersion('2.53');
    const services = (await v.get('/os-services')).body.services as { id: string; host: string }[];
    const id = (host: string) => services.find((s) => s.host === host)!.id;
    const disabled = await v.request('PUT', `/os-services/${id('h1')}`, { status: 'disabled', disabled_reason: 'maintenance' });
    expect(disabled.body.service).toMatchObject({ host: 'h1', status: 'disabled', disabled_reason: 'maintenance' });
    expect((await v.request('PUT', `/os-services/${id('h2')}`, { forced_down: true })).body.service).toMatchObject({ state: 'down', forced_down: true });
    const [s] = await bootAll(member, 1, { availability_zone: 'nova' });
    expect([s!.status, s!.fault, s!.host]).toEqual(['ERROR', NO_VALID_HOST, null]);
    expect((await admin.get(`/servers/${s!.id}`)).body.server.fault.message).toBe(NO_VALID_HOST);
    // Before 2.53, by host and binary.
    expect((await admin.request('PUT', '/os-services/enable', { host: 'h1', binary: 'nova-compute' })).body.service)
      .toEqual({ host: 'h1', binary: 'nova-compute', status: 'enabled' });
    const [t] = await bootAll(member, 1, { availability_zone: 'nova' });
    expect(t!.host).toBe('h1');
    expect((await v.request('PUT', `/os-services/${id('h2')}`, { forced_down: false })).status).toBe(200);
    await deleteAll(member, [s!.id, t!.id]);
  });

  it('answers bad service updates with Nova\'s 400 and 404, changing nothing', async () => {
    const v = admin.atVersion('2.53');
    expect((await v.request('PUT', '/os-services/5f1c2f0e-8c55-4a43-9c34-1f2d0a3b7e61', { status: 'disabled' })).status).toBe(404);
    const id = (await v.get('/os-services')).body.services[0].id;
    expect((await v.request('PUT', `/os-services/${id}`, { status: 'sleeping' })).status).toBe(400);
    expect((await v.request('PUT', `/os-services/${id}`, { status: 'enabled', disabled_reason: 'x' })).status).toBe(400);
    expect((await v.request('PUT', `/os-services/${id}`, {})).status).toBe(400);
    expect((await admin.request('PUT', '/os-services/disable', { host: 'nowhere', binary: 'nova-compute' })).status).toBe(404);
    expect((await readHosts(runtime.table)).map((h) => [h.enabled, h.forcedDown])).toEqual(HOSTS.map(() => [true, false]));
  });

  it('fills the hosts to their capacity and no further', async () => {
    const servers = await bootAll(member, 13, { flavorRef: '1' });
    expect(servers.filter((s) => s.status === 'ACTIVE')).toHaveLength(12);
    expect(servers.filter((s) => s.status === 'ERROR').map((s) => s.fault)).toEqual([NO_VALID_HOST]);
    expect((await admin.get('/os-hypervisors/statistics')).body.hypervisor_statistics).toMatchObject({ vcpus_used: 12, running_vms: 12 });
    await deleteAll(member, servers.map((s) => s.id));
    expect((await admin.get('/os-hypervisors/statistics')).body.hypervisor_statistics).toMatchObject({ vcpus_used: 0, running_vms: 0 });
  }, 60_000);
});

describe('aggregates', () => {
  it('puts its hosts in its availability zone while they are in it, and the scheduler follows', async () => {
    const made = await admin.atVersion('2.41').post('/os-aggregates', { aggregate: { name: 'rack', availability_zone: 'edge' } });
    expect(made.status).toBe(200);
    const id = made.body.aggregate.id;
    expect(made.body.aggregate).toMatchObject({ name: 'rack', availability_zone: 'edge', deleted: false, uuid: expect.any(String) });
    expect((await admin.post('/os-aggregates', { aggregate: { name: 'rack' } })).status).toBe(409);
    const added = await admin.post(`/os-aggregates/${id}/action`, { add_host: { host: 'h2' } });
    expect(added.body.aggregate).toMatchObject({ hosts: ['h2'], metadata: { availability_zone: 'edge' } });
    expect((await admin.post(`/os-aggregates/${id}/action`, { add_host: { host: 'h2' } })).status).toBe(409);
    expect((await admin.post(`/os-aggregates/${id}/action`, { add_host: { host: 'nowhere' } })).status).toBe(404);
    expect((await member.get('/os-availability-zone')).body.availabilityZoneInfo.map((z: any) => z.zoneName)).toEqual(['nova', 'edge', 'az2']);
    const [s] = await bootAll(member, 1, { availability_zone: 'edge' });
    expect(s!.host).toBe('h2');
    await deleteAll(member, [s!.id]);
    // Its zone cannot change under its hosts; it cannot go while it has them.
    expect((await admin.request('PUT', `/os-aggregates/${id}`, { aggregate: { availability_zone: 'other' } })).status).toBe(400);
    expect((await admin.delete(`/os-aggregates/${id}`)).status).toBe(400);
    expect((await admin.post(`/os-aggregates/${id}/action`, { remove_host: { host: 'h2' } })).body.aggregate.hosts).toEqual([]);
    expect((await readHosts(runtime.table)).map((h) => h.zone)).toEqual(['nova', 'nova', 'az2']);
    expect((await admin.post(`/os-aggregates/${id}/action`, { set_metadata: { metadata: { ssd: 'yes', availability_zone: null } } })).body.aggregate)
      .toMatchObject({ availability_zone: null, metadata: { ssd: 'yes' } });
    expect((await admin.request('PUT', `/os-aggregates/${id}`, { aggregate: { name: 'rack2' } })).body.aggregate.name).toBe('rack2');
    expect((await admin.get('/os-aggregates')).body.aggregates.map((a: any) => a.name)).toEqual(['rack2']);
    expect((await admin.delete(`/os-aggregates/${id}`)).status).toBe(200);
    expect((await admin.get(`/os-aggregates/${id}`)).status).toBe(404);
    // The name is free again.
    const again = await admin.post('/os-aggregates', { aggregate: { name: 'rack' } });
    expect(again.status).toBe(200);
    expect((await admin.delete(`/os-aggregates/${again.body.aggregate.id}`)).status).toBe(200);
  });

  it('answers a member 403 and bad bodies 400, changing nothing', async () => {
    expect((await member.get('/os-aggregates')).status).toBe(403);
    for (const body of [{}, { aggregate: {} }, { aggregate: { name: '' } }, { aggregate: { name: 'a', availability_zone: 'x:y' } }]) {
      expect((await admin.post('/os-aggregates', body)).status).toBe(400);
    }
    expect((await admin.get('/os-aggregates/12345')).body.itemNotFound.message).toBe('Aggregate 12345 could not be found.');
    expect((await admin.get('/os-aggregates')).body.aggregates).toEqual([]);
  });
});

describe('resize', () => {
  const used = async () => (await readHosts(runtime.table)).find((h) => h.name === 'h3')!;
  const act = async (id: string, body: unknown) => {
    expect([202, 204]).toContain((await member.post(`/servers/${id}/action`, body)).status);
    return member.waitIdle(id);
  };

  it('moves the allocation on its host with the flavor: revert gives it back, confirm keeps it, no room is NoValidHost', async () => {
    const [s] = await bootAll(member, 1, { availability_zone: 'az2' });
    const id = s!.id;
    expect((await act(id, { resize: { flavorRef: '3' } })).status).toBe('VERIFY_RESIZE');
    expect([(await used()).usedVcpus, (await used()).usedRam]).toEqual([2, 4096]);
    expect((await act(id, { revertResize: null })).status).toBe('ACTIVE');
    expect([(await used()).usedVcpus, (await used()).usedRam]).toEqual([1, 512]);
    expect((await act(id, { resize: { flavorRef: '4' } })).status).toBe('VERIFY_RESIZE');
    expect((await act(id, { confirmResize: null })).status).toBe('ACTIVE');
    expect([(await used()).usedVcpus, (await used()).usedRam, (await used()).usedDisk]).toEqual([4, 8192, 80]);
    // Full: a boot into the zone finds no host, and a larger flavor no room on its own.
    const [full] = await bootAll(member, 1, { availability_zone: 'az2' });
    expect(full!.fault).toBe(NO_VALID_HOST);
    const refused = await act(id, { resize: { flavorRef: '5' } });
    expect([refused.status, refused.flavor.id]).toEqual(['ACTIVE', '4']);
    const actions = (await member.get(`/servers/${id}/os-instance-actions`)).body.instanceActions;
    expect(actions.find((a: any) => a.action === 'resize' && a.message === 'Error')).toBeDefined();
    expect((await used()).usedVcpus).toBe(4);
    await deleteAll(member, [id, full!.id]);
    expect([(await used()).usedVcpus, (await used()).allocations]).toEqual([0, {}]);
  }, 60_000);
});

describe('server groups', () => {
  const v264 = () => member.atVersion('2.64');

  it('creates, shows, lists and deletes a group, in each microversion\'s shape', async () => {
    const old = await member.post('/os-server-groups', { server_group: { name: 'web', policies: ['anti-affinity'] } });
    expect(old.status).toBe(200);
    expect(old.body.server_group).toEqual({ id: expect.any(String), name: 'web', policies: ['anti-affinity'], members: [], metadata: {} });
    const made = await v264().post('/os-server-groups', { server_group: { name: 'db', policy: 'anti-affinity', rules: { max_server_per_host: 2 } } });
    expect(made.body.server_group).toEqual({
      id: expect.any(String), name: 'db', policy: 'anti-affinity', rules: { max_server_per_host: 2 }, members: [], project_id: 'placed', user_id: 'pat',
    });
    expect((await v264().get('/os-server-groups')).body.server_groups.map((g: any) => g.name)).toEqual(['web', 'db']);
    expect((await new Nova(runtime.apiUrl, 'eve:other').get(`/os-server-groups/${made.body.server_group.id}`)).status).toBe(404);
    expect((await member.get('/os-server-groups?all_projects=true')).status).toBe(403);
    expect((await admin.get('/os-server-groups?all_projects=true')).body.server_groups.map((g: any) => g.name)).toEqual(['web', 'db']);
    expect((await admin.get('/os-server-groups')).body.server_groups).toEqual([]);
    for (const g of [old.body.server_group, made.body.server_group]) expect((await member.delete(`/os-server-groups/${g.id}`)).status).toBe(204);
    expect((await member.delete(`/os-server-groups/${made.body.server_group.id}`)).status).toBe(404);
    expect((await member.get(`/os-server-groups/${made.body.server_group.id}`)).status).toBe(404);
  });

  it('answers bad groups with Nova\'s 400, and creates nothing', async () => {
    const bad = [
      [member, { server_group: { name: 'x', policies: ['soft-affinity'] } }],
      [member, { server_group: { name: 'x', policies: ['affinity', 'anti-affinity'] } }],
      [member, { server_group: { name: 'x' } }],
      [v264(), { server_group: { name: 'x', policy: 'affinity', rules: { max_server_per_host: 2 } } }],
      [v264(), { server_group: { name: 'x', policy: 'anti-affinity', rules: { max_server_per_host: 0 } } }],
      [v264(), { server_group: { name: 'x', policies: ['affinity'] } }],
    ] as const;
    for (const [nova, body] of bad) expect((await nova.post('/os-server-groups', body)).status).toBe(400);
    expect((await member.atVersion('2.15').post('/os-server-groups', { server_group: { name: 'soft', policies: ['soft-affinity'] } })).status).toBe(200);
    expect((await member.get('/os-server-groups')).body.server_groups.map((g: any) => g.name)).toEqual(['soft']);
  });

  it('counts groups against server_groups and members against server_group_members, Nova\'s 403 past them, given back on delete', async () => {
    const tight = new Nova(runtime.apiUrl, 'tia:tight');
    expect((await admin.request('PUT', '/os-quota-sets/tight', { quota_set: { server_groups: 1, server_group_members: 1 } })).status).toBe(200);
    const first = await tight.post('/os-server-groups', { server_group: { name: 'one', policies: ['affinity'] } });
    expect(first.status).toBe(200);
    const second = await tight.post('/os-server-groups', { server_group: { name: 'two', policies: ['affinity'] } });
    expect([second.status, second.body.forbidden?.message]).toEqual([403, 'Quota exceeded, too many server groups.']);
    expect((await tight.get('/limits')).body.limits.absolute.totalServerGroupsUsed).toBe(1);
    const group = first.body.server_group.id;
    const [member1] = await bootAll(tight, 1, {}, { group });
    const over = await boot(tight, 'second', {}, { group });
    expect([over.status, over.body.forbidden?.message]).toEqual([403, 'Quota exceeded, too many servers in group']);
    await deleteAll(tight, [member1!.id]);
    expect((await tight.delete(`/os-server-groups/${group}`)).status).toBe(204);
    expect((await tight.get('/limits')).body.limits.absolute.totalServerGroupsUsed).toBe(0);
    expect((await tight.post('/os-server-groups', { server_group: { name: 'again', policies: ['affinity'] } })).status).toBe(200);
  });

  it('refuses a group hint naming no group the caller sees', async () => {
    const refused = await boot(member, 'lost', {}, { group: '5f1c2f0e-8c55-4a43-9c34-1f2d0a3b7e61' });
    expect([refused.status, refused.body.badRequest?.message]).toEqual([400, 'Instance group 5f1c2f0e-8c55-4a43-9c34-1f2d0a3b7e61 could not be found.']);
    expect((await boot(member, 'odd', {}, { group: 'not-a-uuid' })).status).toBe(400);
  });

  it('places an affinity group\'s members on one host, and max_server_per_host members of an anti-affinity group per host', async () => {
    const affine = (await v264().post('/os-server-groups', { server_group: { name: 'together', policy: 'affinity' } })).body.server_group;
    const together = await bootAll(member, 3, {}, { group: affine.id });
    expect(together.map((s) => s.status)).toEqual(['ACTIVE', 'ACTIVE', 'ACTIVE']);
    expect(new Set(together.map((s) => s.host)).size).toBe(1);
    // Seven boots, at most two per host (3 hosts).
    const pairs = (await v264().post('/os-server-groups', { server_group: { name: 'pairs', policy: 'anti-affinity', rules: { max_server_per_host: 2 } } })).body.server_group;
    const spread = await bootAll(member, 7, {}, { group: pairs.id });
    const perHost = new Map<string, number>();
    for (const s of spread.filter((x) => x.status === 'ACTIVE')) perHost.set(s.host!, (perHost.get(s.host!) ?? 0) + 1);
    // The affinity group's host has one vCPU left: one member there, two on each of the others.
    expect([...perHost.values()].sort()).toEqual([1, 2, 2]);
    expect(spread.filter((s) => s.status === 'ERROR').map((s) => s.fault)).toEqual([NO_VALID_HOST, NO_VALID_HOST]);
    await deleteAll(member, [...together, ...spread].map((s) => s.id));
  }, 60_000);
});
