import { readInstance } from '../../functions/core/compute/readInstance.js';
import { startRuntime, type Runtime } from '../../local/runtime.js';
import { PRIVATE_NETWORK_ID } from '../../functions/core/networks/defaults.js';
import { IMAGE, IMAGE2, Nova } from '../support/nova.js';
import { seedVolumeFor } from '../support/volumes.js';

// What Tempest found taskgate doing differently from Nova (issue 12), each checked over HTTP
// against the emulators: Nova's answer for every case.

let runtime: Runtime;
let root: string;
const project = `fidelity-${Date.now().toString(36)}`;
const user = (suffix = '') => new Nova(runtime.apiUrl, `alice:${project}${suffix}`);
const admin = (suffix = '') => new Nova(runtime.apiUrl, `admin:${project}${suffix}`);
const server = (extra: Record<string, unknown> = {}) => ({ server: { name: 'vm', flavorRef: '1', imageRef: IMAGE, ...extra } });

beforeAll(async () => {
  runtime = await startRuntime({ port: 0, driver: { stepMs: 20 }, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT });
  root = runtime.apiUrl.replace(/\/v2\.1$/, '');
});
afterAll(() => runtime.stop());

const badRequest = (res: { status: number; body: any }) => {
  expect(res.status).toBe(400);
  expect(res.body.badRequest.message).toEqual(expect.any(String));
};

describe('version discovery', () => {
  it('lists v2.0 first, then v2.1 with the served range, as Nova does', async () => {
    const res = await new Nova(root, '').get('/');
    expect(res.body.versions.map((v: { id: string }) => v.id)).toEqual(['v2.0', 'v2.1']);
    expect(res.body.versions[1]).toMatchObject({ status: 'CURRENT', min_version: '2.1', version: '2.79' });
    // Every version's self link answers, as Tempest's test_get_version_details follows them.
    for (const v of res.body.versions) expect((await fetch(v.links[0].href)).status).toBe(200);
  });
});

describe('availability zones', () => {
  it('lists the one zone, nova; its hosts for administrators only', async () => {
    expect((await user().get('/os-availability-zone')).body).toEqual({
      availabilityZoneInfo: [{ zoneName: 'nova', zoneState: { available: true }, hosts: null }],
    });
    expect((await user().get('/os-availability-zone/detail')).status).toBe(403);
    const detail = await admin().get('/os-availability-zone/detail');
    expect(Object.keys(detail.body.availabilityZoneInfo[0].hosts)).toEqual(['taskgate-compute']);
  });
});

describe('flavors', () => {
  it('filters by minDisk and minRam and pages with limit and marker', async () => {
    const nova = user();
    const ids = async (q: string) => (await nova.get(`/flavors${q}`)).body.flavors.map((f: { id: string }) => f.id);
    expect(await ids('?minDisk=40')).toEqual(['3', '4', '5']);
    expect(await ids('/detail?minRam=8192')).toEqual(['4', '5']);
    expect(await ids('?minDisk=40&minRam=16384')).toEqual(['5']);
    const page = await nova.get('/flavors?limit=2');
    expect(page.body.flavors.map((f: { id: string }) => f.id)).toEqual(['1', '2']);
    expect(page.body.flavors_links[0].href).toContain('marker=2');
    expect(await ids('?marker=2&limit=2')).toEqual(['3', '4']);
    badRequest(await nova.get('/flavors?marker=nope'));
    badRequest(await nova.get('/flavors?minDisk=big'));
  });

  it('lets administrators create and delete flavors (403 for others); a server keeps its deleted flavor', async () => {
    const body = { flavor: { name: `custom-${project}`, ram: 256, vcpus: 1, disk: 2, id: `c-${project}` } };
    expect((await user().post('/flavors', body)).status).toBe(403);
    const created = await admin().post('/flavors', body);
    expect(created.status).toBe(200);
    expect(created.body.flavor).toMatchObject({ id: `c-${project}`, ram: 256, disk: 2, vcpus: 1, 'os-flavor-access:is_public': true });
    expect((await admin().post('/flavors', body)).status).toBe(409);
    const nova = user().atVersion('2.47');
    const id = await nova.createServer('on-custom', `c-${project}`);
    expect((await user().delete(`/flavors/c-${project}`)).status).toBe(403);
    expect((await admin().delete(`/flavors/c-${project}`)).status).toBe(202);
    expect((await user().get(`/flavors/c-${project}`)).status).toBe(404);
    expect((await admin().delete(`/flavors/c-${project}`)).status).toBe(404);
    const shown = await nova.waitIdle(id);
    expect(shown.flavor).toMatchObject({ original_name: `custom-${project}`, ram: 256, disk: 2 });
    badRequest(await admin().post('/flavors', { flavor: { name: 'x', ram: 0, vcpus: 1, disk: 1 } }));
  });

  it('takes a numeric flavor id, as Nova\'s flavor_manage schema does, and shows it as a string', async () => {
    const numeric = 100_000 + Math.floor(Math.random() * 800_000);
    const created = await admin().post('/flavors', { flavor: { name: `numeric-${numeric}`, ram: 128, vcpus: 1, disk: 1, id: numeric } });
    expect(created.status).toBe(200);
    expect(created.body.flavor.id).toBe(String(numeric));
    expect((await user().get(`/flavors/${numeric}`)).body.flavor.name).toBe(`numeric-${numeric}`);
    badRequest(await admin().post('/flavors', { flavor: { name: 'bad-id', ram: 128, vcpus: 1, disk: 1, id: true } }));
  });

  it('updates a description from 2.55 (admin), not before', async () => {
    const res = await admin().atVersion('2.55').request('PUT', '/flavors/1', { flavor: { description: 'tiny one' } });
    expect(res.status).toBe(200);
    expect(res.body.flavor.description).toBe('tiny one');
    expect((await admin().request('PUT', '/flavors/1', { flavor: { description: 'x' } })).status).toBe(404);
    await admin().atVersion('2.55').request('PUT', '/flavors/1', { flavor: { description: null } });
  });
});

describe('create', () => {
  it('keeps accessIPv4/v6, the requested adminPass, diskConfig and metadata', async () => {
    const nova = user();
    const res = await nova.post('/servers', server({
      accessIPv4: '192.0.2.1', accessIPv6: '2001:db8::1', adminPass: 'pw-1', 'OS-DCF:diskConfig': 'AUTO', metadata: { k: 'v' },
    }));
    expect(res.status).toBe(202);
    expect(res.body.server).toMatchObject({ adminPass: 'pw-1', 'OS-DCF:diskConfig': 'AUTO' });
    expect(await nova.waitIdle(res.body.server.id)).toMatchObject({
      accessIPv4: '192.0.2.1', accessIPv6: '2001:db8::1', 'OS-DCF:diskConfig': 'AUTO', metadata: { k: 'v' },
    });
  });

  it('stores accessIPv6 in its compact form, as Nova does', async () => {
    const nova = user('-v6');
    const res = await nova.post('/servers', server({ accessIPv6: '0000:0000:0000:0000:0000:babe:220.12.22.2' }));
    expect((await nova.get(`/servers/${res.body.server.id}`)).body.server.accessIPv6).toBe('::babe:dc0c:1602');
  });

  it.each([
    ['a NUL', 'a\u0000b'], ['a control character', 'a\u0007b'], ['a tab', 'a\tb'], ['a lone surrogate', 'a\ud800b'],
    ['leading whitespace', ' a'], ['an empty name', ''], ['256 characters', 'x'.repeat(256)],
  ])('refuses a name with %s (400)', async (_what, name) => {
    badRequest(await user().post('/servers', server({ name })));
  });

  it.each([
    ['a metadata key over 255 characters', { metadata: { ['k'.repeat(256)]: 'v' } }],
    ['a metadata value over 255 characters', { metadata: { k: 'v'.repeat(256) } }],
    ['an empty metadata key', { metadata: { '': 'v' } }],
    ['a non-string metadata value', { metadata: { k: 1 } }],
    ['an invalid network uuid', { networks: [{ uuid: 'not-a-uuid' }] }],
    ['networks that are not a list', { networks: 'auto' }],
    ['an invalid port id', { networks: [{ port: 'x' }] }],
    ['an unknown keypair', { key_name: 'no-such-key' }],
    ['an invalid accessIPv4', { accessIPv4: '1.2.3' }],
    ['an invalid accessIPv6', { accessIPv6: 'not:an:ip:x' }],
    ['min_count 0', { min_count: 0 }],
    ['max_count "abc"', { max_count: 'abc' }],
    ['min_count above max_count', { min_count: 3, max_count: 2 }],
    ['user_data that is not base64', { user_data: 'not base64!' }],
    ['an unknown availability zone', { availability_zone: 'elsewhere' }],
    ['an invalid diskConfig', { 'OS-DCF:diskConfig': 'SOMETIMES' }],
  ])('refuses %s (400), creating nothing', async (_what, extra) => {
    const nova = user('-refusals');
    badRequest(await nova.post('/servers', server(extra)));
    expect((await nova.get('/servers')).body.servers).toEqual([]);
  });

  it('refuses more metadata items than the quota (403)', async () => {
    const metadata = Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`k${i}`, 'v']));
    expect((await user().post('/servers', server({ metadata }))).status).toBe(403);
  });

  it('requires networks from 2.37 (auto, none or a list with uuids)', async () => {
    const nova = user('-237').atVersion('2.37');
    badRequest(await nova.post('/servers', server()));
    badRequest(await nova.post('/servers', server({ networks: 'some' })));
    expect((await nova.post('/servers', server({ networks: 'auto' }))).status).toBe(202);
    expect((await nova.post('/servers', server({ networks: [{ uuid: PRIVATE_NETWORK_ID }] }))).status).toBe(202);
    // A network that does not exist is Nova's 400 (NetworkNotFound), nothing created.
    const missing = crypto.randomUUID();
    const refused = await nova.post('/servers', server({ networks: [{ uuid: missing }] }));
    badRequest(refused);
    expect(refused.body.badRequest.message).toBe(`Network ${missing} could not be found.`);
  });

  it('creates min_count..max_count servers under one reservation, and returns it when asked', async () => {
    const nova = user('-multi');
    const res = await nova.post('/servers', server({ name: 'many', min_count: 2, max_count: 3, return_reservation_id: true }));
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ reservation_id: expect.stringMatching(/^r-/) });
    const listed = await nova.get(`/servers/detail?reservation_id=${res.body.reservation_id}`);
    expect(listed.body.servers.map((s: { name: string }) => s.name).sort()).toEqual(['many-1', 'many-2', 'many-3']);
    // Over the instances quota (10) even at min_count: Nova's 403 (functions/core/placement/quotas/usage.ts).
    expect((await nova.post('/servers', server({ min_count: 11, max_count: 11 }))).status).toBe(403);
  });

  it('accepts a key pair the user owns and shows its name', async () => {
    const nova = user('-kp');
    expect((await nova.post('/os-keypairs', { keypair: { name: 'mine' } })).status).toBe(200);
    const res = await nova.post('/servers', server({ key_name: 'mine' }));
    expect(res.status).toBe(202);
    expect((await nova.waitIdle(res.body.server.id)).key_name).toBe('mine');
    // Another user of the same project does not own it.
    badRequest(await nova.as(`bob:${project}-kp`).post('/servers', server({ key_name: 'mine' })));
  });
});

describe('server list filters', () => {
  let ids: Record<string, string>;
  const p = '-filters';
  beforeAll(async () => {
    const nova = user(p);
    ids = {
      tiny: await nova.createServer('f-tiny', '1', IMAGE),
      small: await nova.createServer('f-small', '2', IMAGE2),
    };
    await Promise.all(Object.values(ids).map((id) => nova.waitIdle(id)));
    await admin('-other').createServer('f-other');
  });
  const names = (res: { body: any }) => res.body.servers.map((s: { name: string }) => s.name).sort();

  it('filters by flavor and image', async () => {
    expect(names(await user(p).get('/servers?flavor=2'))).toEqual(['f-small']);
    expect(names(await user(p).get(`/servers/detail?image=${IMAGE}`))).toEqual(['f-tiny']);
  });

  it('filters by fixed address (ip, ip6 from 2.5) as Nova does: the pattern matched at the address\'s start', async () => {
    const address = async (id: string) => (await user(p).get(`/servers/${id}/ips`)).body.addresses.private[0].addr as string;
    const [tiny, small] = [await address(ids.tiny!), await address(ids.small!)];
    expect(names(await user(p).get(`/servers?ip=${tiny.replaceAll('.', '\\.')}$`))).toEqual(['f-tiny']);
    expect(names(await user(p).get(`/servers/detail?ip=${small}$`))).toEqual(['f-small']);
    expect(names(await user(p).get('/servers?ip=10\\.0\\.0\\.'))).toEqual(['f-small', 'f-tiny']);
    // re.match, not re.search: a pattern found only inside the address does not match.
    expect(names(await user(p).get(`/servers?ip=${tiny.split('.').slice(1).join('.')}$`))).toEqual([]);
    expect(names(await user(p).atVersion('2.5').get('/servers?ip6=10'))).toEqual([]);
    expect((await user(p).get('/servers?ip=(')).status).toBe(400);
  });

  it('filters by host for administrators, ignores it for users (as Nova drops their admin-only filters)', async () => {
    expect(names(await user(p).get('/servers?host=elsewhere'))).toEqual(['f-small', 'f-tiny']);
    expect(names(await admin(p).get('/servers?host=elsewhere'))).toEqual([]);
    expect(names(await admin(p).get('/servers?host=taskgate-compute'))).toEqual(['f-small', 'f-tiny']);
  });

  it('lists every project\'s servers for administrators with all_tenants (403 for users), one project with tenant_id', async () => {
    expect((await user(p).get('/servers?all_tenants=1')).status).toBe(403);
    const all = names(await admin(p).get('/servers/detail?all_tenants=1&name=^f-'));
    expect(all).toEqual(expect.arrayContaining(['f-other', 'f-small', 'f-tiny']));
    expect(names(await admin(p).get(`/servers?all_tenants=1&tenant_id=${project}${p}`))).toEqual(['f-small', 'f-tiny']);
    // tenant_id without all_tenants is ignored (Nova's lp:#1185290): the caller's own project.
    expect(names(await admin(p).get(`/servers?tenant_id=${project}-other`))).toEqual(['f-small', 'f-tiny']);
  });

  it('filters by changes-since; an invalid date is 400', async () => {
    expect(names(await user(p).get('/servers?changes-since=2000-01-01T00:00:00Z'))).toEqual(['f-small', 'f-tiny']);
    expect(names(await user(p).get('/servers?changes-since=2999-01-01T00:00:00Z'))).toEqual([]);
    badRequest(await user(p).get('/servers?changes-since=yesterday'));
  });

  it('answers limit=0 with an empty list, as Nova does', async () => {
    const res = await user(p).get('/servers?limit=0');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ servers: [] });
  });

  it('answers an unknown status with [] before 2.38 and 400 from 2.38', async () => {
    expect((await user(p).get('/servers?status=NOPE')).body).toEqual({ servers: [] });
    badRequest(await user(p).atVersion('2.38').get('/servers?status=NOPE'));
  });

  it('refuses unknown query parameters from 2.75', async () => {
    expect((await user(p).get('/servers?bogus=1')).status).toBe(200);
    badRequest(await user(p).atVersion('2.75').get('/servers?bogus=1'));
  });

  it('filters by tags (2.26) and locked (2.73)', async () => {
    const nova = user(p).atVersion('2.73');
    await nova.request('PUT', `/servers/${ids.tiny}/tags`, { tags: ['a', 'b'] });
    expect(names(await nova.get('/servers?tags=a,b'))).toEqual(['f-tiny']);
    expect(names(await nova.get('/servers?not-tags-any=a'))).toEqual(['f-small']);
    await nova.action(ids.small!, { lock: {} });
    expect(names(await nova.get('/servers?locked=true'))).toEqual(['f-small']);
    await nova.action(ids.small!, { unlock: null });
  });
});

describe('server changes', () => {
  it('rebuild renames, answers with the new image, and keeps diskConfig, metadata and access IPs', async () => {
    const nova = user('-rebuild');
    const id = await nova.createServer('before');
    await nova.waitIdle(id);
    const res = await nova.action(id, { rebuild: {
      imageRef: IMAGE2, name: 'after', metadata: { m: '1' }, 'OS-DCF:diskConfig': 'AUTO', accessIPv4: '192.0.2.9', adminPass: 'pw-2',
    } });
    expect(res.status).toBe(202);
    expect(res.body.server).toMatchObject({
      name: 'after', image: { id: IMAGE2 }, metadata: { m: '1' }, 'OS-DCF:diskConfig': 'AUTO', accessIPv4: '192.0.2.9', adminPass: 'pw-2',
    });
    expect(await nova.waitIdle(id)).toMatchObject({ name: 'after', image: { id: IMAGE2 }, 'OS-DCF:diskConfig': 'AUTO' });
    badRequest(await nova.action(id, { rebuild: { imageRef: IMAGE, name: 'tab\there' } }));
  });

  it('resize takes OS-DCF:diskConfig', async () => {
    const nova = user('-resize');
    const id = await nova.createServer('r');
    await nova.waitIdle(id);
    expect((await nova.action(id, { resize: { flavorRef: '2', 'OS-DCF:diskConfig': 'AUTO' } })).status).toBe(202);
    expect((await nova.waitIdle(id))['OS-DCF:diskConfig']).toBe('AUTO');
  });

  it('PUT /servers/{id} changes the name and access IPs; bad values are 400, unknown servers 404', async () => {
    const nova = user('-put');
    const id = await nova.createServer('old');
    const res = await nova.request('PUT', `/servers/${id}`, { server: { name: 'new', accessIPv4: '192.0.2.5', accessIPv6: '2001:db8::5' } });
    expect(res.status).toBe(200);
    expect(res.body.server).toMatchObject({ name: 'new', accessIPv4: '192.0.2.5', accessIPv6: '2001:db8::5' });
    expect((await nova.get(`/servers/${id}`)).body.server.name).toBe('new');
    badRequest(await nova.request('PUT', `/servers/${id}`, { server: { accessIPv4: 'x' } }));
    badRequest(await nova.request('PUT', `/servers/${id}`, { server: { name: '' } }));
    expect((await nova.request('PUT', `/servers/${crypto.randomUUID()}`, { server: { name: 'x' } })).status).toBe(404);
    expect((await nova.as(`mallory:${project}-else`).request('PUT', `/servers/${id}`, { server: { name: 'x' } })).status).toBe(404);
  });

  it('GET /servers/{id}/ips and /ips/{network}: by network name, the address of each port', async () => {
    const nova = user('-ips');
    const id = await nova.createServer('ips');
    await nova.waitIdle(id);
    // Before 2.37 a server naming no network gets the project's one (`private`), as Nova's auto does.
    const first = (await nova.get(`/servers/${id}/ips`)).body.addresses.private;
    expect(first).toEqual([{ version: 4, addr: expect.stringMatching(/^10\.0\.0\.\d+$/) }]);
    const iface = await nova.post(`/servers/${id}/os-interface`, { interfaceAttachment: {} });
    await nova.waitIdle(id);
    const { net_id: net, fixed_ips: [{ ip_address: ip }] } = iface.body.interfaceAttachment;
    expect(net).toBe(PRIVATE_NETWORK_ID);
    const both = [...first, { version: 4, addr: ip }];
    expect((await nova.get(`/servers/${id}/ips`)).body).toEqual({ addresses: { private: both } });
    expect((await nova.get(`/servers/${id}/ips/private`)).body).toEqual({ private: both });
    expect((await nova.get(`/servers/${id}/ips/nowhere`)).status).toBe(404);
  });

  it('server metadata: validated as Nova does, refused while a task runs (409) or the server is locked', async () => {
    const nova = user('-meta');
    const id = await nova.createServer('meta');
    // Building: no metadata change yet (Nova: vm_state building).
    expect((await nova.post(`/servers/${id}/metadata`, { metadata: { a: '1' } })).status).toBe(409);
    await nova.waitIdle(id);
    expect((await nova.post(`/servers/${id}/metadata`, { metadata: { a: '1' } })).body).toEqual({ metadata: { a: '1' } });
    badRequest(await nova.post(`/servers/${id}/metadata`, { metadata: { ['k'.repeat(256)]: '1' } }));
    badRequest(await nova.request('PUT', `/servers/${id}/metadata/a`, { meta: { b: '1' } }));
    badRequest(await nova.request('PUT', `/servers/${id}/metadata/a`, { meta: { a: '1', b: '2' } }));
    expect((await nova.get(`/servers/${id}/metadata/zzz`)).status).toBe(404);
    expect((await nova.delete(`/servers/${id}/metadata/zzz`)).status).toBe(404);
    await nova.action(id, { lock: null });
    expect((await nova.post(`/servers/${id}/metadata`, { metadata: { b: '2' } })).status).toBe(409);
    expect((await admin('-meta').post(`/servers/${id}/metadata`, { metadata: { b: '2' } })).status).toBe(200);
    await nova.action(id, { unlock: null });
    expect((await nova.get(`/servers/${id}/metadata`)).body.metadata).toEqual({ a: '1', b: '2' });
  });

  it('refuses volume attach and detach on a shelved server before 2.20 (409), admits them from 2.20', async () => {
    const nova = user('-shelved');
    const id = await nova.createServer('s');
    await nova.waitIdle(id);
    await nova.action(id, { shelve: null });
    await nova.waitIdle(id);
    const volumeId = await seedVolumeFor(runtime.table, nova);
    const refused = await nova.post(`/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId } });
    expect(refused.status).toBe(409);
    expect(refused.body.conflictingRequest.message).toBe(`Cannot 'attach_volume' instance ${id} while it is in vm_state shelved`);
    expect((await nova.atVersion('2.20').post(`/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId } })).status).toBe(200);
    await nova.waitIdle(id);
    expect((await nova.delete(`/servers/${id}/os-volume_attachments/${volumeId}`)).status).toBe(409);
    expect((await nova.atVersion('2.20').delete(`/servers/${id}/os-volume_attachments/${volumeId}`)).status).toBe(202);
  });

  it('refuses restore of a server that is not soft-deleted (409), as Nova does', async () => {
    const nova = user('-restore');
    const id = await nova.createServer('r');
    await nova.waitIdle(id);
    const res = await nova.action(id, { restore: null });
    expect(res.status).toBe(409);
    expect(res.body.conflictingRequest.message).toBe(`Cannot 'restore' instance ${id} while it is in vm_state active`);
    expect((await nova.action(crypto.randomUUID(), { restore: null })).status).toBe(404);
  });

  it('answers an unknown action on an unknown server 404, on a known one 400', async () => {
    const nova = user('-actions');
    // An action no Nova microversion has (createImage, the old example, is served now).
    expect((await nova.action(crypto.randomUUID(), { noSuchAction: { name: 'x' } })).status).toBe(404);
    const id = await nova.createServer('a');
    const unknown = await nova.action(id, { noSuchAction: { name: 'x' } });
    badRequest(unknown);
    expect(unknown.body.badRequest.message).toBe('There is no such action: noSuchAction');
  });

  it('security groups: a group Neutron does not know is Nova\'s 400 at create and 404 to add; default comes and goes', async () => {
    const nova = user('-sg');
    const before = await nova.get('/servers');
    const unknown = await nova.post('/servers', server({ security_groups: [{ name: 'does_not_exist' }] }));
    badRequest(unknown);
    expect(unknown.body.badRequest.message).toBe('Security group does_not_exist not found.');
    expect((await nova.get('/servers')).body).toEqual(before.body);

    const created = await nova.post('/servers', server({ security_groups: [{ name: 'default' }] }));
    expect(created.body.server.security_groups).toEqual([{ name: 'default' }]);
    const id = created.body.server.id;
    await nova.waitIdle(id);
    expect((await nova.get(`/servers/${id}`)).body.server.security_groups).toEqual([{ name: 'default' }]);
    expect((await nova.action(id, { addSecurityGroup: { name: 'web' } })).status).toBe(404);
    expect((await nova.action(id, { removeSecurityGroup: { name: 'default' } })).status).toBe(202);
    expect((await nova.get(`/servers/${id}`)).body.server).not.toHaveProperty('security_groups');
    const again = await nova.action(id, { removeSecurityGroup: { name: 'default' } });
    badRequest(again);
    expect(again.body.badRequest.message).toBe(`Security group default not associated with the instance ${id}`);
    expect((await nova.action(id, { addSecurityGroup: { name: 'default' } })).status).toBe(202);
    expect((await nova.action(id, { addSecurityGroup: { name: 'default' } })).status).toBe(202);
    expect((await nova.get(`/servers/${id}`)).body.server.security_groups).toEqual([{ name: 'default' }]);
    badRequest(await nova.action(id, { addSecurityGroup: {} }));
    expect((await nova.action(crypto.randomUUID(), { addSecurityGroup: { name: 'default' } })).status).toBe(404);
  });

  it('security groups: a group made through Neutron is named at create, added and removed; another project\'s is not found', async () => {
    const nova = user('-sg2');
    const neutron = new Nova(`${root}/network/v2.0`, nova.token);
    const web = await neutron.post('/security-groups', { security_group: { name: 'web' } });
    expect(web.status).toBe(201);
    const created = await nova.post('/servers', server({ security_groups: [{ name: 'web' }] }));
    expect(created.status).toBe(202);
    const id = created.body.server.id;
    await nova.waitIdle(id);
    expect((await nova.get(`/servers/${id}`)).body.server.security_groups).toEqual([{ name: 'web' }]);
    expect((await nova.action(id, { addSecurityGroup: { name: 'default' } })).status).toBe(202);
    expect((await nova.action(id, { removeSecurityGroup: { name: 'web' } })).status).toBe(202);
    // By id too, as Nova passes a name or an id to Neutron.
    expect((await nova.action(id, { addSecurityGroup: { name: web.body.security_group.id } })).status).toBe(202);
    expect((await nova.get(`/servers/${id}`)).body.server.security_groups).toEqual([{ name: 'default' }, { name: 'web' }]);
    const other = user('-sg3');
    expect((await other.post('/servers', server({ security_groups: [{ name: 'web' }] }))).status).toBe(400);
  });

  it('a second DELETE while deleting answers 204 and takes no second claim', async () => {
    const rt = await startRuntime({ port: 0, driver: { stepMs: 300 }, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT });
    try {
      const nova = new Nova(rt.apiUrl, `alice:${project}-del`);
      const id = await nova.createServer('del');
      await nova.waitIdle(id);
      expect((await nova.delete(`/servers/${id}`)).status).toBe(204);
      const { table } = rt;
      const first = await readInstance(table, id);
      expect(first?.taskState).toBe('deleting');
      expect((await nova.delete(`/servers/${id}`)).status).toBe(204);
      const second = await readInstance(table, id);
      expect(second?.claim?.requestId).toBe(first?.claim?.requestId);
      expect(second?.version).toBe(first?.version);
      await nova.waitGone(id);
      expect((await nova.delete(`/servers/${id}`)).status).toBe(404);
    } finally {
      await rt.stop();
    }
  });
});

describe('keypairs', () => {
  it('creates (generating), imports, lists, shows and deletes per user; 2.2 adds the type and 201/204', async () => {
    // Key pairs belong to a user, whatever the project: this test's user owns no others.
    const nova = new Nova(runtime.apiUrl, `kim:${project}-keys`);
    const made = await nova.post('/os-keypairs', { keypair: { name: 'gen' } });
    expect(made.status).toBe(200);
    expect(made.body.keypair).toMatchObject({ name: 'gen', public_key: expect.stringMatching(/^ssh-rsa /), private_key: expect.any(String) });
    expect(made.body.keypair.fingerprint).toMatch(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
    const v22 = nova.atVersion('2.2');
    const imported = await v22.post('/os-keypairs', { keypair: { name: 'imp', public_key: made.body.keypair.public_key } });
    expect(imported.status).toBe(201);
    expect(imported.body.keypair).toMatchObject({ type: 'ssh', fingerprint: made.body.keypair.fingerprint });
    expect(imported.body.keypair.private_key).toBeUndefined();
    expect((await nova.post('/os-keypairs', { keypair: { name: 'gen' } })).status).toBe(409);
    badRequest(await nova.post('/os-keypairs', { keypair: { name: 'bad', public_key: 'ssh-rsa bm90IGEga2V5' } }));
    badRequest(await nova.post('/os-keypairs', { keypair: { name: 'b@d!' } }));
    expect((await nova.get('/os-keypairs')).body.keypairs.map((k: any) => k.keypair.name)).toEqual(['gen', 'imp']);
    expect((await nova.as(`bob-${project}:${project}-keys`).get('/os-keypairs')).body.keypairs).toEqual([]);
    expect((await nova.as(`bob-${project}:${project}-keys`).get('/os-keypairs/gen')).status).toBe(404);
    const page = await nova.atVersion('2.35').get('/os-keypairs?limit=1');
    expect(page.body.keypairs).toHaveLength(1);
    expect(page.body.keypairs_links[0].href).toContain('marker=gen');
    expect((await nova.get('/os-keypairs/gen')).body.keypair).toMatchObject({ name: 'gen', user_id: 'kim', deleted: false });
    expect((await nova.delete('/os-keypairs/gen')).status).toBe(202);
    expect((await v22.delete('/os-keypairs/imp')).status).toBe(204);
    expect((await nova.delete('/os-keypairs/imp')).status).toBe(404);
  });

  it('generates an x509 key pair (a self-signed certificate) when none is imported, before 2.92', async () => {
    const nova = new Nova(runtime.apiUrl, `x509-${project}:${project}-x509`).atVersion('2.2');
    const res = await nova.post('/os-keypairs', { keypair: { name: 'cert', type: 'x509' } });
    expect(res.status).toBe(201);
    expect(res.body.keypair).toMatchObject({ type: 'x509', public_key: expect.stringMatching(/^-----BEGIN CERTIFICATE-----/) });
    expect(res.body.keypair.fingerprint).toMatch(/^([0-9a-f]{2}:){19}[0-9a-f]{2}$/);
    const again = await nova.post('/os-keypairs', { keypair: { name: 'cert2', type: 'x509', public_key: res.body.keypair.public_key } });
    expect(again.body.keypair.fingerprint).toBe(res.body.keypair.fingerprint);
    badRequest(await nova.post('/os-keypairs', { keypair: { name: 'bad', type: 'x509', public_key: 'not a certificate' } }));
  });

  it('lets an administrator act on another user\'s key pairs from 2.10', async () => {
    const nova = user('-keys10');
    await nova.post('/os-keypairs', { keypair: { name: 'k' } });
    const a = admin('-keys10').atVersion('2.10');
    expect((await a.get('/os-keypairs?user_id=alice')).body.keypairs.map((k: any) => k.keypair.name)).toContain('k');
    expect((await nova.atVersion('2.10').get('/os-keypairs?user_id=admin')).status).toBe(403);
  });
});
