import { Ec2Capabilities } from '../../functions/core/compute/ec2/capabilities.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { PowerState } from '../../functions/core/compute/states.js';
import { CapturingQueue, seedInstance, startApiOnly, type ApiOnly } from '../support/emulators.js';

// Over HTTP, on a deployment whose driver is EC2: what the driver cannot carry out is Nova's
// answer for a feature its virt driver lacks (501 notImplemented), and nothing is written.

let api: ApiOnly;
const queue = new CapturingQueue();
beforeAll(async () => { api = await startApiOnly(queue, Ec2Capabilities); });
afterAll(async () => { await api.stop(); });

test.each([
  ['rescue', { rescue: {} }, 'active'],
  ['unrescue', { unrescue: null }, 'rescued'],
  ['changePassword', { changePassword: { adminPass: 'n3w-secret' } }, 'active'],
] as const)('%s is 501 notImplemented in Nova\'s body, and the server is as it was', async (_name, body, vmState) => {
  const server = await seedInstance(api.table, { vmState, powerState: PowerState.RUNNING });
  const before = await readInstance(api.table, server.id);
  const res = await api.nova.action(server.id, body);
  expect(res.status).toBe(501);
  expect(res.body).toEqual({ notImplemented: { code: 501, message: 'The requested functionality is not supported.' } });
  expect(await readInstance(api.table, server.id)).toEqual(before);
  expect(queue.messages).toEqual([]);
});

test('an operation the driver carries out is admitted as before', async () => {
  const server = await seedInstance(api.table, { vmState: 'active', powerState: PowerState.RUNNING });
  expect((await api.nova.action(server.id, { 'os-stop': null })).status).toBe(202);
});
