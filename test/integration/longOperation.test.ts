import { timings } from '../../functions/core/shared/config.js';
import { startRuntime, type Runtime } from '../../local/runtime.js';
import { Nova } from '../support/nova.js';

// Locally no function timeout bounds a run: an operation longer than the queue's whole
// redelivery budget (here one delivery of 4 s) must not be redelivered and dead-lettered while
// it runs. The worker's checkpoints keep its message invisible (ChangeMessageVisibility).

let runtime: Runtime;
beforeAll(async () => {
  runtime = await startRuntime({
    port: 0, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT,
    // Each step under the 2 s run lease; three steps outlast the 4 s visibility timeout.
    driver: { stepMs: 1900 },
    timings: timings({ computeTimeoutSeconds: 1, visibilityTimeoutSeconds: 4, leaseMarginSeconds: 1, maxReceiveCount: 1 }),
  });
});
afterAll(() => runtime.stop());

it('an operation that outlasts the visibility timeout finishes with success, not dead-lettered', async () => {
  const nova = new Nova(runtime.apiUrl);
  const id = await nova.createServer('long');
  await nova.waitIdle(id, 30_000);
  expect((await nova.action(id, { resize: { flavorRef: '2' } })).status).toBe(202);

  const server = await nova.waitIdle(id, 60_000);

  expect(server.status).toBe('VERIFY_RESIZE');
  expect(server.fault).toBeUndefined();
});
