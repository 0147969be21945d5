import { getAction } from '../../functions/core/compute/instanceActions.js';
import { requestOperation } from '../../functions/core/compute/admission.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import { runOperation } from '../../functions/core/compute/worker.js';
import { faultyDriver } from '../support/faults/index.js';
import { alice, CapturingQueue, requestId, seedInstance, startBackends, type TestBackends } from '../support/emulators.js';

// Found by the chaos suite: a worker hung past its run lease, a redelivery of the same message
// took the run over (beginWork allows that once the lease ran out), and the first worker then
// woke up and went on: checkpoints were fenced by the token only, which both runs share, so the
// two ran one resize at once and task_state went back (resize_finish -> resize_migrating).
// Checkpoints and the release are now fenced by the runner too: the first run stops, writes
// nothing, and leaves the outcome to the run that took over.

let backends: TestBackends;
beforeAll(async () => { backends = await startBackends(); });
afterAll(() => backends.stop());

it('a run whose lease ran out and was taken over stops at its next checkpoint and writes nothing', async () => {
  const { table } = backends;
  const queue = new CapturingQueue();
  let offset = 0;
  const now = () => Date.now() + offset;
  const instance = await seedInstance(table);
  const id = requestId();
  await requestOperation({ table, queue, claimLeaseMs: 60_000, now }, {
    instanceId: instance.id, op: 'resize', caller: alice, requestId: id, params: { flavorRef: '2' },
  });
  const message = queue.take();

  // The first delivery hangs before its second checkpoint until the test lets it go.
  let release!: () => void;
  let reached!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const hung = new Promise<void>((r) => { reached = r; });
  const inner = new SimulatedDriver(table, { stepMs: 0 });
  const slow = faultyDriver(inner, {
    faultAt: (step) => {
      if (step !== 'resize#2') return undefined;
      reached();
      return { kind: 'hang', until: gate };
    },
  });
  const first = runOperation({ table, driver: slow, runLeaseMs: 1_000, claimLeaseMs: 60_000, now }, message);
  await hung;

  // Its lease runs out; the redelivery takes the run over, and is itself held mid-way.
  offset += 5_000;
  let releaseSecond!: () => void;
  let secondHeld!: () => void;
  const secondGate = new Promise<void>((r) => { releaseSecond = r; });
  const secondAt = new Promise<void>((r) => { secondHeld = r; });
  const steps: string[] = [];
  const second = faultyDriver(inner, {
    onStep: (e) => steps.push(`${e.step}:${e.phase}`),
    faultAt: (step) => {
      if (step !== 'resize#3') return undefined;
      secondHeld();
      return { kind: 'hang', until: secondGate };
    },
  });
  const secondRun = runOperation({ table, driver: second, runLeaseMs: 60_000, claimLeaseMs: 60_000, now }, message);
  await secondAt;
  const during = await readInstance(table, instance.id);

  // The first wakes up while the second still runs: fenced out, it writes nothing.
  release();
  expect(await first).toBe('dropped');
  expect(await readInstance(table, instance.id)).toEqual(during);

  releaseSecond();
  expect(await secondRun).toBe('done');
  expect(await readInstance(table, instance.id)).toMatchObject({ vmState: 'resized', flavorId: '2' });
  expect(await getAction(table, instance.id, id)).toMatchObject({ result: 'Success' });
  expect(steps).toContain('resize#end:end');
});

it('a run that takes over from one that died at resize_finish never moves task_state back', async () => {
  const { table } = backends;
  const queue = new CapturingQueue();
  let offset = 0;
  const now = () => Date.now() + offset;
  const instance = await seedInstance(table);
  await requestOperation({ table, queue, claimLeaseMs: 60_000, now }, {
    instanceId: instance.id, op: 'resize', caller: alice, requestId: requestId(), params: { flavorRef: '2' },
  });
  const message = queue.take();

  // The first delivery passes the checkpoint into resize_finish, then dies there (never returns).
  let died!: () => void;
  const dead = new Promise<void>((r) => { died = r; });
  const inner = new SimulatedDriver(table, { stepMs: 0 });
  const dying = faultyDriver(inner, {
    faultAt: (step) => {
      if (step !== 'resize#end') return undefined; // after its last checkpoint, before its release
      died();
      return { kind: 'hang', until: new Promise<void>(() => undefined) };
    },
  });
  void runOperation({ table, driver: dying, runLeaseMs: 1_000, claimLeaseMs: 60_000, now }, message);
  await dead;
  expect((await readInstance(table, instance.id))?.taskState).toBe('resize_finish');

  // The redelivery after its run lease runs the driver from the first step again.
  offset += 5_000;
  const shown: string[] = [];
  const watched = {
    ...table,
    db: new Proxy(table.db, {
      get(target, name, receiver) {
        if (name !== 'send') return Reflect.get(target, name, receiver);
        return (command: { input?: { ExpressionAttributeValues?: Record<string, unknown> } }, ...rest: unknown[]) => {
          const next = command.input?.ExpressionAttributeValues?.[':next'];
          if (typeof next === 'string') shown.push(next);
          return (target.send as (...a: unknown[]) => unknown).call(target, command, ...rest);
        };
      },
    }),
  } as typeof table;
  expect(await runOperation({ table: watched, driver: new SimulatedDriver(watched, { stepMs: 0 }), runLeaseMs: 60_000, claimLeaseMs: 60_000, now }, message))
    .toBe('done');

  expect(shown).toEqual([]);
  expect(await readInstance(table, instance.id)).toMatchObject({ vmState: 'resized', flavorId: '2' });
});
