import { listActionsOf, type InstanceAction } from '../../functions/core/compute/instanceActions.js';
import { requestOperation, type AdmissionDeps } from '../../functions/core/compute/admission.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import type { OperationName } from '../../functions/core/compute/catalogue.js';
import { ServiceUnavailable } from '../../functions/core/shared/errors.js';
import { resetState } from '../../functions/core/compute/instanceStore.js';
import { takenOverAttributes, type Instance } from '../../functions/core/compute/instance.js';
import type { OperationMessage } from '../../functions/core/compute/queue.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import { runOperation } from '../../functions/core/compute/worker.js';
import { FaultLog, FaultyQueue, SeededRandom, type QueueFaultRates } from '../support/faults/index.js';
import {
  admin, alice, CapturingQueue, requestId, seedInstance, startBackends, type TestBackends,
} from '../support/emulators.js';

// Found by the 40,000-operation chaos run (seed 11): the instance item kept ONE taken-over claim.
// A soft reboot accepted and its message lost, a hard reboot taking it over, then a second hard
// reboot taking the first over before its worker settled: the soft reboot's claim was recorded
// nowhere, and its action never ended. Every claim a takeover takes is now kept on the item
// until the operation that holds the instance ends them all (or gives its claim back).

let backends: TestBackends;
beforeAll(async () => { backends = await startBackends(); });
afterAll(() => backends.stop());

const NO_FAULTS: QueueFaultRates = { sendFailure: 0, drop: 0, delay: 0, duplicate: 0 };

/** The API's queue, losing (after SQS accepted it) every message sent while `rates.drop` is 1. */
function lossyQueue() {
  const delivered = new CapturingQueue();
  const log = new FaultLog();
  const rates = { ...NO_FAULTS };
  const queue = new FaultyQueue(delivered, {
    random: new SeededRandom(11), log, rates, maxDelayMs: 0, sendDuplicate: (m) => delivered.send(m),
  });
  return { queue, delivered, log, rates };
}

const worker = () => ({ table: backends.table, driver: new SimulatedDriver(backends.table, { stepMs: 0 }), runLeaseMs: 60_000, claimLeaseMs: 600_000 });

async function admit(deps: AdmissionDeps, instanceId: string, op: OperationName): Promise<string> {
  const id = requestId();
  await requestOperation(deps, { instanceId, op, caller: alice, requestId: id });
  return id;
}

/** Each action by request, as its one record says it ended. */
async function endedActions(instance: Instance): Promise<Map<string, InstanceAction>> {
  const actions = await listActionsOf(backends.table, instance);
  return new Map(actions.map((a) => [a.requestId, a]));
}

const superseded = { result: 'Error', traceback: expect.stringMatching(/^Superseded/), finishTime: expect.any(String) };

/** A soft reboot accepted whose message was lost: claimed, never to be delivered (`rates.drop` stays 1). */
async function softRebootLost() {
  const { table } = backends;
  const instance = await seedInstance(table);
  const { queue, delivered, log, rates } = lossyQueue();
  const deps: AdmissionDeps = { table, queue, claimLeaseMs: 60_000 };
  rates.drop = 1;
  const soft = await admit(deps, instance.id, 'reboot_soft');
  return { instance, deps, delivered, log, rates, soft };
}

/** Soft reboot (message lost), then two hard reboots, each taking the claim over from the one before. */
async function chainOfTakeovers() {
  const { instance, deps, delivered, log, rates, soft } = await softRebootLost();
  rates.drop = 0;
  expect(log.count('queue.drop')).toBe(1);
  expect(delivered.messages).toHaveLength(0);
  const hard1 = await admit(deps, instance.id, 'reboot_hard');
  const hard2 = await admit(deps, instance.id, 'reboot_hard');
  const [m1, m2] = [delivered.take(), delivered.take()];
  expect([m1.requestId, m2.requestId]).toEqual([hard1, hard2]);
  return { instance, soft, hard1, hard2, m1, m2 };
}

async function expectEndedOnce(instance: Instance, messages: OperationMessage[], expected: Record<string, unknown>) {
  const ended = await endedActions(instance);
  expect(Object.fromEntries(ended)).toEqual(Object.fromEntries(
    Object.entries(expected).map(([id, end]) => [id, expect.objectContaining(end as object)]),
  ));
  // Delivered again (a duplicate, a redelivery), nothing ends a second time or changes.
  for (const m of messages) expect(await runOperation(worker(), m)).toBe('dropped');
  expect(await endedActions(instance)).toEqual(ended);
}

describe('a chain of takeovers', () => {
  it('ends every operation taken over exactly once: the lost soft reboot, the first hard reboot, and the second runs', async () => {
    const { instance, soft, hard1, hard2, m1, m2 } = await chainOfTakeovers();
    const held = await readInstance(backends.table, instance.id);
    expect(held?.claim?.requestId).toBe(hard2);
    // Each claim once: the live one, and each taken over under the name of the request that took it.
    expect(held).not.toHaveProperty('claimAsList');
    expect(Object.fromEntries(takenOverAttributes(held).map((name) => [name, (held as unknown as Record<string, { requestId: string }>)[name]!.requestId])))
      .toEqual({ [`takenOver#${hard1}`]: soft, [`takenOver#${hard2}`]: hard1 });

    // FIFO order: the first hard reboot's message comes first and finds its claim taken over.
    expect(await runOperation(worker(), m1)).toBe('dropped');
    expect(await runOperation(worker(), m2)).toBe('done');

    const after = await readInstance(backends.table, instance.id);
    expect(after).toMatchObject({ vmState: 'active' });
    expect(after?.taskState).toBeUndefined();
    expect(after?.claim).toBeUndefined();
    expect(after).not.toHaveProperty('takenOver');
    expect(takenOverAttributes(after)).toEqual([]);
    expect(after).not.toHaveProperty('preempted');
    await expectEndedOnce(instance, [m1, m2], {
      [soft]: { action: 'reboot', ...superseded },
      [hard1]: { action: 'reboot', ...superseded },
      [hard2]: { action: 'reboot', result: 'Success' },
    });
  });

  it('lists every taken-over operation as running until the last one ends them', async () => {
    const { instance, soft, hard1, hard2, m1, m2 } = await chainOfTakeovers();
    const running = await endedActions((await readInstance(backends.table, instance.id))!);
    for (const id of [soft, hard1, hard2]) expect(running.get(id)).toMatchObject({ action: 'reboot' });
    for (const id of [soft, hard1, hard2]) expect(running.get(id)?.finishTime).toBeUndefined();
    // The last one's worker runs first; the first hard reboot's late message then changes nothing.
    expect(await runOperation(worker(), m2)).toBe('done');
    expect(await runOperation(worker(), m1)).toBe('dropped');
    await expectEndedOnce(instance, [m1, m2], {
      [soft]: superseded, [hard1]: superseded, [hard2]: { result: 'Success' },
    });
  });

  it('a delete at the end of the chain ends all of them, and the server is deleted', async () => {
    const { instance, soft, hard1, hard2, m1, m2 } = await chainOfTakeovers();
    const capture = new CapturingQueue();
    const del = await admit({ table: backends.table, queue: capture, claimLeaseMs: 60_000 }, instance.id, 'delete');
    const m3 = capture.take();
    expect(await runOperation(worker(), m3)).toBe('done');
    expect(await readInstance(backends.table, instance.id)).toMatchObject({ deleted: true, vmState: 'deleted' });
    await expectEndedOnce(instance, [m1, m2, m3], {
      [soft]: superseded, [hard1]: superseded, [hard2]: superseded, [del]: { action: 'delete', result: 'Success' },
    });
  });

  it('a takeover that could not be queued gives its claim back and ends what it took over', async () => {
    const { table } = backends;
    const { instance, deps, delivered, rates, soft } = await softRebootLost();
    rates.drop = 0;
    rates.sendFailure = 1;
    const hard = requestId();
    await expect(requestOperation(deps, { instanceId: instance.id, op: 'reboot_hard', caller: alice, requestId: hard }))
      .rejects.toBeInstanceOf(ServiceUnavailable);
    expect(delivered.messages).toHaveLength(0);
    const after = await readInstance(table, instance.id);
    expect(after?.taskState).toBeUndefined();
    expect(after).not.toHaveProperty('takenOver');
    expect(takenOverAttributes(after)).toEqual([]);
    await expectEndedOnce(instance, [], {
      [soft]: superseded, [hard]: { result: 'Error', traceback: 'The operation could not be queued' },
    });
  });

  it('reset-state ends the live claim and every claim it had taken over', async () => {
    const { table } = backends;
    const { instance, deps, delivered, soft } = await softRebootLost();
    const hard = await admit(deps, instance.id, 'reboot_hard');
    expect(delivered.messages).toHaveLength(0);
    await resetState(table, admin, instance.id, 'error');
    const after = await readInstance(table, instance.id);
    expect(after).toMatchObject({ vmState: 'error' });
    expect(after).not.toHaveProperty('takenOver');
    expect(takenOverAttributes(after)).toEqual([]);
    await expectEndedOnce(instance, [], { [soft]: superseded, [hard]: superseded });
  });

  // Items an older version wrote: the claim without its list copy, a taken-over one as one map.
  const olderClaim = (op: OperationName) => ({
    requestId: requestId(), op, userId: alice.userId, projectId: alice.projectId, params: {}, claimedAt: Date.now(),
  });

  it('ends a claim an older version recorded as a single `preempted` map', async () => {
    const { table } = backends;
    const soft = olderClaim('reboot_soft');
    const hard = olderClaim('reboot_hard');
    const instance = await seedInstance(table, { taskState: 'rebooting_hard', claim: hard, preempted: soft, leaseUntil: Date.now() + 60_000 });
    const message: OperationMessage = { ...hard, instanceId: instance.id, token: instance.version };
    expect(await runOperation(worker(), message)).toBe('done');
    expect(await readInstance(table, instance.id)).not.toHaveProperty('preempted');
    await expectEndedOnce(instance, [message], { [soft.requestId]: superseded, [hard.requestId]: { result: 'Success' } });
  });

  it('a delete takes over a chain the previous version recorded (the claim and its list copy, the list of those taken over) and ends them all', async () => {
    const { table } = backends;
    const [soft, hard1, hard2] = [olderClaim('reboot_soft'), olderClaim('reboot_hard'), olderClaim('reboot_hard')];
    const instance = await seedInstance(table, {
      taskState: 'rebooting_hard', claim: hard2, claimAsList: [hard2], takenOver: [soft, hard1], preempted: hard1, leaseUntil: Date.now() + 60_000,
    });
    const capture = new CapturingQueue();
    const del = await admit({ table, queue: capture, claimLeaseMs: 60_000 }, instance.id, 'delete');
    const message = capture.take();
    expect(await runOperation(worker(), message)).toBe('done');
    const after = await readInstance(table, instance.id);
    expect(after).toMatchObject({ deleted: true });
    for (const legacy of ['claimAsList', 'takenOver', 'preempted']) expect(after).not.toHaveProperty(legacy);
    expect(takenOverAttributes(after)).toEqual([]);
    await expectEndedOnce(instance, [message], {
      [soft.requestId]: superseded, [hard1.requestId]: superseded, [hard2.requestId]: superseded, [del]: { action: 'delete', result: 'Success' },
    });
  });

  it('takes over a claim an older version wrote (no list copy of it) and ends it', async () => {
    const { table } = backends;
    const soft = olderClaim('reboot_soft');
    const instance = await seedInstance(table, { taskState: 'rebooting', claim: soft, leaseUntil: Date.now() + 60_000 });
    const capture = new CapturingQueue();
    const hard = await admit({ table, queue: capture, claimLeaseMs: 60_000 }, instance.id, 'reboot_hard');
    const message = capture.take();
    expect(await runOperation(worker(), message)).toBe('done');
    await expectEndedOnce(instance, [message], { [soft.requestId]: superseded, [hard]: { result: 'Success' } });
  });
});
