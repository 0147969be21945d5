import { listVolumesAndPorts, Ports, Volumes } from '../../functions/core/attachables.js';
import { seedAttachment, seedInstance, startApiOnly, type ApiOnly } from '../support/emulators.js';

// A server view needs the server's volumes and ports: both come from one Query over the sort-key
// range BDM#... to VIF#..., which also holds the instance item itself (META) and borders on its
// action records (ACTION#...). Neither may be taken for an attachment.

let api: ApiOnly;
beforeAll(async () => { api = await startApiOnly(); });
afterAll(() => api.stop());

it('reads volumes and ports apart, leaving out the instance item and its actions', async () => {
  const { id } = await seedInstance(api.table);
  const volumes = [await seedAttachment(api.table, Volumes, id), await seedAttachment(api.table, Volumes, id)];
  const port = await seedAttachment(api.table, Ports, id);
  expect((await api.nova.action(id, { reboot: { type: 'SOFT' } })).status).toBe(202); // an ACTION# item

  const found = await listVolumesAndPorts(api.table, id);
  expect(found.volumes.map((v) => v.id).sort()).toEqual([...volumes].sort());
  expect(found.ports.map((p) => p.id)).toEqual([port]);

  const server = (await api.nova.request('GET', `/servers/${id}`, undefined, { 'openstack-api-version': 'compute 2.9' })).body.server;
  expect(server['os-extended-volumes:volumes_attached'].map((v: { id: string }) => v.id).sort()).toEqual([...volumes].sort());
  expect(Object.values(server.addresses).flat()).toEqual([expect.objectContaining({ addr: '10.0.0.5', version: 4 })]);
});

it('finds nothing on a server with no attachments', async () => {
  const { id } = await seedInstance(api.table);
  expect(await listVolumesAndPorts(api.table, id)).toEqual({ volumes: [], ports: [] });
});
