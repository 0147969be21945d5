import { createServer, requestOperation, type AdmissionDeps } from '../../functions/core/compute/admission.js';
import type { ComputeDriver, OperationContext } from '../../functions/core/compute/driver.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import { runOperation } from '../../functions/core/compute/worker.js';
import { giveBack } from '../../functions/core/placement/allocations.js';
import { readHosts, seedHosts } from '../../functions/core/placement/hosts.js';
import { schedule } from '../../functions/core/placement/scheduler.js';
import { DriverError } from '../../functions/core/shared/errors.js';
import { alice, CapturingQueue, requestId, startBackends, type TestBackends } from '../support/emulators.js';
import { IMAGE } from '../support/nova.js';

// A host's capacity is taken once and given back once, whatever dies or takes over between the
// allocation and the create's release: a worker that crashed after allocating is redelivered and
// finds its allocation; a delete that takes a create over after its allocation, a build that
// fails in the driver, each leave the host as it was.

let backends: TestBackends;
beforeAll(async () => {
  backends = await startBackends();
  await seedHosts(backends.table, [{ name: 'solo', zone: 'nova', vcpus: 4, ram: 8192, disk: 100 }]);
});
afterAll(() => backends.stop());

const admission = (queue: CapturingQueue): AdmissionDeps => ({ table: backends.table, queue, claimLeaseMs: 60_000 });
const worker = (driver: ComputeDriver, now?: () => number) => ({ table: backends.table, driver, runLeaseMs: 60_000, claimLeaseMs: 600_000, ...(now ? { now } : {}) });
/** A redelivery once the dead worker's run lease has run out. */
const later = () => Date.now() + 120_000;
const simulated = () => new SimulatedDriver(backends.table, { stepMs: 0 });
const host = async () => (await readHosts(backends.table))[0]!;

/** A create admitted, its message taken from the queue. */
async function admitted(queue: CapturingQueue) {
  const server = await createServer(admission(queue), { caller: alice, requestId: requestId(), name: 'p', flavorRef: '1', imageRef: IMAGE });
  return { server, message: queue.take() };
}

/** The simulated driver with its create replaced. */
const withCreate = (create: ComputeDriver['create']): ComputeDriver => ({ ...simulated(), create });

afterEach(async () => {
  // Each test leaves the host as it found it.
  const h = await host();
  expect([h.usedVcpus, h.usedRam, h.usedDisk, h.allocations]).toEqual([0, 0, 0, {}]);
});

it('a worker that dies after allocating is redelivered, finds its allocation and takes no second one', async () => {
  const queue = new CapturingQueue();
  const { server, message } = await admitted(queue);
  await expect(runOperation(worker(withCreate(async () => { throw new Error('worker killed'); })), message)).rejects.toThrow('worker killed');
  expect(Object.keys((await host()).allocations)).toEqual([server.id]);
  expect(await runOperation(worker(simulated(), later), message)).toBe('done');
  const placed = await readInstance(backends.table, server.id);
  // Its node is its host's name, so the item leaves it out (views.ts nodeOf shows the host's).
  expect(placed).toMatchObject({ vmState: 'active', host: 'solo', allocation: { vcpus: 1, ram: 512, disk: 1 } });
  expect(placed?.node).toBeUndefined();
  expect([(await host()).usedVcpus, Object.keys((await host()).allocations)]).toEqual([1, [server.id]]);

  await requestOperation(admission(queue), { instanceId: server.id, op: 'delete', caller: alice, requestId: requestId() });
  const deleting = queue.take();
  expect(await runOperation(worker(simulated()), deleting)).toBe('done');
  // A redelivered delete gives nothing back twice.
  expect(await runOperation(worker(simulated()), deleting)).toBe('dropped');
});

it('a delete that takes a create over after its allocation gives the host back', async () => {
  const queue = new CapturingQueue();
  const { server, message } = await admitted(queue);
  let reached!: () => void;
  let open!: () => void;
  const held = new Promise<void>((resolve) => { reached = resolve; });
  const gate = new Promise<void>((resolve) => { open = resolve; });
  const inner = simulated();
  const creating = runOperation(worker(withCreate(async (ctx: OperationContext) => {
    reached();
    await gate;
    return inner.create(ctx);
  })), message);
  await held;
  expect(Object.keys((await host()).allocations)).toEqual([server.id]);
  await requestOperation(admission(queue), { instanceId: server.id, op: 'delete', caller: alice, requestId: requestId() });
  expect(await runOperation(worker(simulated()), queue.take())).toBe('done');
  open();
  expect(await creating).toBe('dropped');
  expect(await readInstance(backends.table, server.id)).toMatchObject({ deleted: true });
});

it('a build that fails in the driver gives its allocation back; the server is ERROR on no host', async () => {
  const queue = new CapturingQueue();
  const { server, message } = await admitted(queue);
  expect(await runOperation(worker(withCreate(async () => { throw new DriverError('the hypervisor refused'); })), message)).toBe('done');
  const failed = await readInstance(backends.table, server.id);
  expect([failed?.vmState, failed?.host, failed?.fault?.message]).toEqual(['error', undefined, 'the hypervisor refused']);
  await requestOperation(admission(queue), { instanceId: server.id, op: 'delete', caller: alice, requestId: requestId() });
  expect(await runOperation(worker(simulated()), queue.take())).toBe('done');
});

it('two deliveries of one create scheduling at once take one allocation', async () => {
  const serverId = crypto.randomUUID();
  const now = Date.now();
  const placed = await Promise.all([1, 2].map(() => schedule(backends.table, { serverId, vcpus: 1, ram: 512, disk: 1, now, leaseMs: 60_000 })));
  expect(placed.map((p) => p.host)).toEqual(['solo', 'solo']);
  expect([(await host()).usedVcpus, Object.keys((await host()).allocations)]).toEqual([1, [serverId]]);
  // Two give-backs at once (a delete and its redelivery): once.
  expect((await Promise.all([1, 2].map(() => giveBack(backends.table, 'solo', serverId, placed[0]!.allocation)))).sort()).toEqual([false, true]);
});

it('a create whose allocation landed after a delete took it over and ended is given back by its redelivery', async () => {
  const queue = new CapturingQueue();
  const { server, message } = await admitted(queue);
  // The delete takes the create over and ends (its worker ends the create's action) before the
  // create's worker, which had started, allocates and dies.
  await requestOperation(admission(queue), { instanceId: server.id, op: 'delete', caller: alice, requestId: requestId() });
  expect(await runOperation(worker(simulated()), queue.take())).toBe('done');
  await schedule(backends.table, { serverId: server.id, vcpus: 1, ram: 512, disk: 1, now: Date.now(), leaseMs: 60_000 });
  expect(Object.keys((await host()).allocations)).toEqual([server.id]);
  expect(await runOperation(worker(simulated(), later), message)).toBe('dropped');
});
