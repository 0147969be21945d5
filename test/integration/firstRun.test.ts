import { findAction } from '../../functions/core/compute/instanceActions.js';
import { requestOperation } from '../../functions/core/compute/admission.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { claimLeaseEnd } from '../../functions/core/compute/instance.js';
import type { ComputeDriver } from '../../functions/core/compute/driver.js';
import { readRun } from '../../functions/core/compute/runs.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import type { Table } from '../../functions/core/shared/table.js';
import { runOperation } from '../../functions/core/compute/worker.js';
import { faultyDriver } from '../support/faults/index.js';
import { alice, CapturingQueue, requestId, seedInstance, startBackends, type TestBackends } from '../support/emulators.js';

// The first delivery of an operation takes its claim up on a RUN# item of its own and reads the
// instance beside it (functions/core/compute/runs.ts): on a busy instance, whose item every refused
// admission writes, the take-up does not queue behind them. These tests show that it writes
// nothing on the instance, that a duplicate delivery still backs off, that a failed first run
// gives its lease back, and that a message taken up late renews the claim's lease as before.

let backends: TestBackends;
beforeAll(async () => { backends = await startBackends(); });
afterAll(() => backends.stop());

const CLAIM_LEASE_MS = 60_000;
const RUN_LEASE_MS = 5_000;

/** Admits `op` on a fresh instance; returns the instance id, the queued message and the request id. */
async function admitted(table: Table, op: 'reboot_soft' | 'resize', now: () => number = Date.now) {
  const queue = new CapturingQueue();
  const instance = await seedInstance(table);
  const id = requestId();
  await requestOperation({ table, queue, claimLeaseMs: CLAIM_LEASE_MS, now }, {
    instanceId: instance.id, op, caller: alice, requestId: id, params: op === 'resize' ? { flavorRef: '2' } : {},
  });
  return { instanceId: instance.id, message: queue.take(), requestId: id };
}

/** The sort keys of the items `table` writes while `run` runs. */
async function writtenKeys(table: Table, run: () => Promise<unknown>): Promise<string[]> {
  const written: string[] = [];
  const name = `writtenKeys-${Math.random()}`;
  table.db.middlewareStack.add((next, context) => async (args) => {
    if (/^(Put|Update|Delete)/.test(String(context.commandName))) {
      const input = args.input as { Key?: { sk: string }; Item?: { sk: string } };
      written.push((input.Key ?? input.Item)!.sk);
    }
    return next(args);
  }, { step: 'initialize', name });
  try {
    await run();
  } finally {
    table.db.middlewareStack.remove(name);
  }
  return written;
}

const worker = (table: Table, driver: ComputeDriver = new SimulatedDriver(table, { stepMs: 0 }), now: () => number = Date.now) =>
  ({ table, driver, runLeaseMs: RUN_LEASE_MS, claimLeaseMs: CLAIM_LEASE_MS, now });

/** A driver whose first step waits for the test; `started` resolves when it is waiting. */
function heldDriver(table: Table) {
  let letGo!: () => void;
  let reached!: () => void;
  const gate = new Promise<void>((r) => { letGo = r; });
  const started = new Promise<void>((r) => { reached = r; });
  const driver = faultyDriver(new SimulatedDriver(table, { stepMs: 0 }), {
    faultAt: (step) => {
      if (!step.endsWith('#1')) return undefined;
      reached();
      return { kind: 'hang', until: gate };
    },
  });
  return { driver, started, letGo };
}

it('a one-step operation writes its run item, then only its release on the instance and the action record', async () => {
  const { table } = backends;
  const { instanceId, message } = await admitted(table, 'reboot_soft');
  const written = await writtenKeys(table, async () => expect(await runOperation(worker(table), message)).toBe('done'));
  expect(written).toEqual([`RUN#${message.token}`, 'META', `ACTION#${message.requestId}`]);
  expect(await readInstance(table, instanceId)).toMatchObject({ vmState: 'active' });
  expect(await readInstance(table, instanceId)).not.toHaveProperty('taskState');
});

it('a duplicate delivery while the first run works is told to come back, and writes nothing on the instance', async () => {
  const { table } = backends;
  const { instanceId, message } = await admitted(table, 'reboot_soft');
  const held = heldDriver(table);
  const first = runOperation(worker(table, held.driver), message);
  await held.started;
  const before = await readInstance(table, instanceId);

  const written = await writtenKeys(table, async () => expect(await runOperation(worker(table), message)).toBe('retry'));
  expect(written).toEqual([`RUN#${message.token}`]);
  expect(await readInstance(table, instanceId)).toEqual(before);

  held.letGo();
  expect(await first).toBe('done');
  // Once the first run has released the claim, the duplicate finds it stale and drops it.
  expect(await runOperation(worker(table), message)).toBe('dropped');
});

it('the live action shows the first run\'s event start, kept on its run item, before any checkpoint', async () => {
  const { table } = backends;
  const { instanceId, message, requestId: id } = await admitted(table, 'reboot_soft');
  const held = heldDriver(table);
  const run = runOperation(worker(table, held.driver), message);
  await held.started;
  const runItem = await readRun(table, instanceId, message.token);
  expect(runItem?.eventStart).toEqual(expect.any(String));
  const live = await findAction(table, (await readInstance(table, instanceId))!, id);
  expect(live).toMatchObject({ event: 'compute_reboot_soft', eventStart: runItem!.eventStart });
  expect(live).not.toHaveProperty('finishTime');
  held.letGo();
  expect(await run).toBe('done');
  expect(await findAction(table, (await readInstance(table, instanceId))!, id))
    .toMatchObject({ eventStart: runItem!.eventStart, result: 'Success' });
});

it('a first run that fails in-process gives its lease back: the redelivery takes over at once', async () => {
  const { table } = backends;
  const { instanceId, message } = await admitted(table, 'resize');
  const crashing = faultyDriver(new SimulatedDriver(table, { stepMs: 0 }), {
    // After its second checkpoint: the first run has renewed the claim's runUntil on the instance too.
    faultAt: (step) => (step === 'resize#3' ? { kind: 'crash' } : undefined),
  });
  await expect(runOperation(worker(table, crashing), message)).rejects.toThrow('Injected crash at resize#3');
  expect((await readInstance(table, instanceId))?.claim).not.toHaveProperty('runUntil');
  expect((await readRun(table, instanceId, message.token))?.runUntil).toBe(0);

  // Same clock: no run lease has run out, yet the redelivery is not told to wait.
  expect(await runOperation(worker(table), message)).toBe('done');
  expect(await readInstance(table, instanceId)).toMatchObject({ vmState: 'resized', flavorId: '2' });
});

it('a message taken up when its claim lease is mostly spent names its runner on the claim and renews the lease', async () => {
  const { table } = backends;
  let offset = 0;
  const now = () => Date.now() + offset;
  const { instanceId, message } = await admitted(table, 'resize', now);
  const held = heldDriver(table);
  // It sat in the queue for most of the claim's lease: taken up now, it must renew the lease, or
  // the sweeper could end the claim under it.
  offset += CLAIM_LEASE_MS - RUN_LEASE_MS / 2;
  const run = runOperation(worker(table, held.driver, now), message);
  await held.started;
  const during = await readInstance(table, instanceId);
  expect(during?.claim?.runner).toEqual(expect.any(String));
  expect(claimLeaseEnd(during)).toBeGreaterThanOrEqual(now() + CLAIM_LEASE_MS - 1_000);
  held.letGo();
  expect(await run).toBe('done');
  expect(await readInstance(table, instanceId)).toMatchObject({ vmState: 'resized' });
});
