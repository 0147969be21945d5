import { startRuntime, type Runtime } from '../../local/runtime.js';
import { IMAGE, IMAGE2, Nova, type NovaResponse } from '../support/nova.js';
import { tempestProblems } from '../support/tempestSchemas.js';
import { failAt } from '../support/faults.js';

// Every response body taskgate serves, over HTTP, checked against the schema Tempest holds Nova
// to (test/fixtures/tempest), at both ends of the microversion range taskgate advertises: 2.1,
// and 2.9 (with 2.3's extended attributes and 2.9's `locked`), as a user and as an admin.

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
});

it('serves flavors as Tempest expects of Nova', async () => {
  const nova = new Nova(runtime.apiUrl, `alice:${project}`);
  conforms('v2_1.flavors', 'list_flavors', await nova.get('/flavors'));
  conforms('v2_1.flavors', 'list_flavors_details', await nova.get('/flavors/detail'));
  conforms('v2_1.flavors', 'create_update_get_flavor_details', await nova.get('/flavors/2'));
  conforms('v2_1.flavors_extra_specs', 'set_get_flavor_extra_specs', await nova.get('/flavors/2/os-extra_specs'));
});

describe.each([
  ['2.1', 'v2_1.servers'],
  ['2.9', 'v2_9.servers'],
])('at microversion %s', (version, servers) => {
  const user = () => new Nova(runtime.apiUrl, `alice:${project}-${version}`).atVersion(version);
  const admin = () => user().as(`admin:${project}-${version}`);

  it('serves a server through its life, its volumes, interfaces and actions as Tempest expects', async () => {
    const nova = user();
    const created = await nova.post('/servers', { server: { name: 'schema-vm', flavorRef: '1', imageRef: IMAGE } });
    conforms('v2_1.servers', 'create_server_with_admin_pass', created);
    const id = created.body.server.id;
    conforms(servers, 'get_server', await nova.get(`/servers/${id}`)); // BUILD
    await nova.waitIdle(id);

    const volumeId = crypto.randomUUID();
    conforms(servers, 'attach_volume', await nova.post(`/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId } }));
    await nova.waitIdle(id);
    conforms(servers, 'list_volume_attachments', await nova.get(`/servers/${id}/os-volume_attachments`));
    conforms(servers, 'show_volume_attachment', await nova.get(`/servers/${id}/os-volume_attachments/${volumeId}`));

    const iface = await nova.post(`/servers/${id}/os-interface`, { interfaceAttachment: {} });
    conforms('v2_1.interfaces', 'get_create_interfaces', iface);
    await nova.waitIdle(id);
    conforms('v2_1.interfaces', 'list_interfaces', await nova.get(`/servers/${id}/os-interface`));
    const portId = iface.body.interfaceAttachment.port_id;
    conforms('v2_1.interfaces', 'get_create_interfaces', await nova.get(`/servers/${id}/os-interface/${portId}`));

    // With a volume and an address: the detail view's extended fields are all present.
    const shown = await nova.get(`/servers/${id}`);
    conforms(servers, 'get_server', shown);
    expect(shown.body.server['os-extended-volumes:volumes_attached']).toHaveLength(1);
    expect(Object.values(shown.body.server.addresses).flat()).toHaveLength(1);
    expect('locked' in shown.body.server).toBe(version === '2.9');
    conforms(servers, 'get_server', await admin().get(`/servers/${id}`));

    conforms(servers, 'list_servers', await nova.get('/servers'));
    conforms(servers, 'list_servers_detail', await nova.get('/servers/detail'));
    conforms(servers, 'list_servers_detail', await admin().get('/servers/detail'));

    const rebuilt = await nova.action(id, { rebuild: { imageRef: IMAGE2 } });
    conforms(servers, 'rebuild_server_with_admin_pass', rebuilt);
    expect(rebuilt.body.server.status).toBe('REBUILD');
    await nova.waitIdle(id);

    conforms(servers, 'detach_volume', await nova.delete(`/servers/${id}/os-volume_attachments/${volumeId}`));
    await nova.waitIdle(id);
    conforms('v2_1.interfaces', 'delete_interface', await nova.delete(`/servers/${id}/os-interface/${portId}`));
    await nova.waitIdle(id);

    const actions = await nova.get(`/servers/${id}/os-instance-actions`);
    conforms(servers, 'list_instance_actions', actions);
    expect(actions.body.instanceActions.map((a: { action: string }) => a.action)).toEqual([
      'detach_interface', 'detach_volume', 'rebuild', 'attach_interface', 'attach_volume', 'create',
    ]);
    for (const a of actions.body.instanceActions) {
      conforms(servers, 'show_instance_action', await nova.get(`/servers/${id}/os-instance-actions/${a.request_id}`));
    }
    conforms(servers, 'delete_server', await nova.delete(`/servers/${id}`));
  });

  it('paginates server lists with Nova\'s links, and shows a fault as Tempest expects', async () => {
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
