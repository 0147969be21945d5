import { createServer, requestOperation, type AdmissionDeps } from '../../functions/core/compute/admission.js';
import type { OperationName } from '../../functions/core/compute/catalogue.js';
import { findMigration, migrationUuidFor } from '../../functions/core/compute/migrations.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import { runOperation } from '../../functions/core/compute/worker.js';
import { readHosts, seedHosts } from '../../functions/core/placement/hosts.js';
import { admin, CapturingQueue, requestId, startBackends, type TestBackends } from '../support/emulators.js';
import { IMAGE } from '../support/nova.js';

// A move's ending (the allocation it no longer needs given back, its migration's last status)
// is not kept on the server's item (docs/write-units.md): its worker holds it, and a redelivery
// after a crash between the release and the give-back rebuilds it from the migration record. The
// worker is killed right after its release here; its redelivery comes after nothing, after a
// reboot's release (its outcome no longer on the item) or after the server's delete. And a late
// duplicate of a move or a resize that ended well leaves what the server's item records.

let backends: TestBackends;
let killAfterRelease = false;
beforeAll(async () => {
  backends = await startBackends();
  await seedHosts(backends.table, ['e1', 'e2'].map((name) => ({ name, zone: 'nova', vcpus: 16, ram: 32768, disk: 400 })));
  // The worker's process dies once its release is written (the release is the write that sets lastOutcome).
  backends.table.db.middlewareStack.add((next, context) => async (args) => {
    const out = await next(args);
    const input = args.input as { ExpressionAttributeNames?: Record<string, string> };
    if (killAfterRelease && context.commandName === 'UpdateItemCommand' && input.ExpressionAttributeNames?.['#outcome'] === 'lastOutcome') {
      killAfterRelease = false;
      throw new Error('worker killed after its release');
    }
    return out;
  }, { step: 'initialize', name: 'killAfterRelease' });
});
afterAll(() => backends.stop());

const queue = new CapturingQueue();
const admission = (): AdmissionDeps => ({ table: backends.table, queue, claimLeaseMs: 60_000 });
const worker = (now?: () => number) => ({
  table: backends.table, driver: new SimulatedDriver(backends.table, { stepMs: 0 }), runLeaseMs: 60_000, claimLeaseMs: 600_000, ...(now ? { now } : {}),
});
/** A redelivery once the dead worker's run lease has run out. */
const later = () => Date.now() + 120_000;

/** Where the server is allocated now: host name to the entry's identity. */
async function allocated(id: string): Promise<Record<string, number>> {
  return Object.fromEntries((await readHosts(backends.table)).filter((h) => h.allocations[id]).map((h) => [h.name, h.allocations[id]!.at]));
}

async function run(op: OperationName, instanceId: string, params: Record<string, unknown> = {}) {
  await requestOperation(admission(), { instanceId, op, caller: admin, requestId: requestId(), params });
  const message = queue.take();
  expect(await runOperation(worker(), message)).toBe('done');
  return message;
}

async function activeServer(): Promise<string> {
  const server = await createServer(admission(), { caller: admin, requestId: requestId(), name: 'mover', flavorRef: '1', imageRef: IMAGE });
  expect(await runOperation(worker(), queue.take())).toBe('done');
  return server.id;
}

/** A live migration whose worker is killed right after its release: the source still held. */
async function liveMigratedThenKilled() {
  const id = await activeServer();
  const source = (await readInstance(backends.table, id))!;
  await requestOperation(admission(), { instanceId: id, op: 'live_migrate', caller: admin, requestId: requestId(), params: { blockMigration: false } });
  const message = queue.take();
  killAfterRelease = true;
  await expect(runOperation(worker(), message)).rejects.toThrow('worker killed after its release');
  const moved = (await readInstance(backends.table, id))!;
  expect(moved.host).not.toBe(source.host);
  expect(moved.moveEnding).toBeUndefined();
  expect(Object.keys(await allocated(id)).sort()).toEqual(['e1', 'e2']);
  return { id, message, source: source.host!, target: moved.host!, targetAt: moved.allocation!.at };
}

it('a live migration killed between its release and its give-back: its redelivery gives the source back, from the migration record', async () => {
  const { id, message, target, targetAt } = await liveMigratedThenKilled();
  expect(await runOperation(worker(later), message)).toBe('dropped');
  expect(await allocated(id)).toEqual({ [target]: targetAt });
  expect((await findMigration(backends.table, migrationUuidFor(message.requestId)))?.status).toBe('completed');
});

it('... with a reboot released in between (its outcome overwrites the move\'s): the redelivery still settles, and keeps the target', async () => {
  const { id, message, target, targetAt } = await liveMigratedThenKilled();
  await run('reboot_soft', id);
  expect(await runOperation(worker(later), message)).toBe('dropped');
  expect(await allocated(id)).toEqual({ [target]: targetAt });
  expect((await findMigration(backends.table, migrationUuidFor(message.requestId)))?.status).toBe('completed');
});

it('... with the server deleted in between: the redelivery gives the source back, and nothing is left', async () => {
  const { id, message } = await liveMigratedThenKilled();
  await run('delete', id);
  expect(await runOperation(worker(later), message)).toBe('dropped');
  expect(await allocated(id)).toEqual({});
});

it('a confirm of a cold migration killed between its release and its give-back: its redelivery finds the migration in its message and gives the source back', async () => {
  const id = await activeServer();
  const migrate = await run('migrate', id);
  const { host: target, allocation } = (await readInstance(backends.table, id))!;
  await requestOperation(admission(), { instanceId: id, op: 'confirm_resize', caller: admin, requestId: requestId() });
  const confirm = queue.take();
  expect(confirm.params.migration).toBe(migrationUuidFor(migrate.requestId));
  killAfterRelease = true;
  await expect(runOperation(worker(), confirm)).rejects.toThrow('worker killed after its release');
  expect(Object.keys(await allocated(id))).toHaveLength(2);
  expect(await runOperation(worker(later), confirm)).toBe('dropped');
  expect(await allocated(id)).toEqual({ [target!]: allocation!.at });
  expect((await findMigration(backends.table, migrationUuidFor(migrate.requestId)))?.status).toBe('confirmed');
});

it('a late duplicate of a confirmed resize, and of a confirmed migration, leaves the allocation the server\'s item records', async () => {
  const id = await activeServer();
  const resize = await run('resize', id, { flavorRef: '2' });
  await run('confirm_resize', id);
  const resized = await allocated(id);
  expect(await runOperation(worker(later), resize)).toBe('dropped');
  expect(await allocated(id)).toEqual(resized);
  expect((await readHosts(backends.table)).flatMap((h) => Object.values(h.allocations)).some((e) => e.ram === 2048)).toBe(true);

  const migrate = await run('migrate', id);
  await run('confirm_resize', id);
  const moved = await allocated(id);
  expect(Object.keys(moved)).toHaveLength(1);
  expect(await runOperation(worker(later), migrate)).toBe('dropped');
  expect(await allocated(id)).toEqual(moved);
  expect((await findMigration(backends.table, migrationUuidFor(migrate.requestId)))?.status).toBe('confirmed');
});

it('a late duplicate of a confirmed migration, while a second migration waits for its confirm, leaves the source that one keeps', async () => {
  const id = await activeServer();
  const first = await run('migrate', id);
  await run('confirm_resize', id);
  const second = await run('migrate', id);
  const waiting = (await readInstance(backends.table, id))!;
  // The second migration's source is the first one's target, its host's entry still marked as the first's.
  const source = (await findMigration(backends.table, migrationUuidFor(second.requestId)))!.sourceCompute;
  expect((await readHosts(backends.table)).find((h) => h.name === source)!.allocations[id]!.movedBy).toBe(first.requestId);
  const held = await allocated(id);
  expect(Object.keys(held)).toHaveLength(2);
  expect(await runOperation(worker(later), first)).toBe('dropped');
  expect(await allocated(id)).toEqual(held);
  await run('confirm_resize', id);
  expect(await allocated(id)).toEqual({ [waiting.host!]: waiting.allocation!.at });
  expect((await findMigration(backends.table, migrationUuidFor(second.requestId)))?.status).toBe('confirmed');
});
