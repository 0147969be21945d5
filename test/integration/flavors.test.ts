import { seedInstance, startApiOnly, type ApiOnly } from '../support/emulators.js';
import { IMAGE } from '../support/nova.js';

// The seeded flavor catalogue, and the flavor rules of create and resize: a flavor must exist,
// and a resize must change it. A refused request answers 400 and writes nothing.

let api: ApiOnly;
beforeAll(async () => { api = await startApiOnly(); });
afterAll(() => api.stop());

it('lists, details and shows flavors; an unknown one is 404', async () => {
  const list = await api.nova.get('/flavors');
  expect(list.status).toBe(200);
  expect(list.body.flavors.map((f: any) => [f.id, f.name])).toEqual([
    ['1', 'm1.tiny'], ['2', 'm1.small'], ['3', 'm1.medium'], ['4', 'm1.large'], ['5', 'm1.xlarge'],
  ]);
  const detail = await api.nova.get('/flavors/detail');
  expect(detail.body.flavors[1]).toMatchObject({ id: '2', vcpus: 1, ram: 2048, disk: 20, 'os-flavor-access:is_public': true });
  const one = await api.nova.get('/flavors/3');
  expect(one.body.flavor).toMatchObject({ id: '3', name: 'm1.medium', vcpus: 2, ram: 4096, disk: 40 });
  expect(one.body.flavor.links[0].href).toMatch(/\/v2\.1\/flavors\/3$/);
  expect((await api.nova.get('/flavors/42')).status).toBe(404);
});

it('refuses a server with an unknown flavor (400), creating nothing', async () => {
  const res = await api.nova.post('/servers', { server: { name: 'x', flavorRef: '42', imageRef: IMAGE } });
  expect(res.status).toBe(400);
  expect(res.body.badRequest.message).toBe('Flavor 42 could not be found.');
  expect((await api.nova.get('/servers')).body.servers.filter((s: any) => s.name === 'x')).toEqual([]);
});

it('refuses a resize to an unknown flavor or to the current one (400), leaving the server idle', async () => {
  const { id } = await seedInstance(api.table, { flavorId: '2' });
  const unknown = await api.nova.action(id, { resize: { flavorRef: '42' } });
  expect([unknown.status, unknown.body.badRequest?.message]).toEqual([400, 'Flavor 42 could not be found.']);
  const same = await api.nova.action(id, { resize: { flavorRef: '2' } });
  expect([same.status, same.body.badRequest?.message]).toEqual([400, 'When resizing, instances must change flavor!']);
  const server = (await api.nova.get(`/servers/${id}`)).body.server;
  expect([server['OS-EXT-STS:task_state'], server.flavor.id]).toEqual([null, '2']);

  expect((await api.nova.action(id, { resize: { flavorRef: '3' } })).status).toBe(202);
  expect((await api.nova.get(`/servers/${id}`)).body.server['OS-EXT-STS:task_state']).toBe('resize_prep');
});
