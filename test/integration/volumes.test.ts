import { PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { seedInstance } from '../support/emulators.js';
import { gate, startVolumeApi, type VolumeApi } from '../support/volumeApi.js';

// Cinder's Block Storage API v3 over real HTTP on the emulators: each resource, its policies
// (reader, member, administrator, another project), its errors in Cinder's shapes with nothing
// written, and the volume's status through Nova's attach and detach, each held at its step.

let api: VolumeApi;
beforeAll(async () => { api = await startVolumeApi(); });
afterAll(() => api.stop());

async function tableItems(): Promise<unknown[]> {
  const out = await api.table.db.send(new ScanCommand({ TableName: api.table.name, ConsistentRead: true }));
  return (out.Items ?? []).sort((a, b) => `${a.pk}|${a.sk}`.localeCompare(`${b.pk}|${b.sk}`));
}

const project = () => `p-${crypto.randomUUID().slice(0, 8)}`;

describe('version discovery and microversions', () => {
  it('lists v3 without a token, at /volume (300) and /volume/v3 (200)', async () => {
    const anonymous = api.cinder('');
    const root = await anonymous.get('/volume');
    expect(root.status).toBe(300);
    expect(root.body.versions).toEqual([expect.objectContaining({
      id: 'v3.0', status: 'CURRENT', version: '3.70', min_version: '3.0',
      links: expect.arrayContaining([{ rel: 'self', href: `${api.root}/volume/v3/` }]),
    })]);
    expect((await anonymous.get('/volume/v3/')).status).toBe(200);
    expect((await anonymous.get('/volume/v3/demo/volumes')).status).toBe(401);
  });

  it('answers at 3.0 unless asked, at the version asked within 3.0-3.70, 406 outside, 400 for nonsense', async () => {
    const cinder = api.cinder(`alice:${project()}`);
    const plain = await cinder.get('/volumes');
    expect([plain.status, plain.headers.get('openstack-api-version')]).toEqual([200, 'volume 3.0']);
    expect((await cinder.atVersion('3.70').get('/volumes')).headers.get('openstack-api-version')).toBe('volume 3.70');
    expect((await cinder.atVersion('latest').get('/volumes')).headers.get('openstack-api-version')).toBe('volume 3.70');
    const tooNew = await cinder.atVersion('3.71').get('/volumes');
    expect([tooNew.status, tooNew.body]).toEqual([406, { computeFault: { code: 406,
      message: 'Version 3.71 is not supported by the API. Minimum is 3.0 and maximum is 3.70.' } }]);
    expect((await cinder.atVersion('2.1').get('/volumes')).status).toBe(406);
    expect((await cinder.atVersion('3.x').get('/volumes')).status).toBe(400);
    // Nova's microversion header means nothing to Cinder.
    const novaOnly = await cinder.request('GET', '/volumes', undefined, { 'OpenStack-API-Version': 'compute 2.79' });
    expect(novaOnly.headers.get('openstack-api-version')).toBe('volume 3.0');
  });
});

describe('volumes', () => {
  it('creates, shows, lists, updates and deletes a volume, as Cinder shows it', async () => {
    const p = project();
    const cinder = api.cinder(`alice:${p}`);
    const made = await cinder.post('/volumes', { volume: { size: '2', name: ' data ', description: 'd', metadata: { tier: 'gold' } } });
    expect(made.status).toBe(202);
    const id = made.body.volume.id;
    expect(made.body.volume).toMatchObject({
      id, status: 'available', size: 2, name: 'data', description: 'd', metadata: { tier: 'gold' }, availability_zone: 'nova',
      volume_type: '__DEFAULT__', multiattach: false, attachments: [], bootable: 'false', encrypted: false, user_id: 'alice',
      links: [{ rel: 'self', href: `${api.root}/volume/v3/${p}/volumes/${id}` }, { rel: 'bookmark', href: `${api.root}/volume/${p}/volumes/${id}` }],
    });
    // Cinder's tenant attribute extends show and detail only: a create's or an update's answer has
    // none (Tempest's create_volume and update_volume schemas refuse it).
    expect(made.body.volume).not.toHaveProperty('os-vol-tenant-attr:tenant_id');
    const shown = { volume: { ...made.body.volume, 'os-vol-tenant-attr:tenant_id': p } };
    expect((await cinder.get(`/volumes/${id}`)).body).toEqual(shown);
    expect((await cinder.atVersion('3.63').get(`/volumes/${id}`)).body.volume.volume_type_id).toBeDefined();
    expect((await cinder.get('/volumes')).body).toEqual({ volumes: [{ id, name: 'data', links: made.body.volume.links }] });
    expect((await cinder.get('/volumes/detail')).body.volumes).toEqual([shown.volume]);

    const renamed = await cinder.request('PUT', `/volumes/${id}`, { volume: { name: 'logs', metadata: { tier: 'silver' } } });
    expect([renamed.status, renamed.body.volume.name, renamed.body.volume.metadata, renamed.body.volume.description])
      .toEqual([200, 'logs', { tier: 'silver' }, 'd']);
    expect(renamed.body.volume).not.toHaveProperty('os-vol-tenant-attr:tenant_id');

    expect((await cinder.delete(`/volumes/${id}`)).status).toBe(202);
    expect(await cinder.get(`/volumes/${id}`)).toMatchObject({ status: 404, body: { itemNotFound: { code: 404, message: `Volume ${id} could not be found.` } } });
    expect((await cinder.get(`/os-quota-sets/${p}?usage=True`)).body.quota_set).toMatchObject({
      volumes: { limit: 10, in_use: 0 }, gigabytes: { limit: 1000, in_use: 0 },
    });
  });

  it('filters by name, status and metadata, sorts, and pages with marker, limit and volumes_links', async () => {
    const p = project();
    const cinder = api.cinder(`alice:${p}`);
    const ids: string[] = [];
    for (const [i, name] of ['c', 'a', 'b', 'a'].entries()) ids.push(await cinder.create({ name, metadata: { n: String(i) } }));
    expect((await cinder.get('/volumes?name=a')).body.volumes.map((v: { id: string }) => v.id).sort()).toEqual([ids[1], ids[3]].sort());
    expect((await cinder.get(`/volumes/detail?metadata=${encodeURIComponent("{'n': '2'}")}`)).body.volumes.map((v: { id: string }) => v.id)).toEqual([ids[2]]);
    expect((await cinder.get('/volumes?status=in-use')).body.volumes).toEqual([]);
    const byName = (await cinder.get('/volumes?sort=name:asc,created_at:asc')).body.volumes.map((v: { id: string }) => v.id);
    expect(byName).toEqual([ids[1], ids[3], ids[2], ids[0]]);
    // Newest first by default; two a page, each with the link to the next.
    const first = await cinder.get('/volumes?limit=2');
    expect(first.body.volumes.map((v: { id: string }) => v.id)).toEqual([ids[3], ids[2]]);
    const next = first.body.volumes_links[0];
    expect(next).toEqual({ rel: 'next', href: `${api.root}/volume/v3/${p}/volumes?limit=2&marker=${ids[2]}` });
    const second = await cinder.get(next.href.slice(api.root.length));
    expect(second.body.volumes.map((v: { id: string }) => v.id)).toEqual([ids[1], ids[0]]);
    expect((await cinder.get(`/volumes?limit=2&marker=${ids[0]}`)).body).toEqual({ volumes: [] });
    expect((await cinder.get(`/volumes?marker=${crypto.randomUUID()}`)).status).toBe(404);
    expect((await cinder.get('/volumes?limit=x')).body).toEqual({ badRequest: { code: 400, message: 'limit param must be an integer' } });
    expect((await cinder.get('/volumes?sort=bogus')).status).toBe(400);
  });

  it('extends an available volume (and an in-use one from 3.42), charging the growth', async () => {
    const p = project();
    const cinder = api.cinder(`alice:${p}`);
    const id = await cinder.create({ size: 1 });
    expect((await cinder.post(`/volumes/${id}/action`, { 'os-extend': { new_size: 3 } })).status).toBe(202);
    expect((await cinder.get(`/volumes/${id}`)).body.volume).toMatchObject({ size: 3, status: 'available' });
    expect((await cinder.post(`/volumes/${id}/action`, { 'os-extend': { new_size: 3 } })).body).toEqual({ badRequest: { code: 400,
      message: 'Invalid input received: New size for extend must be greater than current size. (current: 3, extended: 3).' } });
    expect((await cinder.get(`/os-quota-sets/${p}?usage=True`)).body.quota_set.gigabytes.in_use).toBe(3);
    const over = await cinder.post(`/volumes/${id}/action`, { 'os-extend': { new_size: 1001 } });
    expect([over.status, over.body]).toEqual([413, { overLimit: { code: 413,
      message: 'Requested volume or snapshot exceeds allowed gigabytes quota. Requested 998G, quota is 1000G and 3G has been consumed.' } }]);
    expect((await cinder.get(`/volumes/${id}`)).body.volume.size).toBe(3);
  });

  it('lists the types, __DEFAULT__ and multiattach, and makes a multiattach volume of the latter', async () => {
    const cinder = api.cinder(`alice:${project()}`);
    const types = (await cinder.get('/types')).body.volume_types;
    expect(types.map((t: { name: string }) => t.name)).toEqual(['__DEFAULT__', 'multiattach']);
    expect(types[1].extra_specs).toEqual({ multiattach: '<is> True' });
    expect((await cinder.get('/types/default')).body.volume_type.name).toBe('__DEFAULT__');
    expect((await cinder.get('/types/multiattach')).body.volume_type.id).toBe(types[1].id);
    const made = await cinder.post('/volumes', { volume: { size: 1, volume_type: 'multiattach' } });
    expect(made.body.volume).toMatchObject({ multiattach: true, volume_type: 'multiattach' });
  });
});

describe('bad input: Cinder\'s 400 (or 404), nothing written', () => {
  it.each([
    [{ volume: { name: 'x' } }, 400, /Invalid volume size provided for create request: None/],
    [{ volume: { size: 0 } }, 400, /size\. Value: 0\. 0 is less than the minimum of 1/],
    [{ volume: { size: 'big' } }, 400, /Invalid input for field\/attribute size/],
    [{ volume: { size: 1, multiattach: true } }, 400, /^multiattach parameter has been removed/],
    [{ volume: { size: 1, volume_type: 'gold' } }, 404, /^Volume type with name gold could not be found\.$/],
    [{ volume: { size: 1, availability_zone: 'mars' } }, 400, /^Availability zone 'mars' is invalid\.$/],
    [{ volume: { size: 1, snapshot_id: crypto.randomUUID() } }, 400, /snapshot_id is not supported/],
    [{ volume: { size: 1, metadata: { k: 1 } } }, 400, /metadata\/k/],
    [{ size: 1 }, 400, /Additional properties are not allowed \('size' was unexpected\)/],
    [[], 400, /is not of type 'object'/],
    ['{', 400, /Malformed request body/],
  ])('create %j: %i', async (body, status, message) => {
    const cinder = api.cinder(`alice:${project()}`);
    const before = await tableItems();
    const res = await cinder.post('/volumes', body);
    expect(res.status).toBe(status);
    expect(Object.keys(res.body)).toEqual([status === 404 ? 'itemNotFound' : 'badRequest']);
    expect(Object.values(res.body as Record<string, { message: string }>)[0]!.message).toMatch(message);
    expect(await tableItems()).toEqual(before);
  });

  it('refuses bad actions and bad updates with 400, a volume that is not one with 404', async () => {
    const cinder = api.cinder(`alice:${project()}`);
    const id = await cinder.create();
    const before = await tableItems();
    for (const body of [{ 'os-extend': {} }, { 'os-extend': { new_size: 'x' } }, { 'os-frobnicate': {} }, {}, { 'os-extend': { new_size: 2 }, 'os-reset_status': {} }]) {
      expect([body, (await cinder.post(`/volumes/${id}/action`, body)).status]).toEqual([body, 400]);
    }
    expect((await cinder.atVersion('3.53').request('PUT', `/volumes/${id}`, { volume: { size: 9 } })).status).toBe(400);
    expect((await cinder.get('/volumes/not-a-volume')).body).toEqual({ itemNotFound: { code: 404, message: 'Volume not-a-volume could not be found.' } });
    expect(await tableItems()).toEqual(before);
  });
});

describe('policies: Cinder\'s defaults, and project isolation', () => {
  it('a reader reads and is refused every write (403, nothing written); another project sees nothing (404); the admin passes', async () => {
    const p = project();
    const owner = api.cinder(`alice:${p}`);
    const id = await owner.create({ name: `secret-${p}` });
    const reader = api.cinder(`reader:${p}`);
    expect((await reader.get(`/volumes/${id}`)).body).toEqual((await owner.get(`/volumes/${id}`)).body);
    expect((await reader.get('/volumes/detail')).status).toBe(200);
    const before = await tableItems();
    const writes: [string, string, unknown, string][] = [
      ['POST', '/volumes', { volume: { size: 1 } }, 'volume:create'],
      ['PUT', `/volumes/${id}`, { volume: { name: 'x' } }, 'volume:update'],
      ['DELETE', `/volumes/${id}`, undefined, 'volume:delete'],
      ['POST', `/volumes/${id}/action`, { 'os-extend': { new_size: 2 } }, 'volume:extend'],
    ];
    for (const [method, path, body, policy] of writes) {
      expect([method, path, await reader.request(method, path, body).then((r) => [r.status, r.body])])
        .toEqual([method, path, [403, { forbidden: { code: 403, message: `Policy doesn't allow ${policy} to be performed.` } }]]);
    }
    // Resetting a status is the administrator's alone.
    expect((await owner.post(`/volumes/${id}/action`, { 'os-reset_status': { status: 'error' } })).status).toBe(403);
    expect(await tableItems()).toEqual(before);

    // Another project: its own path lists none of it, the owner's path is Cinder's 400, the id a 404.
    const q = project();
    const stranger = api.cinder(`mallory:${q}`);
    expect(JSON.stringify((await stranger.get('/volumes/detail')).body)).not.toContain(id);
    expect((await stranger.get(`/volumes/${id}`)).body).toEqual({ itemNotFound: { code: 404, message: `Volume ${id} could not be found.` } });
    for (const [method, path, body] of writes.slice(1)) {
      expect([method, (await stranger.request(method, path, body)).status]).toEqual([method, 404]);
    }
    expect((await api.cinder(`mallory:${q}`).request('GET', `/volume/v3/${p}/volumes`)).body)
      .toEqual({ badRequest: { code: 400, message: 'Malformed request url' } });
    expect(await tableItems()).toEqual(before);

    // The administrator sees every project's with all_tenants, and may reset a status.
    const admin = api.cinder(`admin:${q}`);
    expect((await admin.get('/volumes/detail?all_tenants=1')).body.volumes.map((v: { id: string }) => v.id)).toContain(id);
    expect((await admin.get('/volumes/detail')).body.volumes.map((v: { id: string }) => v.id)).not.toContain(id);
    expect((await owner.get('/volumes?all_tenants=1')).body.volumes.map((v: { id: string }) => v.id)).toEqual([id]);
    expect((await admin.post(`/volumes/${id}/action`, { 'os-reset_status': { status: 'error' } })).status).toBe(202);
    expect((await owner.get(`/volumes/${id}`)).body.volume.status).toBe('error');
    expect((await admin.post(`/volumes/${id}/action`, { 'os-reset_status': { status: 'nonsense' } })).status).toBe(400);
    expect((await admin.delete(`/volumes/${id}`)).status).toBe(202);
  });

  it('a project sees only its own quota (403 otherwise), and its limits', async () => {
    const p = project();
    const cinder = api.cinder(`alice:${p}`);
    await cinder.create({ size: 5 });
    expect((await cinder.get(`/os-quota-sets/${p}`)).body.quota_set).toMatchObject({ id: p, volumes: 10, gigabytes: 1000 });
    expect((await cinder.get('/os-quota-sets/elsewhere')).status).toBe(403);
    expect((await cinder.get('/limits')).body.limits.absolute).toMatchObject({ maxTotalVolumes: 10, totalVolumesUsed: 1, totalGigabytesUsed: 5 });
  });
});

describe('the status machine, through Cinder\'s API, during Nova\'s attach and detach', () => {
  it('available -> reserved -> attaching -> in-use -> detaching -> available, each seen while held', async () => {
    const p = project();
    const [nova, cinder] = [api.nova(`alice:${p}`), api.cinder(`alice:${p}`)];
    const server = await seedInstance(api.table, { projectId: p });
    const id = await cinder.create();
    expect(await cinder.status(id)).toBe('available');

    // A volume Cinder never made is Nova's 404, and nothing is claimed.
    const unknown = crypto.randomUUID();
    expect((await nova.post(`/servers/${server.id}/os-volume_attachments`, { volumeAttachment: { volumeId: unknown } })).body)
      .toEqual({ itemNotFound: { code: 404, message: `Volume ${unknown} could not be found.` } });
    expect((await readInstance(api.table, server.id))?.claim).toBeUndefined();

    expect((await nova.post(`/servers/${server.id}/os-volume_attachments`, { volumeAttachment: { volumeId: id } })).status).toBe(200);
    expect(await cinder.status(id)).toBe('reserved');
    const attachGate = gate();
    const attaching = api.run(api.queue.take(), attachGate);
    await attachGate.reached;
    expect(await cinder.status(id)).toBe('attaching');
    expect((await cinder.get(`/volumes/${id}`)).body.volume.attachments).toEqual([]);
    attachGate.open();
    expect(await attaching).toBe('done');
    const inUse = (await cinder.get(`/volumes/${id}`)).body.volume;
    expect(inUse).toMatchObject({ status: 'in-use', attachments: [expect.objectContaining({ server_id: server.id, volume_id: id, device: '/dev/vdb' })] });

    // In use, Cinder refuses to delete or (before 3.42) extend it.
    expect((await cinder.delete(`/volumes/${id}`)).body.badRequest.message).toMatch(/^Invalid volume: Volume status must be available/);
    expect((await cinder.post(`/volumes/${id}/action`, { 'os-extend': { new_size: 2 } })).body.badRequest.message)
      .toBe(`Invalid volume: Volume ${id} status must be '{'status': 'available'}' to extend, currently in-use.`);

    expect((await nova.delete(`/servers/${server.id}/os-volume_attachments/${id}`)).status).toBe(202);
    expect(await cinder.status(id)).toBe('in-use');
    const detachGate = gate();
    const detaching = api.run(api.queue.take(), detachGate);
    await detachGate.reached;
    expect(await cinder.status(id)).toBe('detaching');
    detachGate.open();
    expect(await detaching).toBe('done');
    expect((await cinder.get(`/volumes/${id}`)).body.volume).toMatchObject({ status: 'available', attachments: [] });
    expect((await cinder.delete(`/volumes/${id}`)).status).toBe(202);
    expect((await nova.post(`/servers/${server.id}/os-volume_attachments`, { volumeAttachment: { volumeId: id } })).status).toBe(404);
  });

  it('a failed detach puts the volume back in-use; an in-use volume is extended from 3.42', async () => {
    const p = project();
    const [nova, cinder] = [api.nova(`alice:${p}`), api.cinder(`alice:${p}`)];
    const server = await seedInstance(api.table, { projectId: p });
    const id = await cinder.create();
    await nova.post(`/servers/${server.id}/os-volume_attachments`, { volumeAttachment: { volumeId: id } });
    expect(await api.run(api.queue.take())).toBe('done');
    expect((await cinder.atVersion('3.42').post(`/volumes/${id}/action`, { 'os-extend': { new_size: 4 } })).status).toBe(202);
    expect((await cinder.get(`/volumes/${id}`)).body.volume).toMatchObject({ status: 'in-use', size: 4 });

    await nova.delete(`/servers/${server.id}/os-volume_attachments/${id}`);
    const message = api.queue.take();
    const failing = gate();
    const run = api.run(message, failing);
    await failing.reached;
    expect(await cinder.status(id)).toBe('detaching');
    // The server is reset meanwhile: the detach is superseded and gives the volume back as it was.
    expect((await api.nova(`admin:${p}`).action(server.id, { 'os-resetState': { state: 'active' } })).status).toBe(202);
    failing.open();
    expect(await run).toBe('dropped');
    expect((await cinder.get(`/volumes/${id}`)).body.volume).toMatchObject({ status: 'in-use', attachments: [expect.objectContaining({ server_id: server.id })] });
  });
});

describe("every project's volumes, over the all-servers index's partitions", () => {
  it('lists for an administrator each volume once, newest first: those spread over VOLUMES#<n> and one written under VOLUMES before', async () => {
    const q = project();
    const owner = api.cinder(`alice:${q}`);
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await owner.post('/volumes', { volume: { size: 1, name: `v${i}` } })).body.volume.id);
    const items = (await tableItems()).filter((i) => ids.includes((i as { id?: string }).id ?? '')) as Record<string, unknown>[];
    const partitions = new Set(items.map((i) => i.gsi2pk));
    // Spread, not on the one key every volume shared before.
    expect(partitions.size).toBeGreaterThan(1);
    expect([...partitions].every((p) => /^VOLUMES#\d+$/.test(String(p)))).toBe(true);

    // A volume the previous version wrote: its entry under VOLUMES, sorted by gsi2sk beside gsi1sk.
    const before = { ...items[0]! };
    const oldId = crypto.randomUUID();
    const created = '2020-01-01T00:00:00.000000';
    await api.table.db.send(new PutCommand({
      TableName: api.table.name,
      Item: { ...before, pk: `VOLUME#${oldId}`, id: oldId, created, gsi1sk: `${created}#${oldId}`, gsi2pk: 'VOLUMES', gsi2sk: `${created}#${oldId}` },
    }));

    const listed = (await api.cinder(`admin:${q}`).get('/volumes/detail?all_tenants=1')).body.volumes as { id: string; created_at: string }[];
    const ours = listed.filter((v) => v.id === oldId || ids.includes(v.id));
    expect(ours.map((v) => v.id).sort()).toEqual([...ids, oldId].sort());
    expect(ours.at(-1)!.id).toBe(oldId);
    const order = ours.map((v) => v.created_at);
    expect(order).toEqual([...order].sort().reverse());
  });
});
