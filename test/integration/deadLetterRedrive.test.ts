import { timings } from '../../functions/core/shared/config.js';
import { startRuntime, type Runtime } from '../../local/runtime.js';
import { captureLogs } from '../support/logs.js';
import { IMAGE2, Nova } from '../support/nova.js';
import { crashAt } from '../support/faults.js';

// Nothing accepted is lost: a worker that crashes on every delivery still ends the operation,
// through the queue's redrive to the dead-letter queue and the dead-letter handler.

let runtime: Runtime;
let nova: Nova;
beforeAll(async () => {
  runtime = await startRuntime({
    port: 0, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT,
    driver: { stepMs: 0, beforeStep: crashAt('rebuild', 'spawn') },
    timings: timings({ computeTimeoutSeconds: 1, visibilityTimeoutSeconds: 4, leaseMarginSeconds: 1, maxReceiveCount: 3 }),
  });
  nova = new Nova(runtime.apiUrl);
});
afterAll(() => runtime.stop());

it('ends a rebuild whose worker always crashes in ERROR with a fault, after maxReceiveCount deliveries', async () => {
  const id = await nova.createServer('doomed');
  await nova.waitIdle(id);
  const logs = captureLogs();
  const accepted = await nova.action(id, { rebuild: { imageRef: IMAGE2 } });
  expect(accepted.status).toBe(202);

  const server = await nova.waitIdle(id, 60_000).finally(logs.restore);

  expect(server.status).toBe('ERROR');
  expect(server.fault).toMatchObject({ code: 500, message: expect.stringMatching(/failed on every delivery and was dead-lettered/) });
  // Nova saves the new image on the instance at the API, before the compute host rebuilds: a
  // failed rebuild shows the image it was rebuilding to (compute/api.py rebuild).
  expect(server.image.id).toBe(IMAGE2);
  const requestId = accepted.headers.get('x-openstack-request-id');
  const action = (await nova.get(`/servers/${id}/os-instance-actions/${requestId}`)).body.instanceAction;
  expect(action.message).toBe('Error');
  // Each of the three deliveries crashed, and said so, naming the request.
  const crashes = logs.entries.filter((e) => e.level === 'error' && e.attributes.requestId === requestId);
  expect(crashes).toHaveLength(3);
  for (const c of crashes) expect(c.attributes.error).toMatchObject({ message: 'Simulated crash at rebuild:spawn' });
  expect(action.events).toEqual([expect.objectContaining({ event: 'compute_rebuild', result: 'Error' })]);
});
