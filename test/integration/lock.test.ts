import { startApiOnly, seedInstance, type ApiOnly } from '../support/emulators.js';
import { IMAGE2, type Nova } from '../support/nova.js';
import { seedVolume } from '../support/volumes.js';

// lock / unlock and os-resetState, over HTTP: they change no task_state and queue nothing; a
// locked server refuses every guarded operation from a non-admin and admits an admin's.

let api: ApiOnly;
let owner: Nova, admin: Nova, stranger: Nova;
beforeAll(async () => {
  api = await startApiOnly();
  owner = api.nova;
  admin = api.nova.as('admin:admin');
  stranger = api.nova.as('mallory:other');
});
afterAll(() => api.stop());

// `locked` is in Nova's server view from microversion 2.9.
const show = async (id: string) => (await owner.atVersion('2.9').get(`/servers/${id}`)).body.server;

describe('lock', () => {
  it('refuses every guarded operation from the owner while locked (409, "is locked"), admits an admin\'s', async () => {
    const { id } = await seedInstance(api.table);
    expect((await owner.action(id, { lock: null })).status).toBe(202);
    expect((await show(id)).locked).toBe(true);

    const attempts = [
      owner.action(id, { reboot: { type: 'HARD' } }),
      owner.action(id, { rebuild: { imageRef: IMAGE2 } }),
      owner.action(id, { 'os-stop': null }),
      owner.post(`/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId: await seedVolume(api.table) } }),
      owner.post(`/servers/${id}/os-interface`, { interfaceAttachment: {} }),
      owner.delete(`/servers/${id}`),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status).toBe(409);
      expect(res.body).toEqual({ conflictingRequest: { code: 409, message: `Instance ${id} is locked` } });
    }
    expect((await show(id))['OS-EXT-STS:task_state']).toBeNull();

    expect((await admin.action(id, { 'os-stop': null })).status).toBe(202);
    expect((await show(id))['OS-EXT-STS:task_state']).toBe('powering-off');
  });

  it('the owner unlocks their own lock, and may act again', async () => {
    const { id } = await seedInstance(api.table);
    expect((await owner.action(id, { lock: null })).status).toBe(202);
    expect((await owner.action(id, { unlock: null })).status).toBe(202);
    expect((await show(id)).locked).toBe(false);
    expect((await owner.action(id, { pause: null })).status).toBe(202);
    expect((await show(id))['OS-EXT-STS:task_state']).toBe('pausing');
  });

  it('an administrator\'s lock is lifted only by an administrator (owner: 403)', async () => {
    const { id } = await seedInstance(api.table);
    expect((await admin.action(id, { lock: null })).status).toBe(202);
    const refused = await owner.action(id, { unlock: null });
    expect(refused.status).toBe(403);
    expect(refused.body.forbidden.message).toMatch(/unlock_override/);
    expect((await show(id)).locked).toBe(true);
    expect((await admin.action(id, { unlock: null })).status).toBe(202);
    expect((await show(id)).locked).toBe(false);
  });

  it('another project can neither lock nor unlock (404), and locking a server in flight leaves its claim', async () => {
    const { id } = await seedInstance(api.table, { taskState: 'rebooting' });
    expect((await stranger.action(id, { lock: null })).status).toBe(404);
    expect((await show(id)).locked).toBe(false);
    expect((await owner.action(id, { lock: null })).status).toBe(202);
    expect(await show(id)).toMatchObject({ locked: true, 'OS-EXT-STS:task_state': 'rebooting' });
    expect((await stranger.action(id, { unlock: null })).status).toBe(404);
    expect((await show(id)).locked).toBe(true);
  });
});

describe('os-resetState', () => {
  it('is for administrators only: the owner gets 403 and nothing changes', async () => {
    const { id } = await seedInstance(api.table, { vmState: 'error', taskState: 'rebuilding' });
    const res = await owner.action(id, { 'os-resetState': { state: 'active' } });
    expect(res.status).toBe(403);
    expect(Object.keys(res.body)).toEqual(['forbidden']);
    expect(await show(id)).toMatchObject({ 'OS-EXT-STS:vm_state': 'error', 'OS-EXT-STS:task_state': 'rebuilding' });
  });

  it('sets vm_state, clears task_state and the claim; an unknown state is 400', async () => {
    const { id } = await seedInstance(api.table, { vmState: 'error', taskState: 'rebuilding' });
    const bad = await admin.action(id, { 'os-resetState': { state: 'paused' } });
    expect(bad.status).toBe(400);
    expect(await show(id)).toMatchObject({ 'OS-EXT-STS:vm_state': 'error', 'OS-EXT-STS:task_state': 'rebuilding' });

    expect((await admin.action(id, { 'os-resetState': { state: 'active' } })).status).toBe(202);
    expect(await show(id)).toMatchObject({ status: 'ACTIVE', 'OS-EXT-STS:vm_state': 'active', 'OS-EXT-STS:task_state': null });
    // Idle again: the owner's next operation is admitted.
    expect((await owner.action(id, { reboot: { type: 'SOFT' } })).status).toBe(202);
  });
});
