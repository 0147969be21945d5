import { getAttachment, listAttachments, Ports, Volumes } from '../../functions/core/shared/attachables.js';
import { seedAttachment, seedInstance, startApiOnly, type ApiOnly } from '../support/emulators.js';

// A server's volumes and ports live on its instance item: the views read them from there.

let api: ApiOnly;
beforeAll(async () => { api = await startApiOnly(); });
afterAll(() => api.stop());

it('reads volumes and ports apart, from the instance item', async () => {
  const { id } = await seedInstance(api.table);
  const volumes = [await seedAttachment(api.table, Volumes, id), await seedAttachment(api.table, Volumes, id)];
  const port = await seedAttachment(api.table, Ports, id);
  expect((await api.nova.action(id, { reboot: { type: 'SOFT' } })).status).toBe(202);

  expect((await listAttachments(api.table, Volumes, id)).map((v) => v.id).sort()).toEqual([...volumes].sort());
  expect((await listAttachments(api.table, Ports, id)).map((p) => p.id)).toEqual([port]);
  expect(await getAttachment(api.table, Volumes, id, '__proto__')).toBeUndefined();

  const server = (await api.nova.request('GET', `/servers/${id}`, undefined, { 'openstack-api-version': 'compute 2.9' })).body.server;
  expect(server['os-extended-volumes:volumes_attached'].map((v: { id: string }) => v.id).sort()).toEqual([...volumes].sort());
  expect(Object.values(server.addresses).flat()).toEqual([expect.objectContaining({ addr: '10.0.0.5', version: 4 })]);
});

it('finds nothing on a server with no attachments', async () => {
  const { id } = await seedInstance(api.table);
  expect(await listAttachments(api.table, Volumes, id)).toEqual([]);
  expect(await listAttachments(api.table, Ports, id)).toEqual([]);
});
