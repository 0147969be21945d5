import { startRuntime, type Runtime } from '../../local/runtime.js';
import { Nova } from '../support/nova.js';

// The action bodies Nova accepts at 2.1 to 2.9: actions without a Nova schema take any value
// (clients send null, Tempest sends {}), so state decides (409), never validation (400); actions
// with a schema are still held to it.

let runtime: Runtime;
let nova: Nova;
let id: string;

beforeAll(async () => {
  runtime = await startRuntime({ port: 0, driver: { stepMs: 10 }, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT });
  nova = new Nova(runtime.apiUrl, `alice:bodies-${Date.now().toString(36)}`);
  id = await nova.createServer('bodies');
  await nova.waitIdle(id);
});
afterAll(() => runtime.stop());

it.each([
  [{ confirmResize: {} }, 409], [{ revertResize: '' }, 409], [{ shelveOffload: {} }, 409], [{ unshelve: {} }, 409],
  [{ 'os-start': {} }, 409], [{ unpause: {} }, 409], [{ resume: null }, 409],
  [{ lock: {} }, 202], [{ unlock: '' }, 202],
])('%j is judged by state: %i', async (body, status) => {
  const res = await nova.action(id, body);
  expect(res.status).toBe(status);
  if (status === 409) expect(res.body.conflictingRequest.message).toMatch(/^Cannot '\w+' instance .* while it is in vm_state active$/);
});

it.each([
  [{ reboot: { type: 'GENTLE' } }], [{ reboot: {} }], [{ resize: {} }], [{ rebuild: { imageRef: 'x' } }],
  [{ 'os-resetState': { state: 'deleted' } }], [{ pause: null, unpause: null }], [{ hibernate: null }],
])('%j is refused with 400', async (body) => {
  const res = await nova.action(id, body);
  expect(res.status).toBe(400);
  expect(res.body.badRequest.code).toBe(400);
});

it('accepts {} for an action that applies, as Tempest sends it', async () => {
  expect((await nova.action(id, { 'os-stop': {} })).status).toBe(202);
  expect((await nova.waitIdle(id)).status).toBe('SHUTOFF');
});
