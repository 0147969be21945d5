import { startRuntime, type Runtime } from '../../local/runtime.js';
import { IMAGE, IMAGE2, Nova } from '../support/nova.js';
import { Cinder } from '../support/volumes.js';

// The README's walk-through, over HTTP, against TASKGATE_API_URL when given (LocalStack, a
// deployed stack, a running `npm start`), else against the local runtime started here.

let runtime: Runtime | undefined;
let nova: Nova;
const project = `e2e-${Date.now().toString(36)}`;

beforeAll(async () => {
  let url = process.env.TASKGATE_API_URL;
  if (!url) {
    runtime = await startRuntime({ port: 0, driver: { stepMs: 100 }, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT });
    url = runtime.apiUrl;
  }
  nova = new Nova(url.replace(/\/$/, ''), `alice:${project}`);
});
afterAll(() => runtime?.stop());

it('creates a server, attaches a volume, survives the blueprint race, and deletes it', async () => {
  const created = await nova.post('/servers', { server: { name: 'web-1', flavorRef: '1', imageRef: IMAGE } });
  expect(created.status).toBe(202);
  expect(created.headers.get('x-openstack-request-id')).toMatch(/^req-[0-9a-f-]{36}$/);
  const id = created.body.server.id;
  const building = (await nova.get(`/servers/${id}`)).body.server;
  expect(['BUILD', 'ACTIVE']).toContain(building.status);

  const active = await nova.waitIdle(id);
  expect(active).toMatchObject({ status: 'ACTIVE', 'OS-EXT-STS:vm_state': 'active', 'OS-EXT-STS:power_state': 1 });

  // The volume is Cinder's, made before Nova attaches it.
  const volumeId = await new Cinder(nova.baseUrl.replace(/\/v2\.1$/, ''), nova.token, project).create();
  const attach = await nova.post(`/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId } });
  expect(attach.status).toBe(200);
  expect(attach.body.volumeAttachment).toMatchObject({ volumeId, serverId: id, device: '/dev/vdb' });
  await nova.waitIdle(id);
  expect((await nova.get(`/servers/${id}/os-volume_attachments`)).body.volumeAttachments).toEqual([
    { id: volumeId, serverId: id, volumeId, device: '/dev/vdb' },
  ]);

  // The blueprint's case: detach and rebuild at once. One runs; the other is told why not.
  const [detach, rebuild] = await Promise.all([
    nova.delete(`/servers/${id}/os-volume_attachments/${volumeId}`),
    nova.action(id, { rebuild: { imageRef: IMAGE2 } }),
  ]);
  const statuses = [detach.status, rebuild.status].sort();
  expect(statuses).toEqual([202, 409]);
  const refused = detach.status === 409 ? detach : rebuild;
  expect(refused.body.conflictingRequest.message).toMatch(
    new RegExp(`^Cannot '(rebuild|detach_volume)' instance ${id} while it is in task_state (detaching_volume|rebuilding)$`));

  const after = await nova.waitIdle(id);
  expect(after.status).toBe('ACTIVE');
  const volumes = (await nova.get(`/servers/${id}/os-volume_attachments`)).body.volumeAttachments;
  if (detach.status === 202) expect(volumes).toEqual([]);
  else {
    expect(volumes).toHaveLength(1);
    expect(after.image.id).toBe(IMAGE2);
  }

  const actions = (await nova.get(`/servers/${id}/os-instance-actions`)).body.instanceActions;
  expect(actions.map((a: { action: string }) => a.action)).toEqual(
    [detach.status === 202 ? 'detach_volume' : 'rebuild', 'attach_volume', 'create']);

  const deleted = await nova.delete(`/servers/${id}`);
  expect(deleted.status).toBe(204);
  await nova.waitGone(id);
  expect((await nova.get('/servers')).body.servers).toEqual([]);
});
