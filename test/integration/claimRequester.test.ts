import { requestOperation, type AdmissionDeps } from '../../functions/core/compute/admission.js';
import { listActionsOf } from '../../functions/core/compute/instanceActions.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import type { Instance } from '../../functions/core/compute/instance.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import { runOperation } from '../../functions/core/compute/worker.js';
import { admin, alice, CapturingQueue, requestId, seedInstance, startBackends, type TestBackends } from '../support/emulators.js';

// A claim keeps its requester's project only when it is not the server's own: a member's claim is
// conditioned on the server's project, so storing it again would only add 41 bytes to the claimed
// item, enough to take a server with two ports, a volume and metadata past 1 KB, where every
// write and every refused claim costs 2 units instead of 1 (docs/write-units.md). Whoever reads
// the claim as a request still finds the right project.

let backends: TestBackends;
beforeAll(async () => { backends = await startBackends(); });
afterAll(() => backends.stop());

const claimed = async (id: string) => (await readInstance(backends.table, id))!;
const actionOf = async (instance: Instance, request: string) =>
  (await listActionsOf(backends.table, instance)).find((a) => a.requestId === request);

async function admit(caller: typeof alice, instanceId: string, queue = new CapturingQueue()) {
  const deps: AdmissionDeps = { table: backends.table, queue, claimLeaseMs: 60_000 };
  const request = requestId();
  await requestOperation(deps, { instanceId, op: 'reboot_soft', caller, requestId: request });
  return { request, queue };
}

it("a member's claim does not repeat the server's project, and its action still names it, in progress and ended", async () => {
  const server = await seedInstance(backends.table);
  const { request, queue } = await admit(alice, server.id);
  const instance = await claimed(server.id);
  expect(instance.claim!.requestId).toBe(request);
  expect(Object.keys(instance.claim!)).not.toContain('projectId');
  expect(await actionOf(instance, request)).toMatchObject({ projectId: alice.projectId, userId: alice.userId });

  const worker = { table: backends.table, driver: new SimulatedDriver(backends.table, { stepMs: 0 }), runLeaseMs: 60_000, claimLeaseMs: 600_000 };
  for (const message of queue.messages) await runOperation(worker, message);
  const released = await claimed(server.id);
  expect(released.claim).toBeUndefined();
  expect(await actionOf(released, request)).toMatchObject({ projectId: alice.projectId, result: 'Success', finishTime: expect.any(String) });
});

it("an administrator's claim on another project's server keeps the administrator's project, and its action names it", async () => {
  const server = await seedInstance(backends.table);
  const { request } = await admit(admin, server.id);
  const instance = await claimed(server.id);
  expect(instance.claim).toMatchObject({ requestId: request, projectId: admin.projectId });
  expect(await actionOf(instance, request)).toMatchObject({ projectId: admin.projectId, userId: admin.userId });
});
