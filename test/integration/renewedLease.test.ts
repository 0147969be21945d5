import { getAction } from '../../functions/core/compute/instanceActions.js';
import { requestOperation } from '../../functions/core/compute/admission.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { readRun } from '../../functions/core/compute/runs.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import { runOperation, type WorkerDeps } from '../../functions/core/compute/worker.js';
import { faultyDriver } from '../support/faults/index.js';
import {
  alice, CapturingQueue, countingDriver, requestId, seedInstance, startBackends, type TestBackends,
} from '../support/emulators.js';

// The rule guarded: a run that checkpoints is alive, and a checkpoint renews its run lease
// (takeUp.ts renewClaim sets the claim's runUntil); a duplicate delivery of its message may take
// the run over only once the lease the last checkpoint renewed has run out (takeUp.ts beginWork:
// `NOT #claim.#runUntil >= :now`), not merely once the first run's original lease, on its RUN#
// item and never renewed there, has. Otherwise two workers run one operation on one instance at
// once. The other tests deliver a duplicate either inside the original run lease (firstRun.test.ts)
// or after a run that stopped checkpointing (runTakeover.test.ts): none between the two leases.

let backends: TestBackends;
beforeAll(async () => { backends = await startBackends(); });
afterAll(() => backends.stop());

const CLAIM_LEASE_MS = 60_000;
const RUN_LEASE_MS = 10_000;

/** A gate the driver waits at before checkpoint `step`; `reached` resolves when it waits there. */
function gateAt(step: string) {
  let open!: () => void;
  let arrived!: () => void;
  const gate = new Promise<void>((r) => { open = r; });
  const reached = new Promise<void>((r) => { arrived = r; });
  return { step, gate, reached, open, arrive: () => arrived() };
}

it('a duplicate delivery after the first run lease but inside the one its checkpoint renewed is told busy; the first run finishes', async () => {
  const { table } = backends;
  // The one clock of the test: admission, both workers and their leases all read it.
  let clock = Date.now();
  const now = () => clock;
  const queue = new CapturingQueue();
  const instance = await seedInstance(table);
  const id = requestId();
  await requestOperation({ table, queue, claimLeaseMs: CLAIM_LEASE_MS, now }, {
    instanceId: instance.id, op: 'resize', caller: alice, requestId: id, params: { flavorRef: '2' },
  });
  const message = queue.take();
  const takenUpAt = clock;

  // The first delivery: held before its second checkpoint (into resize_migrating, a write that
  // renews its leases), then before its third.
  const beforeRenewal = gateAt('resize#2');
  const afterRenewal = gateAt('resize#3');
  const firstDriver = faultyDriver(new SimulatedDriver(table, { stepMs: 0 }), {
    faultAt: (step) => {
      const held = [beforeRenewal, afterRenewal].find((g) => g.step === step);
      if (!held) return undefined;
      held.arrive();
      return { kind: 'hang', until: held.gate };
    },
  });
  const deps = (driver: WorkerDeps['driver']): WorkerDeps =>
    ({ table, driver, runLeaseMs: RUN_LEASE_MS, claimLeaseMs: CLAIM_LEASE_MS, now });
  const first = runOperation(deps(firstDriver), message);
  const duplicate = countingDriver(new SimulatedDriver(table, { stepMs: 0 }));
  try {
    await beforeRenewal.reached;
    // Half a run lease later the first run checkpoints: its run lease now ends at 1.5 leases.
    clock += RUN_LEASE_MS / 2;
    beforeRenewal.open();
    await afterRenewal.reached;
    expect((await readInstance(table, instance.id))?.taskState).toBe('resize_migrating');

    // Past the first run's original lease (kept on its RUN# item), inside the renewed one.
    clock = takenUpAt + RUN_LEASE_MS + RUN_LEASE_MS / 4;
    expect((await readRun(table, instance.id, message.token))!.runUntil).toBeLessThan(clock);
    const before = await readInstance(table, instance.id);

    // The same message delivered again (SQS redelivers a message whose visibility ran out).
    expect(await runOperation(deps(duplicate.driver), message)).toBe('retry');
    expect(duplicate.runs.get('resize')).toBeUndefined();
    // It wrote nothing on the instance: no runner of its own on the claim, the first run's lease kept.
    expect(await readInstance(table, instance.id)).toEqual(before);
  } finally {
    // Let the first run go on, and end, whatever was asserted above (not after the backends stop).
    beforeRenewal.open();
    afterRenewal.open();
    await first.catch(() => undefined);
  }

  // The first run, never taken over, finishes and releases the claim.
  expect(await first).toBe('done');
  const after = await readInstance(table, instance.id);
  expect(after).toMatchObject({ vmState: 'resized', flavorId: '2' });
  expect(after?.taskState).toBeUndefined();
  expect(after?.claim).toBeUndefined();
  expect(await getAction(table, instance.id, id)).toMatchObject({ result: 'Success', event: 'compute_resize' });
  // A later delivery of the same message finds the claim released, and drops it.
  expect(await runOperation(deps(duplicate.driver), message)).toBe('dropped');
  expect(duplicate.runs.get('resize')).toBeUndefined();
});
