import { getAction } from '../../functions/core/compute/instanceActions.js';
import { requestOperation, type AdmissionDeps } from '../../functions/core/compute/admission.js';
import { getAttachment, listAttachments, Ports, readAttachable, Volumes } from '../../functions/core/shared/attachables.js';
import type { OperationName } from '../../functions/core/compute/catalogue.js';
import { AlreadyInProgress } from '../../functions/core/compute/refusals.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { takenOverAttribute } from '../../functions/core/compute/instance.js';
import type { ComputeDriver, OperationContext } from '../../functions/core/compute/driver.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import { runOperation } from '../../functions/core/compute/worker.js';
import {
  alice, CapturingQueue, requestId, seedAttachment, seedInstance, startBackends, uuid, type TestBackends,
} from '../support/emulators.js';
import { IMAGE2 } from '../support/nova.js';
import { seedVolume } from '../support/volumes.js';

// Delete preempts: it takes the claim over from whatever runs, with a new fencing token. The
// preempted worker is held at a chosen checkpoint (a gate, not a timer) while the delete runs,
// then let go: its next fenced write must be refused and it must stop, changing nothing.

let backends: TestBackends;
beforeAll(async () => { backends = await startBackends(); });
afterAll(() => backends.stop());

/** The simulated driver, with `op` held before its `n`th checkpoint until the test opens the gate. */
function heldAt(op: OperationName, n: number) {
  const inner = new SimulatedDriver(backends.table, { stepMs: 0 });
  let open!: () => void;
  let reached!: () => void;
  const gate = new Promise<void>((resolve) => { open = resolve; });
  const held = new Promise<void>((resolve) => { reached = resolve; });
  const checkpoints: string[] = [];
  const driver: ComputeDriver = {
    ...inner,
    [op]: (ctx: OperationContext) => {
      let count = 0;
      return inner[op]({
        ...ctx,
        checkpoint: async (taskState) => {
          if (++count === n) { reached(); await gate; }
          try {
            await ctx.checkpoint(taskState);
            checkpoints.push('passed');
          } catch (err) {
            checkpoints.push((err as Error).name);
            throw err;
          }
        },
      });
    },
  };
  return { driver, held, open, checkpoints };
}

const admission = (queue: CapturingQueue): AdmissionDeps => ({ table: backends.table, queue, claimLeaseMs: 60_000 });

/** A server with an attach of a new volume admitted (the volume reserved), its message taken from the queue. */
async function attachAdmitted(queue: CapturingQueue) {
  const instance = await seedInstance(backends.table);
  const volumeId = await seedVolume(backends.table);
  await requestOperation(admission(queue), {
    instanceId: instance.id, op: 'attach_volume', caller: alice, requestId: requestId(), params: { volumeId },
  });
  return { instance, volumeId, attach: queue.take() };
}

describe('delete preempts', () => {
  it('takes over a long rebuild: the rebuild is fenced out, the server ends deleted, volumes and ports are free', async () => {
    const { table } = backends;
    const queue = new CapturingQueue();
    const instance = await seedInstance(table);
    const volumes = [await seedAttachment(table, Volumes, instance.id), await seedAttachment(table, Volumes, instance.id)];
    const port = await seedAttachment(table, Ports, instance.id);

    await requestOperation(admission(queue), {
      instanceId: instance.id, op: 'rebuild', caller: alice, requestId: requestId(), params: { imageRef: IMAGE2 },
    });
    const rebuild = queue.take();
    // Hold the rebuild after it powered off and touched the first mapping (checkpoints 1, 2).
    const slow = heldAt('rebuild', 3);
    const rebuilding = runOperation({ table, driver: slow.driver, runLeaseMs: 60_000, claimLeaseMs: 600_000 }, rebuild);
    await slow.held;
    expect((await readInstance(table, instance.id))?.taskState).toBe('rebuilding');

    const deleteRequest = requestId();
    const takeover = await requestOperation(admission(queue), {
      instanceId: instance.id, op: 'delete', caller: alice, requestId: deleteRequest,
    });
    expect(takeover.token).toBeGreaterThan(rebuild.token);
    expect(takeover.instance).toMatchObject({ taskState: 'deleting', [takenOverAttribute(deleteRequest)]: expect.objectContaining({ op: 'rebuild' }) });

    // A second delete while the first runs takes no claim: admission refuses it as already in
    // progress (the API then answers Nova's 204, novaFidelity.test.ts), naming task_state deleting.
    const second = requestOperation(admission(queue), { instanceId: instance.id, op: 'delete', caller: alice, requestId: requestId() });
    await expect(second).rejects.toBeInstanceOf(AlreadyInProgress);
    await expect(second).rejects.toThrow(`Cannot 'delete' instance ${instance.id} while it is in task_state deleting`);

    const deleting = queue.take();
    expect(queue.messages).toHaveLength(0);
    expect(await runOperation({ table, driver: new SimulatedDriver(table, { stepMs: 0 }), runLeaseMs: 60_000, claimLeaseMs: 600_000 }, deleting)).toBe('done');

    slow.open();
    expect(await rebuilding).toBe('dropped');
    expect(slow.checkpoints).toEqual(['passed', 'passed', 'FencedOut']);

    const after = await readInstance(table, instance.id);
    expect(after).toMatchObject({ deleted: true, vmState: 'deleted', imageId: instance.imageId });
    expect(after?.taskState).toBeUndefined();
    expect(after?.claim).toBeUndefined();
    for (const v of volumes) expect((await readAttachable(table, Volumes, v))?.status ?? 'available').toBe('available');
    expect((await readAttachable(table, Ports, port))?.status ?? 'available').toBe('available');
    expect(await listAttachments(table, Volumes, instance.id)).toEqual([]);
    expect(await listAttachments(table, Ports, instance.id)).toEqual([]);

    expect(await getAction(table, instance.id, rebuild.requestId)).toMatchObject({
      action: 'rebuild', result: 'Error', traceback: expect.stringMatching(/^Superseded/),
    });
    expect(await getAction(table, instance.id, deleteRequest)).toMatchObject({ action: 'delete', result: 'Success' });
  });

  it('takes over an attach in flight: the volume it had reserved is given back, no mapping is left', async () => {
    const { table } = backends;
    const queue = new CapturingQueue();
    const { instance, volumeId, attach } = await attachAdmitted(queue);
    expect((await readAttachable(table, Volumes, volumeId))?.status).toBe('reserved');
    // Hold the attach at its one step (the mapping lands with its release, which is fenced).
    const slow = heldAt('attach_volume', 1);
    const attaching = runOperation({ table, driver: slow.driver, runLeaseMs: 60_000, claimLeaseMs: 600_000 }, attach);
    await slow.held;

    await requestOperation(admission(queue), { instanceId: instance.id, op: 'delete', caller: alice, requestId: requestId() });
    expect(await runOperation({ table, driver: new SimulatedDriver(table, { stepMs: 0 }), runLeaseMs: 60_000, claimLeaseMs: 600_000 }, queue.take()))
      .toBe('done');
    expect((await readAttachable(table, Volumes, volumeId))?.status ?? 'available').toBe('available');

    slow.open();
    expect(await attaching).toBe('dropped');
    // Its step's checkpoint came straight after the take-up and cost no write; the release that
    // would have written the mapping is the fenced write that is refused.
    expect(slow.checkpoints).toEqual(['passed']);
    expect(await getAttachment(table, Volumes, instance.id, volumeId)).toBeUndefined();
    // Given back: available again, still its project's (Cinder made it).
    expect(await readAttachable(table, Volumes, volumeId)).toMatchObject({ status: 'available', projectId: alice.projectId });
    expect((await readAttachable(table, Volumes, volumeId))?.instanceId).toBeUndefined();
    expect(await getAction(table, instance.id, attach.requestId)).toMatchObject({ result: 'Error' });
  });

  it('ends the operation it took over even when that one\'s message was lost: its action ends once, its volume is given back', async () => {
    const { table } = backends;
    const queue = new CapturingQueue();
    const { instance, volumeId, attach: lost } = await attachAdmitted(queue); // never delivered: no worker of it will ever run
    await requestOperation(admission(queue), { instanceId: instance.id, op: 'delete', caller: alice, requestId: requestId() });

    expect(await runOperation({ table, driver: new SimulatedDriver(table, { stepMs: 0 }), runLeaseMs: 60_000, claimLeaseMs: 600_000 }, queue.take()))
      .toBe('done');

    expect(await getAction(table, instance.id, lost.requestId)).toMatchObject({ result: 'Error', traceback: expect.stringMatching(/^Superseded/) });
    expect(await readAttachable(table, Volumes, volumeId)).toMatchObject({ status: 'available' });
    expect(await readInstance(table, instance.id)).toMatchObject({ deleted: true, vmState: 'deleted' });
    // Were it delivered after all, it changes nothing and does not end a second time.
    expect(await runOperation({ table, driver: new SimulatedDriver(table, { stepMs: 0 }), runLeaseMs: 60_000, claimLeaseMs: 600_000 }, lost))
      .toBe('dropped');
    expect(await getAction(table, instance.id, lost.requestId)).toMatchObject({ result: 'Error' });
  });
});
