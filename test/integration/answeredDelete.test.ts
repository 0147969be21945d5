import { readAttachable, Ports, Volumes } from '../../functions/core/shared/attachables.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import { runOperation } from '../../functions/core/compute/worker.js';
import { CapturingQueue, seedAttachment, seedInstance, startApiOnly, type ApiOnly } from '../support/emulators.js';

// A delete that was answered is carried out. An administrator's os-resetState while the delete
// runs used to take the claim over: the delete's worker was fenced out and the server stayed
// ACTIVE with its volume and port (9 times in 16). Nova's reset rewrites the row and its compute
// host deletes anyway; taskgate refuses the reset (409, task_state deleting) and the delete ends
// with the server gone, however the two interleave.

let api: ApiOnly;
const queue = new CapturingQueue();
beforeAll(async () => { api = await startApiOnly(queue); });
afterAll(() => api.stop());

const ROUNDS = 16;

async function serverWithVolumeAndPort() {
  const instance = await seedInstance(api.table);
  const volumeId = await seedAttachment(api.table, Volumes, instance.id);
  const portId = await seedAttachment(api.table, Ports, instance.id);
  return { instance, volumeId, portId };
}

const runQueued = () => {
  const msg = queue.take();
  return runOperation({
    table: api.table, driver: new SimulatedDriver(api.table, { stepMs: 1 }), runLeaseMs: 60_000, claimLeaseMs: 600_000,
  }, msg);
};

async function expectGone(instanceId: string, volumeId: string, portId: string) {
  expect((await api.nova.get(`/servers/${instanceId}`)).status).toBe(404);
  expect((await readInstance(api.table, instanceId))?.deleted).toBe(true);
  expect((await readAttachable(api.table, Volumes, volumeId))?.status).toBe('available');
  expect((await readAttachable(api.table, Ports, portId))?.status).toBe('available');
}

describe('an answered delete is carried out', () => {
  it('os-resetState while the delete is queued is refused with Nova\'s 409, and the delete still ends with the server gone', async () => {
    const { instance, volumeId, portId } = await serverWithVolumeAndPort();
    expect((await api.nova.delete(`/servers/${instance.id}`)).status).toBe(204);
    const reset = await api.nova.as('admin:admin').action(instance.id, { 'os-resetState': { state: 'active' } });
    expect(reset.status).toBe(409);
    expect(reset.body).toEqual({
      conflictingRequest: { code: 409, message: `Cannot 'os-resetState' instance ${instance.id} while it is in task_state deleting` },
    });
    expect((await readInstance(api.table, instance.id))?.taskState).toBe('deleting');
    expect(await runQueued()).toBe('done');
    await expectGone(instance.id, volumeId, portId);
  });

  it(`a reset racing the delete's worker, ${ROUNDS} rounds: every answered delete ends with the server gone`, async () => {
    const resets: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const { instance, volumeId, portId } = await serverWithVolumeAndPort();
      expect((await api.nova.delete(`/servers/${instance.id}`)).status).toBe(204);
      const [outcome, reset] = await Promise.all([
        runQueued(),
        api.nova.as('admin:admin').action(instance.id, { 'os-resetState': { state: round % 2 ? 'active' : 'error' } }),
      ]);
      expect(outcome).toBe('done');
      // Refused while the delete runs; 404 once it is done.
      expect([404, 409]).toContain(reset.status);
      resets.push(reset.status);
      await expectGone(instance.id, volumeId, portId);
    }
    expect(resets).toHaveLength(ROUNDS);
  });

  it('a reset that lands before the delete changes the state; the delete that follows is carried out', async () => {
    const { instance, volumeId, portId } = await serverWithVolumeAndPort();
    expect((await api.nova.as('admin:admin').action(instance.id, { 'os-resetState': { state: 'error' } })).status).toBe(202);
    expect((await api.nova.delete(`/servers/${instance.id}`)).status).toBe(204);
    expect(await runQueued()).toBe('done');
    await expectGone(instance.id, volumeId, portId);
  });
});
