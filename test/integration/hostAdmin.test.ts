import { readHost, seedHosts } from '../../functions/core/placement/hosts.js';
import { startRuntime, type Runtime } from '../../local/runtime.js';
import { Nova, type NovaResponse } from '../support/nova.js';
import { tempestProblems } from '../support/tempestSchemas.js';

// Nova's host-wide admin calls over two simulated hosts, through the whole runtime: a
// hypervisor's uptime, the detail's shapes as microversions
// change them, os-hosts' update (status steers the scheduler's flag; maintenance mode, like the
// power actions, is refused 501 as libvirt's driver refuses it) and Nova's answers to bad input,
// each of which leaves the host as it was; and every answer of os-hypervisors, os-hosts,
// os-services and os-aggregates against the schemas Tempest holds Nova to (test/fixtures/tempest),
// at the microversions where they change.

const HOSTS = [
  { name: 'h1', zone: 'nova', vcpus: 4, ram: 8192, disk: 100 },
  { name: 'h2', zone: 'nova', vcpus: 4, ram: 8192, disk: 100 },
];

let runtime: Runtime;
let admin: Nova;
let member: Nova;
beforeAll(async () => {
  runtime = await startRuntime({ port: 0, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT, driver: { stepMs: 0 } });
  await seedHosts(runtime.table, HOSTS);
  admin = new Nova(runtime.apiUrl, 'admin:admin');
  member = new Nova(runtime.apiUrl, 'pat:hosts');
});
afterAll(() => runtime.stop());

function conforms(module: string, name: string, res: NovaResponse) {
  const problems = tempestProblems(module, name, res);
  if (problems.length > 0) throw new Error(`${module}.${name}: ${problems.join('; ')}\n${JSON.stringify(res.body, null, 1)}`);
}

/** What the host's item says of its service: what the scheduler reads. */
const service = async (name: string) => {
  const h = (await readHost(runtime.table, name))!;
  return { enabled: h.enabled, forcedDown: h.forcedDown, disabledReason: h.disabledReason ?? null };
};
const UP = { enabled: true, forcedDown: false, disabledReason: null };
const UPTIME = /^ \d\d:\d\d:\d\d up (\d+ days?, )?\d+:\d\d, {2}0 users, {2}load average: 0\.00, 0\.00, 0\.00$/;

describe('a hypervisor\'s uptime', () => {
  it('answers the host\'s uptime line by integer id before 2.53 and by uuid from it', async () => {
    const shown = (await admin.get('/os-hypervisors/1/uptime')).body.hypervisor;
    expect(Object.keys(shown).sort()).toEqual(['hypervisor_hostname', 'id', 'state', 'status', 'uptime']);
    expect([shown.id, shown.hypervisor_hostname, shown.state, shown.status]).toEqual([1, 'h1', 'up', 'enabled']);
    expect(shown.uptime).toMatch(UPTIME);
    const v = admin.atVersion('2.53');
    const [, second] = (await v.get('/os-hypervisors')).body.hypervisors;
    const byUuid = await v.get(`/os-hypervisors/${second.id}/uptime`);
    expect([byUuid.status, byUuid.body.hypervisor.hypervisor_hostname]).toEqual([200, 'h2']);
    expect(byUuid.body.hypervisor.uptime).toMatch(UPTIME);
  });

  it('answers Nova\'s errors for ids of the wrong kind, unknown hypervisors and members', async () => {
    const notUuid = await admin.atVersion('2.53').get('/os-hypervisors/1/uptime');
    expect([notUuid.status, notUuid.body.badRequest?.message]).toEqual([400, 'Invalid uuid 1']);
    const unknown = await admin.get('/os-hypervisors/99/uptime');
    expect([unknown.status, unknown.body.itemNotFound?.message]).toEqual([404, 'Hypervisor with ID \'99\' could not be found.']);
    const word = await admin.get('/os-hypervisors/h1/uptime');
    expect([word.status, word.body.itemNotFound?.message]).toEqual([404, 'Hypervisor with ID \'h1\' could not be found.']);
    const unknownUuid = await admin.atVersion('2.53').get(`/os-hypervisors/${crypto.randomUUID()}/uptime`);
    expect(unknownUuid.status).toBe(404);
    expect((await member.get('/os-hypervisors/1/uptime')).status).toBe(403);
  });

  it('is refused while the host\'s service is forced down (Nova asks the service)', async () => {
    const v = admin.atVersion('2.53');
    const services = (await v.get('/os-services')).body.services as { id: string; host: string }[];
    const h2 = services.find((s) => s.host === 'h2')!.id;
    expect((await v.request('PUT', `/os-services/${h2}`, { forced_down: true })).status).toBe(200);
    try {
      const down = await admin.get('/os-hypervisors/2/uptime');
      expect([down.status, down.body.badRequest?.message]).toEqual([400, 'Compute service of h2 is unavailable at this time.']);
      expect((await admin.get('/os-hypervisors/1/uptime')).status).toBe(200);
    } finally {
      expect((await v.request('PUT', `/os-services/${h2}`, { forced_down: false })).status).toBe(200);
    }
  });
});

describe('the hypervisor detail as microversions change it', () => {
  it('gives cpu_info as a JSON string before 2.28 and as an object from it', async () => {
    expect((await admin.atVersion('2.27').get('/os-hypervisors/1')).body.hypervisor.cpu_info).toBe('{}');
    expect((await admin.atVersion('2.28').get('/os-hypervisors/1')).body.hypervisor.cpu_info).toEqual({});
    expect((await admin.atVersion('2.41').get('/os-hypervisors/detail')).body.hypervisors[0].cpu_info).toEqual({});
  });

  it('shows no servers of an empty host before 2.75, and an empty list from it', async () => {
    expect((await admin.atVersion('2.53').get('/os-hypervisors/detail?with_servers=true')).body.hypervisors[0]).not.toHaveProperty('servers');
    expect((await admin.atVersion('2.75').get('/os-hypervisors/detail?with_servers=true')).body.hypervisors[0].servers).toEqual([]);
  });

  it('answers a show by an id that is not a uuid 400 from 2.53', async () => {
    const res = await admin.atVersion('2.53').get('/os-hypervisors/1');
    expect([res.status, res.body.badRequest?.message]).toEqual([400, 'Invalid uuid 1']);
  });
});

describe('os-hosts\' update and power actions', () => {
  it('lists every host for a blank zone, as Nova filters only by a zone given', async () => {
    const names = async (query: string) => (await admin.get(`/os-hosts${query}`)).body.hosts.map((h: { host_name: string }) => h.host_name);
    expect(await names('?zone=')).toEqual(['h1', 'h2']);
    expect(await names('?zone=nova')).toEqual(['h1', 'h2']);
    expect(await names('?zone=xxx')).toEqual([]);
  });

  it('disables and enables a host for new servers through its service, in any case Nova takes', async () => {
    const off = await admin.request('PUT', '/os-hosts/h1', { status: 'DISABLE' });
    expect([off.status, off.body]).toEqual([200, { host: 'h1', status: 'disabled' }]);
    expect(await service('h1')).toEqual({ ...UP, enabled: false });
    const shown = (await admin.get('/os-services?host=h1')).body.services[0];
    expect(shown.status).toBe('disabled');
    const on = await admin.request('PUT', '/os-hosts/h1', { status: 'enable' });
    expect([on.status, on.body]).toEqual([200, { host: 'h1', status: 'enabled' }]);
    expect(await service('h1')).toEqual(UP);
  });

  it('refuses a maintenance window 501 before it sets any status, so the host is as it was', async () => {
    const res = await admin.request('PUT', '/os-hosts/h1', { status: 'disable', maintenance_mode: 'enable' });
    expect([res.status, res.body.notImplemented?.message]).toEqual([501, 'The requested functionality is not supported.']);
    expect(await service('h1')).toEqual(UP);
  });

  it('answers bad bodies 400, unknown hosts 404 and members 403, and changes nothing', async () => {
    const cases: [unknown, number][] = [
      [{ status: 'invalid', maintenance_mode: 'enable' }, 400],
      [{ status: 'enable', maintenance_mode: 'invalid' }, 400],
      // What Tempest's client sends when given neither: both null.
      [{ status: null, maintenance_mode: null }, 400],
      [{}, 400],
      [{ status: 'disable', extra: 1 }, 400],
    ];
    for (const [body, status] of cases) {
      const res = await admin.request('PUT', '/os-hosts/h1', body);
      expect([JSON.stringify(body), res.status, typeof res.body.badRequest?.message]).toEqual([JSON.stringify(body), status, 'string']);
    }
    const unknown = await admin.request('PUT', '/os-hosts/nowhere', { status: 'disable' });
    expect([unknown.status, unknown.body.itemNotFound?.message]).toEqual([404, 'Host \'nowhere\' is not mapped to any cell']);
    expect((await member.request('PUT', '/os-hosts/h1', { status: 'disable' })).status).toBe(403);
    expect((await admin.atVersion('2.43').request('PUT', '/os-hosts/h1', { status: 'disable' })).status).toBe(404);
    expect([await service('h1'), await service('h2')]).toEqual([UP, UP]);
  });

  it('refuses startup, shutdown and reboot of a simulated host 501, unknown hosts 404, members 403, and from 2.43 404', async () => {
    for (const action of ['startup', 'shutdown', 'reboot']) {
      const res = await admin.get(`/os-hosts/h2/${action}`);
      expect([action, res.status, res.body.notImplemented?.message]).toEqual([action, 501, 'The requested functionality is not supported.']);
      const unknown = await admin.get(`/os-hosts/nowhere/${action}`);
      expect([action, unknown.status, unknown.body.itemNotFound?.message]).toEqual([action, 404, 'Host \'nowhere\' is not mapped to any cell']);
      expect([action, (await member.get(`/os-hosts/h2/${action}`)).status]).toEqual([action, 403]);
      expect([action, (await admin.atVersion('2.43').get(`/os-hosts/h2/${action}`)).status]).toEqual([action, 404]);
    }
    expect(await service('h2')).toEqual(UP);
  });
});

describe('the answers Tempest checks', () => {
  it('hypervisors: list, detail, show, statistics, uptime, servers and search, as each schema version has them', async () => {
    for (const [module, version] of [['v2_1', '2.1'], ['v2_28', '2.28'], ['v2_33', '2.33'], ['v2_33', '2.41'], ['v2_53', '2.53'], ['v2_53', '2.79']] as const) {
      const v = admin.atVersion(version);
      const list = await v.get('/os-hypervisors');
      conforms(`${module}.hypervisors`, 'list_search_hypervisors', list);
      conforms(`${module}.hypervisors`, 'list_hypervisors_detail', await v.get('/os-hypervisors/detail'));
      const id = list.body.hypervisors[0].id;
      conforms(`${module}.hypervisors`, 'get_hypervisor', await v.get(`/os-hypervisors/${id}`));
      conforms(`${module}.hypervisors`, 'get_hypervisor_statistics', await v.get('/os-hypervisors/statistics'));
      conforms(`${module}.hypervisors`, 'get_hypervisor_uptime', await v.get(`/os-hypervisors/${id}/uptime`));
      if (version === '2.53' || version === '2.79') {
        conforms(`${module}.hypervisors`, 'list_search_hypervisors', await v.get('/os-hypervisors?with_servers=true'));
        conforms(`${module}.hypervisors`, 'list_hypervisors_detail', await v.get('/os-hypervisors/detail?with_servers=true&hypervisor_hostname_pattern=h'));
      } else {
        conforms(`${module}.hypervisors`, 'get_hypervisors_servers', await v.get('/os-hypervisors/h1/servers'));
        conforms(`${module}.hypervisors`, 'list_search_hypervisors', await v.get('/os-hypervisors/h/search'));
      }
    }
  });

  it('hosts: list, show and update (until 2.43)', async () => {
    conforms('v2_1.hosts', 'list_hosts', await admin.get('/os-hosts'));
    conforms('v2_1.hosts', 'get_host_detail', await admin.get('/os-hosts/h1'));
    conforms('v2_1.hosts', 'update_host', await admin.request('PUT', '/os-hosts/h1', { status: 'enable' }));
  });

  it('services: list, enable, disable with a reason, force down, and 2.53\'s update', async () => {
    conforms('v2_1.services', 'list_services', await admin.get('/os-services'));
    conforms('v2_11.services', 'list_services', await admin.atVersion('2.11').get('/os-services'));
    conforms('v2_1.services', 'disable_log_reason', await admin.request('PUT', '/os-services/disable-log-reason', { host: 'h1', binary: 'nova-compute', disabled_reason: 'schema' }));
    conforms('v2_1.services', 'enable_disable_service', await admin.request('PUT', '/os-services/enable', { host: 'h1', binary: 'nova-compute' }));
    conforms('v2_11.services', 'update_forced_down', await admin.atVersion('2.11').request('PUT', '/os-services/force-down', { host: 'h1', binary: 'nova-compute', forced_down: false }));
    const v = admin.atVersion('2.53');
    const list = await v.get('/os-services');
    conforms('v2_53.services', 'list_services', list);
    conforms('v2_53.services', 'update_service', await v.request('PUT', `/os-services/${list.body.services[0].id}`, { status: 'enabled' }));
    expect([await service('h1'), await service('h2')]).toEqual([UP, UP]);
  });

  it('aggregates: create, list, show, update, add and remove a host, set metadata, delete, before and from 2.41', async () => {
    for (const [module, version] of [['v2_1', '2.1'], ['v2_41', '2.41']] as const) {
      const v = admin.atVersion(version);
      const made = await v.post('/os-aggregates', { aggregate: { name: `schema-${version}`, availability_zone: `zone-${version.replace('.', '-')}` } });
      conforms(`${module}.aggregates`, 'create_aggregate', made);
      const id = made.body.aggregate.id;
      conforms(`${module}.aggregates`, 'list_aggregates', await v.get('/os-aggregates'));
      conforms(`${module}.aggregates`, 'get_aggregate', await v.get(`/os-aggregates/${id}`));
      conforms(`${module}.aggregates`, 'update_aggregate', await v.request('PUT', `/os-aggregates/${id}`, { aggregate: { name: `renamed-${version}` } }));
      conforms(`${module}.aggregates`, 'aggregate_add_remove_host', await v.post(`/os-aggregates/${id}/action`, { add_host: { host: 'h2' } }));
      conforms(`${module}.aggregates`, 'aggregate_set_metadata', await v.post(`/os-aggregates/${id}/action`, { set_metadata: { metadata: { k: 'v' } } }));
      conforms(`${module}.aggregates`, 'aggregate_add_remove_host', await v.post(`/os-aggregates/${id}/action`, { remove_host: { host: 'h2' } }));
      conforms(`${module}.aggregates`, 'delete_aggregate', await v.request('DELETE', `/os-aggregates/${id}`));
    }
  });
});
