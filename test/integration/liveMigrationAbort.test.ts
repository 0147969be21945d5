import type { ComputeDriver, MigrationSteps } from '../../functions/core/compute/driver.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import { runOperation } from '../../functions/core/compute/worker.js';
import { readHosts, seedHosts } from '../../functions/core/placement/hosts.js';
import { CapturingQueue, startApiOnly, type ApiOnly } from '../support/emulators.js';
import { capacityViolations } from '../support/placement.js';
import type { Nova } from '../support/nova.js';

// Aborting a live migration (DELETE /servers/{id}/migrations/{mid}) and forcing it to complete,
// against the live-migration worker itself: the test runs the worker and, through its driver,
// sends the request through the API at an exact step of the migration, so which of the two
// conditional writes on the migration's record comes first is chosen, not timed.

const IMAGE = '70a599e0-31e7-49b7-b260-868f441e862b';
const HOSTS = [
  { name: 'a1', zone: 'nova', vcpus: 8, ram: 16384, disk: 200 },
  { name: 'a2', zone: 'nova', vcpus: 8, ram: 16384, disk: 200 },
];

let api: ApiOnly;
let admin: Nova;
const queue = new CapturingQueue();
const steps: string[] = [];
let driver: SimulatedDriver;

beforeAll(async () => {
  api = await startApiOnly(queue);
  driver = new SimulatedDriver(api.table, { stepMs: 0, beforeStep: (_op, step) => { steps.push(step); } });
  await seedHosts(api.table, HOSTS);
  admin = api.nova.as('admin:admin');
});
afterAll(() => api.stop());

const worker = (d: ComputeDriver) => ({ table: api.table, driver: d, runLeaseMs: 60_000, claimLeaseMs: 600_000 });

async function activeOn(host: string): Promise<string> {
  const res = await admin.post('/servers', { server: { name: 'live', flavorRef: '1', imageRef: IMAGE, availability_zone: `nova:${host}` } });
  expect(res.status).toBe(202);
  expect(await runOperation(worker(driver), queue.take())).toBe('done');
  return res.body.server.id;
}

const migrationOf = async (id: string) => (await admin.atVersion('2.59').get(`/os-migrations?instance_uuid=${id}`)).body.migrations[0];
const allocatedOn = async (id: string) => (await readHosts(api.table)).filter((h) => h.allocations?.[id]).map((h) => h.name);

/**
 * The simulated driver, with `during` run through the API when the migration is about to take
 * the status `at` (before: the worker's write comes second; after: first).
 */
function interleaved(at: 'running' | 'post-migrating', when: 'before' | 'after', during: () => Promise<void>): ComputeDriver {
  return {
    ...driver,
    live_migrate: (ctx) => {
      const real = ctx.migration!;
      const migration: MigrationSteps = {
        forcedComplete: () => real.forcedComplete(),
        advance: async (to) => {
          if (to === at && when === 'before') await during();
          await real.advance(to);
          if (to === at && when === 'after') await during();
        },
      };
      return driver.live_migrate({ ...ctx, migration });
    },
  };
}

async function liveMigrate(id: string) {
  const res = await admin.atVersion('2.65').action(id, { 'os-migrateLive': { host: 'a2', block_migration: 'auto' } });
  expect(res.status).toBe(202);
  return queue.take();
}

it('an abort that lands before the copy starts stops the migration: the server stays on its source, its target given back', async () => {
  const id = await activeOn('a1');
  const msg = await liveMigrate(id);
  let answer = 0;
  const aborting = interleaved('running', 'before', async () => {
    const mid = (await migrationOf(id)).id;
    // Shown while it is in progress, with its link in os-migrations.
    expect((await admin.atVersion('2.23').get(`/servers/${id}/migrations/${mid}`)).body.migration).toMatchObject({ status: 'preparing', dest_compute: 'a2' });
    answer = (await admin.atVersion('2.65').delete(`/servers/${id}/migrations/${mid}`)).status;
  });
  expect(await runOperation(worker(aborting), msg)).toBe('done');
  expect(answer).toBe(202);
  const server = await readInstance(api.table, id);
  expect([server?.vmState, server?.host, server?.taskState]).toEqual(['active', 'a1', undefined]);
  expect(await allocatedOn(id)).toEqual(['a1']);
  expect((await migrationOf(id)).status).toBe('cancelled');
  expect(capacityViolations(await readHosts(api.table))).toEqual([]);
});

it('an abort that comes after the switch-over is refused with Nova\'s 400, and the migration completes', async () => {
  const id = await activeOn('a1');
  const msg = await liveMigrate(id);
  let refused: { status: number; message?: string } = { status: 0 };
  const late = interleaved('post-migrating', 'after', async () => {
    const mid = (await migrationOf(id)).id;
    const res = await admin.atVersion('2.65').delete(`/servers/${id}/migrations/${mid}`);
    refused = { status: res.status, message: res.body.badRequest?.message };
  });
  expect(await runOperation(worker(late), msg)).toBe('done');
  const mid = (await migrationOf(id)).id;
  expect(refused).toEqual({
    status: 400,
    message: `Migration ${mid} state of instance ${id} is post-migrating. Cannot abort live migration while the migration is in this state.`,
  });
  expect([(await readInstance(api.table, id))?.host, await allocatedOn(id)]).toEqual(['a2', ['a2']]);
  expect((await migrationOf(id)).status).toBe('completed');
});

it('before 2.65 only a running migration can be aborted', async () => {
  const id = await activeOn('a1');
  const msg = await liveMigrate(id);
  let early = 0;
  const tooEarly = interleaved('running', 'before', async () => {
    early = (await admin.atVersion('2.24').delete(`/servers/${id}/migrations/${(await migrationOf(id)).id}`)).status;
  });
  expect(await runOperation(worker(tooEarly), msg)).toBe('done');
  expect(early).toBe(400);
  expect((await migrationOf(id)).status).toBe('completed');
});

it('force_complete on a running migration skips the copy\'s next pass; refused once it is over', async () => {
  const id = await activeOn('a2');
  const res = await admin.atVersion('2.25').action(id, { 'os-migrateLive': { host: 'a1', block_migration: false } });
  expect(res.status).toBe(202);
  let forced = 0;
  const forcing = interleaved('running', 'after', async () => {
    forced = (await admin.atVersion('2.22').post(`/servers/${id}/migrations/${(await migrationOf(id)).id}/action`, { force_complete: null })).status;
  });
  steps.length = 0;
  expect(await runOperation(worker(forcing), queue.take())).toBe('done');
  expect(forced).toBe(202);
  expect(steps).toContain('copy_memory');
  expect(steps).not.toContain('copy_dirty_memory');
  const after = await admin.atVersion('2.22').post(`/servers/${id}/migrations/${(await migrationOf(id)).id}/action`, { force_complete: null });
  expect(after.status).toBe(409);
  // Without it, the copy takes its second pass.
  const again = await admin.atVersion('2.25').action(id, { 'os-migrateLive': { host: 'a2', block_migration: false } });
  expect(again.status).toBe(202);
  steps.length = 0;
  expect(await runOperation(worker(driver), queue.take())).toBe('done');
  expect(steps).toContain('copy_dirty_memory');
});
