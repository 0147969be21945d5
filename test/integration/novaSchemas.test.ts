import { startRuntime, type Runtime } from '../../local/runtime.js';
import { IMAGE, IMAGE2, Nova, type NovaResponse } from '../support/nova.js';
import { tempestProblems } from '../support/tempestSchemas.js';
import { failAt } from '../support/faults.js';
import { seedVolumeFor } from '../support/volumes.js';

// Every response body taskgate serves, over HTTP, checked against the schema Tempest holds Nova
// to (test/fixtures/tempest), at every microversion where one of those schemas changes, as a user
// and as an admin.

let runtime: Runtime;
let root: string;
const project = `schemas-${Date.now().toString(36)}`;

beforeAll(async () => {
  // A pause fails, so that a server can carry a fault and an action an error event.
  runtime = await startRuntime({
    port: 0, driver: { stepMs: 20, beforeStep: failAt('pause', 'pause') },
    dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT,
  });
  root = runtime.apiUrl.replace(/\/v2\.1$/, '');
});
afterAll(() => runtime.stop());

function conforms(module: string, name: string, res: NovaResponse) {
  const problems = tempestProblems(module, name, res);
  if (problems.length > 0) throw new Error(`${module}.${name}: ${problems.join('; ')}\n${JSON.stringify(res.body, null, 1)}`);
}

it('answers version discovery as Tempest expects of Nova', async () => {
  const anonymous = new Nova(root, '');
  conforms('v2_1.versions', 'list_versions', await anonymous.get('/'));
  conforms('v2_1.versions', 'get_one_version', await anonymous.get('/v2.1/'));
  conforms('v2_1.versions', 'get_one_version', await anonymous.get('/v2.1'));
  conforms('v2_1.versions', 'get_one_version', await anonymous.get('/v2/'));
});

it('serves flavors as Tempest expects of Nova', async () => {
  const nova = new Nova(runtime.apiUrl, `alice:${project}`);
  conforms('v2_1.flavors', 'list_flavors', await nova.get('/flavors'));
  conforms('v2_1.flavors', 'list_flavors_details', await nova.get('/flavors/detail'));
  conforms('v2_1.flavors', 'create_update_get_flavor_details', await nova.get('/flavors/2'));
  conforms('v2_1.flavors_extra_specs', 'set_get_flavor_extra_specs', await nova.get('/flavors/2/os-extra_specs'));
  conforms('v2_1.availability_zone', 'list_availability_zone_list', await nova.get('/os-availability-zone'));
  conforms('v2_1.availability_zone', 'list_availability_zone_list_detail', await nova.as(`admin:${project}`).get('/os-availability-zone/detail'));
});

/**
 * Every microversion at which Tempest redefines a schema of a resource taskgate serves (servers,
 * server actions and attachments, instance actions, interfaces, flavors, keypairs), and 2.1.
 * In between, the schemas are those of the version before (Tempest copies them forward).
 */
const VERSIONS = ['2.1', '2.2', '2.3', '2.9', '2.16', '2.19', '2.26', '2.47', '2.51', '2.54', '2.55', '2.57', '2.58',
  '2.61', '2.62', '2.63', '2.70', '2.71', '2.73', '2.75', '2.79'];

const SSH_KEY = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDx8nkQv/zgGgB4rMYmIf+6A4l6Rr+o/6lHBQdW5aPa'
  + 'yhAQYHJ2Bd7w2I8Bqe+sy8PoI8Z86xtR5wu8BfQxrm9e4dMqvLaP+NEW3hF0I7Yw6Bn8aB1YpH3P3/HnHzZeLtZB5s'
  + 'Nz2Kr8n1xXMP/JvKxzNRw6oZa0Q0eHQ6gVkJYKMpbWoGjWvDsfvRlVB3JkH0Wt1hMPRtVwYfw== alice@example';

describe.each(VERSIONS)('at microversion %s', (version) => {
  const minor = Number(version.split('.')[1]);
  const at = (v: number) => minor >= v;
  const servers = `v2_${minor}.servers`;
  const user = () => new Nova(runtime.apiUrl, `alice:${project}-${version}`).atVersion(version);
  const admin = () => user().as(`admin:${project}-${version}`);

  it('serves a server through its life, its volumes, interfaces, metadata, tags and actions as Tempest expects', async () => {
    const nova = user();
    const key = await nova.post('/os-keypairs', { keypair: { name: `k-${minor}`, public_key: SSH_KEY } });
    conforms(`v2_${minor}.keypairs`, 'create_keypair', key);
    const created = await nova.post('/servers', {
      server: {
        name: 'schema-vm', flavorRef: '1', imageRef: IMAGE, metadata: { role: 'web' }, key_name: `k-${minor}`,
        accessIPv4: '192.0.2.10', accessIPv6: '2001:db8::10', 'OS-DCF:diskConfig': 'AUTO', adminPass: 'secret-pass',
        ...(at(37) ? { networks: 'none' } : {}), ...(at(52) ? { tags: ['blue'] } : {}),
        ...(at(19) ? { description: 'a server' } : {}),
      },
    });
    conforms(servers, 'create_server_with_admin_pass', created);
    expect(created.body.server.adminPass).toBe('secret-pass');
    const id = created.body.server.id;
    conforms(servers, 'get_server', await nova.get(`/servers/${id}`)); // BUILD
    const idle = await nova.waitIdle(id);
    expect(idle).toMatchObject({
      metadata: { role: 'web' }, accessIPv4: '192.0.2.10', accessIPv6: '2001:db8::10', 'OS-DCF:diskConfig': 'AUTO',
      key_name: `k-${minor}`,
    });
    if (at(47)) expect(idle.flavor).toEqual({ vcpus: 1, ram: 512, disk: 1, ephemeral: 0, swap: 0, original_name: 'm1.tiny', extra_specs: {} });
    if (at(52)) expect(idle.tags).toEqual(['blue']);

    const updated = await nova.request('PUT', `/servers/${id}`, { server: { name: 'schema-vm-2', accessIPv4: '192.0.2.11' } });
    conforms(servers, 'update_server', updated);
    expect(updated.body.server).toMatchObject({ name: 'schema-vm-2', accessIPv4: '192.0.2.11' });
    expect('OS-EXT-STS:vm_state' in updated.body.server).toBe(at(75));

    const volumeId = await seedVolumeFor(runtime.table, nova);
    conforms(servers, 'attach_volume', await nova.post(`/servers/${id}/os-volume_attachments`, {
      volumeAttachment: { volumeId, ...(at(49) ? { tag: 'data' } : {}), ...(at(79) ? { delete_on_termination: true } : {}) },
    }));
    await nova.waitIdle(id);
    conforms(servers, 'list_volume_attachments', await nova.get(`/servers/${id}/os-volume_attachments`));
    const attachment = await nova.get(`/servers/${id}/os-volume_attachments/${volumeId}`);
    conforms(servers, 'show_volume_attachment', attachment);
    if (at(70)) expect(attachment.body.volumeAttachment.tag).toBe('data');
    if (at(79)) expect(attachment.body.volumeAttachment.delete_on_termination).toBe(true);

    const interfaces = `v2_${minor}.interfaces`;
    const iface = await nova.post(`/servers/${id}/os-interface`, { interfaceAttachment: {} });
    conforms(interfaces, 'get_create_interfaces', iface);
    await nova.waitIdle(id);
    conforms(interfaces, 'list_interfaces', await nova.get(`/servers/${id}/os-interface`));
    const portId = iface.body.interfaceAttachment.port_id;
    conforms(interfaces, 'get_create_interfaces', await nova.get(`/servers/${id}/os-interface/${portId}`));
    const addresses = await nova.get(`/servers/${id}/ips`);
    conforms(servers, 'list_addresses', addresses);
    const [network] = Object.keys(addresses.body.addresses);
    conforms(servers, 'list_addresses_by_network', await nova.get(`/servers/${id}/ips/${network}`));

    // With a volume and an address: the detail view's extended fields are all present.
    const shown = await nova.get(`/servers/${id}`);
    conforms(servers, 'get_server', shown);
    expect(shown.body.server['os-extended-volumes:volumes_attached']).toHaveLength(1);
    // Before 2.37 the server got the project's network at create (networks unset is `auto`); from 2.37 it asked for none.
    expect(Object.values(shown.body.server.addresses).flat()).toHaveLength(at(37) ? 1 : 2);
    expect('locked' in shown.body.server).toBe(at(9));
    const asAdmin = await admin().get(`/servers/${id}`);
    conforms(servers, 'get_server', asAdmin);
    expect('host_status' in asAdmin.body.server).toBe(at(16));

    conforms(servers, 'list_server_metadata', await nova.get(`/servers/${id}/metadata`));
    conforms(servers, 'set_server_metadata', await nova.request('PUT', `/servers/${id}/metadata`, { metadata: { a: '1', b: '2' } }));
    conforms(servers, 'update_server_metadata', await nova.post(`/servers/${id}/metadata`, { metadata: { c: '3' } }));
    conforms(servers, 'set_show_server_metadata_item', await nova.request('PUT', `/servers/${id}/metadata/d`, { meta: { d: '4' } }));
    conforms(servers, 'set_show_server_metadata_item', await nova.get(`/servers/${id}/metadata/d`));
    conforms(servers, 'delete_server_metadata_item', await nova.delete(`/servers/${id}/metadata/a`));
    expect((await nova.get(`/servers/${id}/metadata`)).body.metadata).toEqual({ b: '2', c: '3', d: '4' });

    if (at(26)) {
      conforms(servers, 'update_all_tags', await nova.request('PUT', `/servers/${id}/tags`, { tags: ['x', 'y'] }));
      conforms(servers, 'update_tag', await nova.request('PUT', `/servers/${id}/tags/z`));
      conforms(servers, 'check_tag_existence', await nova.get(`/servers/${id}/tags/z`));
      conforms(servers, 'delete_tag', await nova.delete(`/servers/${id}/tags/x`));
      conforms(servers, 'list_tags', await nova.get(`/servers/${id}/tags`));
      expect((await nova.get(`/servers/${id}/tags`)).body.tags).toEqual(['y', 'z']);
      conforms(servers, 'delete_all_tags', await nova.delete(`/servers/${id}/tags`));
    }

    conforms(servers, 'list_servers', await nova.get('/servers'));
    conforms(servers, 'list_servers_detail', await nova.get('/servers/detail'));
    conforms(servers, 'list_servers_detail', await admin().get('/servers/detail'));
    conforms(servers, 'list_servers_detail', await admin().get('/servers/detail?all_tenants=1'));

    if (at(73)) {
      expect((await nova.action(id, { lock: { locked_reason: 'maintenance' } })).status).toBe(202);
      const locked = await nova.get(`/servers/${id}`);
      conforms(servers, 'get_server', locked);
      expect(locked.body.server).toMatchObject({ locked: true, locked_reason: 'maintenance' });
      expect((await nova.action(id, { unlock: null })).status).toBe(202);
    }

    const rebuilt = await nova.action(id, { rebuild: { imageRef: IMAGE2, name: 'rebuilt', ...(at(57) ? { user_data: 'aGVsbG8=' } : {}) } });
    conforms(servers, 'rebuild_server_with_admin_pass', rebuilt);
    expect(rebuilt.body.server).toMatchObject({ status: 'REBUILD', name: 'rebuilt', image: { id: IMAGE2 } });
    await nova.waitIdle(id);

    conforms(servers, 'detach_volume', await nova.delete(`/servers/${id}/os-volume_attachments/${volumeId}`));
    await nova.waitIdle(id);
    conforms(interfaces, 'delete_interface', await nova.delete(`/servers/${id}/os-interface/${portId}`));
    await nova.waitIdle(id);

    const actions = await nova.get(`/servers/${id}/os-instance-actions`);
    // Tempest checks the list with its 2.1 schema only; Nova adds updated_at from 2.58.
    if (!at(58)) conforms(servers, 'list_instance_actions', actions);
    expect(actions.body.instanceActions.every((a: object) => 'updated_at' in a)).toBe(at(58));
    expect(actions.body.instanceActions.map((a: { action: string }) => a.action)).toEqual([
      'detach_interface', 'detach_volume', 'rebuild', 'attach_interface', 'attach_volume', 'create',
    ]);
    for (const who of [nova, admin()]) {
      for (const a of actions.body.instanceActions) {
        conforms(servers, 'show_instance_action', await who.get(`/servers/${id}/os-instance-actions/${a.request_id}`));
      }
    }

    const keypairs = `v2_${minor}.keypairs`;
    conforms(keypairs, 'list_keypairs', await nova.get('/os-keypairs'));
    conforms(keypairs, 'get_keypair', await nova.get(`/os-keypairs/k-${minor}`));
    conforms(keypairs, 'delete_keypair', await nova.delete(`/os-keypairs/k-${minor}`));

    const flavors = `v2_${minor}.flavors`;
    conforms(flavors, 'list_flavors', await nova.get('/flavors'));
    conforms(flavors, 'list_flavors_details', await nova.get('/flavors/detail'));
    conforms(flavors, 'create_update_get_flavor_details', await nova.get('/flavors/2'));

    conforms(servers, 'delete_server', await nova.delete(`/servers/${id}`));
  });

  // The fault and paging checks at the versions that change them (2.51 traceback, 2.62 event host).
  if (['2.1', '2.9', '2.51', '2.62', '2.79'].includes(version)) it('paginates server lists with Nova\'s links, and shows a fault as Tempest expects', async () => {
    const nova = user();
    const ids = [await nova.createServer('page-a'), await nova.createServer('page-b')];
    await Promise.all(ids.map((id) => nova.waitIdle(id)));

    const page = await nova.get('/servers?limit=1');
    conforms(servers, 'list_servers', page);
    expect(page.body.servers_links).toEqual([{ rel: 'next', href: expect.stringContaining(`marker=${page.body.servers[0].id}`) }]);
    conforms(servers, 'list_servers_detail', await nova.get('/servers/detail?limit=1'));
    const next = await nova.get(`/servers?limit=1&marker=${page.body.servers[0].id}`);
    expect(next.body.servers.map((s: { id: string }) => s.id)).toEqual(ids.filter((i) => i !== page.body.servers[0].id));
    // Nova's answers to paging it cannot do: 400, not 404.
    expect((await nova.get(`/servers?marker=${crypto.randomUUID()}`)).body).toEqual({
      badRequest: { code: 400, message: expect.stringMatching(/^marker \[.*\] not found$/) },
    });
    expect((await nova.get('/servers?limit=-1')).body.badRequest.message).toBe('limit param must be positive');
    expect((await nova.get('/servers?limit=x')).body.badRequest.message).toBe('limit param must be an integer');

    // A failed pause leaves a fault and an errored action; an admin resets the server to error.
    const [id] = ids as [string];
    expect((await nova.action(id, { pause: null })).status).toBe(202);
    await nova.waitIdle(id);
    expect((await admin().action(id, { 'os-resetState': { state: 'error' } })).status).toBe(202);
    for (const who of [nova, admin()]) {
      const shown = await who.get(`/servers/${id}`);
      conforms(servers, 'get_server', shown);
      expect(shown.body.server).toMatchObject({ status: 'ERROR', fault: { code: 500, message: expect.any(String) } });
      const actions = await who.get(`/servers/${id}/os-instance-actions`);
      const pause = actions.body.instanceActions.find((a: { action: string }) => a.action === 'pause');
      const detail = await who.get(`/servers/${id}/os-instance-actions/${pause.request_id}`);
      conforms(servers, 'show_instance_action', detail);
      expect(detail.body.instanceAction.events[0].result).toBe('Error');
      // From 2.51 only administrators see the traceback.
      expect('traceback' in detail.body.instanceAction.events[0]).toBe(!at(51) || who.token.startsWith('admin'));
    }
  });
});

it('would catch a missing or mistyped field (the check can fail)', async () => {
  const nova = new Nova(runtime.apiUrl, `alice:${project}-neg`).atVersion('2.9');
  const id = await nova.createServer('neg');
  const res = await nova.get(`/servers/${id}`);
  conforms('v2_9.servers', 'get_server', res);
  const { created: _created, ...missing } = res.body.server;
  expect(tempestProblems('v2_9.servers', 'get_server', { status: 200, body: { server: missing } }).join()).toMatch(/created/);
  const mistyped = { ...res.body.server, locked: 'no' };
  expect(tempestProblems('v2_9.servers', 'get_server', { status: 200, body: { server: mistyped } }).join()).toMatch(/locked/);
  // At 2.1 Nova has no `locked`: the 2.9 body does not pass as a 2.1 body.
  expect(tempestProblems('v2_1.servers', 'get_server', res).join()).toMatch(/additional/);
  await nova.waitIdle(id);
});
