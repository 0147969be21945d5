import { allFlavors } from '../../functions/core/compute/flavors.js';
import { startApiOnly, type ApiOnly } from '../support/emulators.js';
import { Nova } from '../support/nova.js';

// Flavors' admin APIs: extra specs (readers read them, admins write them) and access to private
// flavors (admins only). A member's write is Nova's 403 and writes nothing; an admin's lands,
// key by key, so writes of different keys at once all land.

let api: ApiOnly;
let admin: Nova;
let member: Nova;
beforeAll(async () => {
  api = await startApiOnly();
  admin = api.nova.as('admin:admin');
  member = api.nova.as('alice:demo');
});
afterAll(() => api.stop());

const refused = (rule: string) => ({ forbidden: { code: 403, message: `Policy doesn't allow ${rule} to be performed.` } });
const put = (nova: Nova, path: string, body: unknown) => nova.request('PUT', path, body);

async function newFlavor(isPublic = true): Promise<string> {
  const res = await admin.post('/flavors', {
    flavor: { name: `f-${crypto.randomUUID().slice(0, 8)}`, ram: 64, vcpus: 1, disk: 0, 'os-flavor-access:is_public': isPublic },
  });
  expect(res.status).toBe(200);
  return res.body.flavor.id;
}

it('a member\'s extra spec writes are Nova\'s 403 and write nothing', async () => {
  const before = JSON.stringify(await allFlavors(api.table));
  expect(await member.post('/flavors/1/os-extra_specs', { extra_specs: { a: 'b' } }))
    .toMatchObject({ status: 403, body: refused('os_compute_api:os-flavor-extra-specs:create') });
  expect(await put(member, '/flavors/1/os-extra_specs/a', { a: 'b' }))
    .toMatchObject({ status: 403, body: refused('os_compute_api:os-flavor-extra-specs:update') });
  expect(await member.delete('/flavors/1/os-extra_specs/a'))
    .toMatchObject({ status: 403, body: refused('os_compute_api:os-flavor-extra-specs:delete') });
  expect(JSON.stringify(await allFlavors(api.table))).toBe(before);
  expect((await member.get('/flavors/1/os-extra_specs')).body).toEqual({ extra_specs: {} });
});

it('an admin creates (merges), shows, updates and deletes extra specs; flavor views show them from 2.61', async () => {
  const id = await newFlavor();
  const specs = `/flavors/${id}/os-extra_specs`;
  expect(await admin.post(specs, { extra_specs: { 'hw:cpu_policy': 'dedicated', n: 1 } }))
    .toMatchObject({ status: 200, body: { extra_specs: { 'hw:cpu_policy': 'dedicated', n: 1 } } });
  expect((await admin.post(specs, { extra_specs: { other: 'x' } })).status).toBe(200);
  expect((await member.get(specs)).body).toEqual({ extra_specs: { 'hw:cpu_policy': 'dedicated', n: '1', other: 'x' } });
  expect((await member.get(`${specs}/n`)).body).toEqual({ n: '1' });
  expect(await put(admin, `${specs}/other`, { other: 'y' })).toMatchObject({ status: 200, body: { other: 'y' } });
  expect(await put(admin, `${specs}/other`, { another: 'y' }))
    .toMatchObject({ status: 400, body: { badRequest: { message: 'Request body and URI mismatch' } } });
  expect((await put(admin, `${specs}/other`, { other: 'y', more: 'z' })).status).toBe(400);
  expect((await admin.post(specs, { extra_specs: { 'bad/key': 'x' } })).status).toBe(400);
  expect((await admin.post(specs, { extra_specs: { k: 'x'.repeat(256) } })).status).toBe(400);
  expect((await admin.delete(`${specs}/other`)).status).toBe(200);
  expect(await admin.delete(`${specs}/other`))
    .toMatchObject({ status: 404, body: { itemNotFound: { message: `Flavor ${id} has no extra specs with key other.` } } });
  expect((await member.get(`${specs}/other`)).status).toBe(404);
  expect((await member.atVersion('2.61').get(`/flavors/${id}`)).body.flavor.extra_specs).toEqual({ 'hw:cpu_policy': 'dedicated', n: '1' });
  expect((await member.get(`/flavors/${id}`)).body.flavor.extra_specs).toBeUndefined();
  expect((await admin.post('/flavors/nope/os-extra_specs', { extra_specs: { a: 'b' } })).status).toBe(404);
});

it('extra specs set at once on one flavor, each its own key, all land (no read-modify-write)', async () => {
  const id = await newFlavor();
  const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => admin.post(`/flavors/${id}/os-extra_specs`, { extra_specs: { [`k${i}`]: `v${i}` } })));
  expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200));
  expect(Object.keys((await admin.get(`/flavors/${id}/os-extra_specs`)).body.extra_specs).sort())
    .toEqual(Array.from({ length: 12 }, (_, i) => `k${i}`).sort());
  // A built-in flavor takes extra specs too, and keeps its own fields.
  expect((await admin.post('/flavors/2/os-extra_specs', { extra_specs: { a: 'b' } })).status).toBe(200);
  expect((await member.get('/flavors/2')).body.flavor).toMatchObject({ name: 'm1.small', ram: 2048 });
  expect((await admin.delete('/flavors/2/os-extra_specs/a')).status).toBe(200);
});

it('flavor access: admins only; a private flavor is seen by admins and the projects it is shared with', async () => {
  const id = await newFlavor(false);
  const access = `/flavors/${id}/os-flavor-access`;
  expect((await admin.get(access)).body).toEqual({ flavor_access: [] });
  expect(await member.get(access)).toMatchObject({ status: 403, body: refused('os_compute_api:os-flavor-access') });
  expect(await member.post(`/flavors/${id}/action`, { addTenantAccess: { tenant: 'demo' } }))
    .toMatchObject({ status: 403, body: refused('os_compute_api:os-flavor-access:add_tenant_access') });
  expect((await member.get(`/flavors/${id}`)).status).toBe(404);
  expect((await member.get('/flavors')).body.flavors.map((f: any) => f.id)).not.toContain(id);

  expect(await admin.post(`/flavors/${id}/action`, { addTenantAccess: { tenant: 'demo' } }))
    .toMatchObject({ status: 200, body: { flavor_access: [{ flavor_id: id, tenant_id: 'demo' }] } });
  expect(await admin.post(`/flavors/${id}/action`, { addTenantAccess: { tenant: 'demo' } })).toMatchObject({
    status: 409, body: { conflictingRequest: { message: `Flavor access already exists for flavor ${id} and project demo combination.` } },
  });
  expect((await member.get(`/flavors/${id}`)).status).toBe(200);
  expect((await member.get('/flavors')).body.flavors.map((f: any) => f.id)).toContain(id);
  expect((await api.nova.as('mallory:other').get(`/flavors/${id}`)).status).toBe(404);

  expect(await member.post(`/flavors/${id}/action`, { removeTenantAccess: { tenant: 'demo' } }))
    .toMatchObject({ status: 403, body: refused('os_compute_api:os-flavor-access:remove_tenant_access') });
  expect(await admin.post(`/flavors/${id}/action`, { removeTenantAccess: { tenant: 'demo' } }))
    .toMatchObject({ status: 200, body: { flavor_access: [] } });
  expect(await admin.post(`/flavors/${id}/action`, { removeTenantAccess: { tenant: 'demo' } })).toMatchObject({
    status: 404, body: { itemNotFound: { message: `Flavor access not found for ${id} / demo combination.` } },
  });
  expect((await member.get(`/flavors/${id}`)).status).toBe(404);
});

it('flavor access of a public flavor: the list is 404, an add 409 from 2.7', async () => {
  const id = await newFlavor(true);
  expect(await admin.get(`/flavors/${id}/os-flavor-access`))
    .toMatchObject({ status: 404, body: { itemNotFound: { message: 'Access list not available for public flavors.' } } });
  expect(await admin.atVersion('2.7').post(`/flavors/${id}/action`, { addTenantAccess: { tenant: 'demo' } }))
    .toMatchObject({ status: 409, body: { conflictingRequest: { message: 'Can not add access to a public flavor.' } } });
  expect((await admin.post(`/flavors/${id}/action`, { addTenantAccess: { tenant: '' } })).status).toBe(400);
  expect((await admin.post(`/flavors/${id}/action`, { nothing: {} })).status).toBe(400);
});
