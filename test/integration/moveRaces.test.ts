import type { ComputeDriver } from '../../functions/core/compute/driver.js';
import type { OperationMessage } from '../../functions/core/compute/queue.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import { runOperation } from '../../functions/core/compute/worker.js';
import { allocate, giveBack } from '../../functions/core/placement/allocations.js';
import { readHosts, seedHosts, serviceIdOf } from '../../functions/core/placement/hosts.js';
import { NO_VALID_HOST, schedule } from '../../functions/core/placement/scheduler.js';
import { CapturingQueue, startApiOnly, type ApiOnly } from '../support/emulators.js';
import { SeededRandom } from '../support/faults/random.js';
import type { Nova } from '../support/nova.js';
import { capacityViolations } from '../support/placement.js';

// Moves racing what else may happen to a server, seeded, many rounds, through the API (the race
// is at admission: its requests are sent at once) and the real worker, which the test runs so
// that each round's interleaving of the operations is the seed's, not the machine's:
// - migrate racing reboot and delete: exactly one of migrate and reboot is admitted while the
//   other holds (a delete takes over from either), and once all settle no host is over capacity
//   and the server's allocation is on exactly one host (none if it was deleted);
// - evacuate racing its host coming back: either admitted (the host was down at that instant)
//   and rebuilt on another host, or refused with Nova's 400; never an allocation on both;
// - migrations racing for a target's last room: exactly as many move as there is room.

const IMAGE = '70a599e0-31e7-49b7-b260-868f441e862b';
const ROUNDS = 12;

let api: ApiOnly;
let admin: Nova;
let driver: SimulatedDriver;
const queue = new CapturingQueue();

beforeAll(async () => {
  api = await startApiOnly(queue);
  driver = new SimulatedDriver(api.table, { stepMs: 0 });
  await seedHosts(api.table, [
    { name: 'r1', zone: 'nova', vcpus: 64, ram: 65536, disk: 1000 },
    { name: 'r2', zone: 'nova', vcpus: 64, ram: 65536, disk: 1000 },
    { name: 'r3', zone: 'nova', vcpus: 64, ram: 65536, disk: 1000 },
    // The last-room race's: t1 full, t2 and t3 with room for one tiny server each.
    { name: 't1', zone: 'tight', vcpus: 4, ram: 4096, disk: 100 },
    { name: 't2', zone: 'tight', vcpus: 4, ram: 4096, disk: 100 },
    { name: 't3', zone: 'tight', vcpus: 1, ram: 4096, disk: 100 },
    // The same at the scheduler alone.
    { name: 'u1', zone: 'u', vcpus: 4, ram: 4096, disk: 100 },
    { name: 'u2', zone: 'u', vcpus: 4, ram: 4096, disk: 100 },
    { name: 'u3', zone: 'u', vcpus: 1, ram: 4096, disk: 100 },
  ]);
  admin = api.nova.as('admin:admin');
  expect((await admin.request('PUT', '/os-quota-sets/admin', { quota_set: { instances: 200, cores: 400, ram: 400 * 1024 } })).status).toBe(200);
});
afterAll(() => api.stop());

const worker = (d: ComputeDriver = driver) => ({ table: api.table, driver: d, runLeaseMs: 60_000, claimLeaseMs: 600_000 });
const allocatedOn = async (id: string) => (await readHosts(api.table)).filter((h) => h.allocations?.[id]).map((h) => h.name);
const pause = (random: SeededRandom, after = 0) => new Promise((r) => setTimeout(r, after + random.int(12)));

/** Every message queued so far, taken. */
const drain = (): OperationMessage[] => queue.messages.splice(0);

async function bootOn(zoneHost: string): Promise<string> {
  const res = await admin.post('/servers', { server: { name: 'racer', flavorRef: '1', imageRef: IMAGE, availability_zone: zoneHost } });
  expect(res.status).toBe(202);
  for (const msg of drain()) expect(await runOperation(worker(), msg)).toBe('done');
  return res.body.server.id;
}

function shuffle<T>(items: T[], random: SeededRandom): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

it(`migrate racing reboot and delete, ${ROUNDS} seeded rounds: one of migrate and reboot admitted, the server's allocation on one host at rest`, async () => {
  const figures = { migrateAdmitted: 0, rebootAdmitted: 0, deleted: 0, deletedMidMigration: 0, violations: [] as string[] };
  for (let round = 0; round < ROUNDS; round++) {
    const random = new SeededRandom(2100 + round);
    const source = ['r1', 'r2', 'r3'][random.int(3)]!;
    const id = await bootOn(`nova:${source}`);
    const withDelete = random.chance(0.5);
    const requests: Promise<{ kind: string; status: number }>[] = [
      pause(random).then(async () => ({ kind: 'migrate', status: (await admin.action(id, { migrate: null })).status })),
      // Migrate's admission reads the server first: in half the rounds the reboot starts later, so either may win.
      pause(random, random.chance(0.5) ? 15 : 0).then(async () => ({ kind: 'reboot', status: (await admin.action(id, { reboot: { type: 'SOFT' } })).status })),
      ...(withDelete ? [pause(random).then(async () => ({ kind: 'delete', status: (await admin.delete(`/servers/${id}`)).status }))] : []),
    ];
    const answers = Object.fromEntries((await Promise.all(requests)).map((a) => [a.kind, a.status]));
    const admitted = ['migrate', 'reboot'].filter((k) => answers[k] === 202);
    for (const k of ['migrate', 'reboot']) expect([202, 409]).toContain(answers[k]);
    if (withDelete) {
      expect(answers.delete).toBe(204);
      expect(admitted.length).toBeLessThanOrEqual(1);
    } else {
      expect(admitted).toHaveLength(1);
    }
    figures.migrateAdmitted += admitted.includes('migrate') ? 1 : 0;
    figures.rebootAdmitted += admitted.includes('reboot') ? 1 : 0;

    // Delivered in the seed's order; a migrate delivered first may meet a delete admitted in the
    // middle of its run, after it took its target (the driver sends it at its first step).
    const messages = shuffle(drain(), random);
    const deleteDuring = !withDelete && admitted.includes('migrate') && random.chance(0.5);
    const midway: ComputeDriver = {
      ...driver,
      migrate: async (ctx) => {
        expect((await admin.delete(`/servers/${id}`)).status).toBe(204);
        return driver.migrate(ctx);
      },
    };
    for (const msg of messages) await runOperation(worker(msg.op === 'migrate' && deleteDuring ? midway : driver), msg);
    for (const msg of drain()) await runOperation(worker(), msg);
    if (deleteDuring) figures.deletedMidMigration++;

    let server = await readInstance(api.table, id);
    if (server && !server.deleted && server.vmState === 'resized') {
      expect((await admin.action(id, { confirmResize: null })).status).toBe(204);
      for (const msg of drain()) await runOperation(worker(), msg);
      server = await readInstance(api.table, id);
    }
    const gone = !server || server.deleted === true;
    if (gone) figures.deleted++;
    const on = await allocatedOn(id);
    if (gone ? on.length !== 0 : on.length !== 1 || on[0] !== server!.host) figures.violations.push(`round ${round}: ${id} held on [${on}] (deleted: ${gone})`);
    figures.violations.push(...capacityViolations(await readHosts(api.table)).map((v) => `round ${round}: ${v}`));
  }
  expect(figures.violations).toEqual([]);
  // The rounds saw every outcome: both winners, deletes before and during a migration.
  expect(figures.migrateAdmitted).toBeGreaterThan(0);
  expect(figures.rebootAdmitted).toBeGreaterThan(0);
  expect(figures.deleted).toBeGreaterThan(0);
  expect(figures.deletedMidMigration).toBeGreaterThan(0);
});

it(`evacuate racing its host coming back, ${ROUNDS} seeded rounds: evacuated elsewhere or refused with 400, never held on both`, async () => {
  const setDown = (down: boolean) => admin.atVersion('2.53').request('PUT', `/os-services/${serviceIdOf('r1')}`, { forced_down: down });
  const outcomes = { evacuated: 0, refused: 0, violations: [] as string[] };
  const live: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const random = new SeededRandom(2200 + round);
    const id = await bootOn('nova:r1');
    live.push(id);
    expect((await setDown(true)).status).toBe(200);
    const [evacuate, back] = await Promise.all([
      pause(random).then(() => admin.atVersion('2.29').action(id, { evacuate: {} })),
      pause(random).then(() => setDown(false)),
    ]);
    expect(back.status).toBe(200);
    // Whatever was admitted runs after the host came back: the scheduler still never picks it.
    for (const msg of drain()) expect(await runOperation(worker(), msg)).toBe('done');
    const server = (await readInstance(api.table, id))!;
    const on = await allocatedOn(id);
    if (evacuate.status === 200) {
      outcomes.evacuated++;
      if (server.vmState !== 'active' || server.host === 'r1' || on.length !== 1 || on[0] !== server.host) {
        outcomes.violations.push(`round ${round}: evacuated ${id} is ${server.vmState} on ${server.host}, held on [${on}]`);
      }
    } else {
      outcomes.refused++;
      expect([evacuate.status, evacuate.body.badRequest?.message]).toEqual([400, 'Compute service of r1 is still in use.']);
      if (server.host !== 'r1' || on.join() !== 'r1') outcomes.violations.push(`round ${round}: refused ${id} on ${server.host}, held on [${on}]`);
    }
  }
  // Capacity sums: every live server holds one tiny flavor's share, nothing else is held.
  const hosts = (await readHosts(api.table)).filter((h) => h.name.startsWith('r'));
  const held = hosts.flatMap((h) => Object.keys(h.allocations ?? {}).filter((s) => live.includes(s)));
  expect(held.sort()).toEqual([...live].sort());
  expect(capacityViolations(hosts)).toEqual([]);
  expect(outcomes.violations).toEqual([]);
  expect(outcomes.evacuated + outcomes.refused).toBe(ROUNDS);
});

it('migrations racing for a target\'s last room: exactly as many move as there is room, none over capacity', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) ids.push(await bootOn('tight:t1'));
  for (let i = 0; i < 3; i++) ids.push(await bootOn('tight:t2'));
  for (const id of ids) expect((await admin.action(id, { migrate: null })).status).toBe(202);
  const results = await Promise.all(drain().map((msg) => runOperation(worker(), msg)));
  expect(results.every((r) => r === 'done')).toBe(true);
  const servers = await Promise.all(ids.map((id) => readInstance(api.table, id)));
  const moved = servers.filter((s) => s?.vmState === 'resized');
  const refused = servers.filter((s) => s?.vmState === 'active' && s.fault?.message.startsWith('No valid host'));
  // t2 has room for one, t3 for one; t1 is full (and every source keeps its share until the confirm).
  expect([moved.length, refused.length]).toEqual([2, 5]);
  expect(capacityViolations(await readHosts(api.table))).toEqual([]);
});

it.each([0, 1, 2])('round %i: the moves\' schedulers alone, all at once, for a target\'s last room: exactly as many placed as there is room', async (round) => {
  const hosts = await readHosts(api.table);
  const share = { vcpus: 1, ram: 512, disk: 1, now: Date.now() };
  const servers = Array.from({ length: 7 }, (_, i) => ({ id: `mover-${round}-${i}`, source: i < 4 ? 'u1' : 'u2' }));
  for (const s of servers) expect((await allocate(api.table, hosts.find((h) => h.name === s.source)!, { serverId: s.id, ...share })).ok).toBe(true);
  const outcomes = await Promise.all(servers.map((s) => schedule(api.table, {
    serverId: s.id, ...share, leaseMs: 600_000, zone: 'u', movedBy: `move-${s.id}`, excludeHost: s.source,
  }).then((p) => p.host, (err: Error) => err.message)));
  expect(outcomes.filter((o) => o === NO_VALID_HOST)).toHaveLength(5);
  expect(outcomes.filter((o) => o !== NO_VALID_HOST).sort()).toEqual(['u2', 'u3']);
  expect(capacityViolations(await readHosts(api.table))).toEqual([]);
  // Each gives back its target and its source, once.
  for (const h of await readHosts(api.table)) {
    for (const s of servers) if (h.allocations?.[s.id]) await giveBack(api.table, h.name, s.id, h.allocations[s.id]!);
  }
});
