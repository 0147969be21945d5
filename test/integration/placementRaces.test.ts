import { readHosts, seedHosts } from '../../functions/core/placement/hosts.js';
import { NO_VALID_HOST, schedule } from '../../functions/core/placement/scheduler.js';
import { createGroup } from '../../functions/core/placement/serverGroups.js';
import { DriverError } from '../../functions/core/shared/errors.js';
import { freeServer } from '../../functions/core/placement/allocations.js';
import { startRuntime, type Runtime } from '../../local/runtime.js';
import { Nova } from '../support/nova.js';
import { capacityViolations, concurrentCreates, hostsEmptied, settled } from '../support/placement.js';

// Placement's two races through the whole runtime (API, queue, worker, scheduler), seeded,
// several rounds: 40 creates at once onto 4 hosts that hold 8 each (exactly 32 placed, no host
// over its capacity, the other 8 in ERROR with Nova's NoValidHost, every allocation given back
// once they are deleted); 12 boots at once into one anti-affinity group over the same 4 hosts
// (4 placed, each on its own host, the rest NoValidHost). The same two races are run again on the
// scheduler alone, every scheduler started at once (through the runtime the queue may hand the
// messages out one after the other). bench/placementRaces.ts prints the figures.

const IMAGE = '70a599e0-31e7-49b7-b260-868f441e862b';
const HOSTS = ['c0', 'c1', 'c2', 'c3'].map((name) => ({ name, zone: 'nova', vcpus: 8, ram: 16_384, disk: 1000 }));
const ROUNDS = 3;

let runtime: Runtime;
let admin: Nova;
let nova: Nova;
beforeAll(async () => {
  // As many workers as boots in the larger race, so that every scheduler of a round runs at once.
  runtime = await startRuntime({
    port: 0, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT, driver: { stepMs: 0 }, computeConcurrency: 12,
  });
  await seedHosts(runtime.table, HOSTS);
  admin = new Nova(runtime.apiUrl, 'admin:admin').atVersion('2.64');
  nova = new Nova(runtime.apiUrl, 'racer:placement').atVersion('2.64');
  const unlimited = { quota_set: { instances: -1, cores: -1, ram: -1, server_groups: -1, server_group_members: -1 } };
  expect((await admin.request('PUT', '/os-quota-sets/placement', unlimited)).status).toBe(200);
});
afterAll(() => runtime.stop());

async function deleteAll(ids: readonly string[]) {
  await Promise.all(ids.map((id) => nova.delete(`/servers/${id}`)));
  for (const id of ids) await nova.waitGone(id);
}

it.each(Array.from({ length: ROUNDS }, (_, i) => i))('round %i: 40 creates onto 4 hosts of 8: exactly 32 placed, none over capacity, all given back', async (round) => {
  const answers = await concurrentCreates(nova, 40, 2100 + round, (i) => ({ name: `cap-${round}-${i}`, flavorRef: '1', imageRef: IMAGE, networks: 'none' }));
  expect(answers.map((a) => a.status)).toEqual(Array(40).fill(202));
  const ids: string[] = answers.map((a) => a.body.server.id);
  const servers = await settled(admin, ids);
  const active = servers.filter((s) => s.status === 'ACTIVE');
  const failed = servers.filter((s) => s.status === 'ERROR');
  expect([active.length, failed.length]).toEqual([32, 8]);
  for (const s of failed) expect([s.fault, s.host]).toEqual([NO_VALID_HOST, null]);
  const perHost = new Map<string, number>();
  for (const s of active) perHost.set(s.host!, (perHost.get(s.host!) ?? 0) + 1);
  expect([...perHost].sort()).toEqual(HOSTS.map((h) => [h.name, 8]));
  expect(capacityViolations(await readHosts(runtime.table))).toEqual([]);
  const full = (await admin.get('/os-hypervisors/detail')).body.hypervisors;
  expect(full.map((h: any) => [h.hypervisor_hostname, h.vcpus_used, h.running_vms])).toEqual(HOSTS.map((h) => [h.name, 8, 8]));

  await deleteAll(ids);
  const after = await hostsEmptied(runtime.table);
  expect(capacityViolations(after)).toEqual([]);
  expect(after.map((h) => [h.usedVcpus, h.usedRam, h.usedDisk, h.allocations])).toEqual(HOSTS.map(() => [0, 0, 0, {}]));
}, 120_000);

it.each(Array.from({ length: ROUNDS }, (_, i) => i))('round %i: 12 boots into one anti-affinity group over 4 hosts: 4 placed, on 4 hosts', async (round) => {
  const group = (await nova.post('/os-server-groups', { server_group: { name: `aa-${round}`, policy: 'anti-affinity' } })).body.server_group;
  const answers = await concurrentCreates(nova, 12, 3100 + round,
    (i) => ({ name: `aa-${round}-${i}`, flavorRef: '1', imageRef: IMAGE, networks: 'none' }), { group: group.id });
  expect(answers.map((a) => a.status)).toEqual(Array(12).fill(202));
  const ids: string[] = answers.map((a) => a.body.server.id);
  const servers = await settled(admin, ids);
  const active = servers.filter((s) => s.status === 'ACTIVE');
  expect(active).toHaveLength(4);
  expect(new Set(active.map((s) => s.host)).size).toBe(4);
  for (const s of servers.filter((x) => x.status !== 'ACTIVE')) expect([s.status, s.fault]).toEqual(['ERROR', NO_VALID_HOST]);
  // Every member, placed or not, is in the group until deleted, as in Nova.
  expect((await nova.get(`/os-server-groups/${group.id}`)).body.server_group.members.sort()).toEqual([...ids].sort());

  await deleteAll(ids);
  const after = await hostsEmptied(runtime.table);
  expect(after.map((h) => [h.usedVcpus, h.groups[group.id] ?? 0])).toEqual(HOSTS.map(() => [0, 0]));
  expect((await nova.get(`/os-server-groups/${group.id}`)).body.server_group.members).toEqual([]);
}, 120_000);

/** Every scheduler started at once on the same table: the host each got, or NoValidHost. */
async function schedulersAtOnce(count: number, groupId?: string) {
  const ids = Array.from({ length: count }, () => crypto.randomUUID());
  const now = Date.now();
  const outcomes = await Promise.all(ids.map((serverId) => schedule(runtime.table, {
    serverId, vcpus: 1, ram: 512, disk: 1, now, leaseMs: 60_000, ...(groupId ? { groupId } : {}),
  }).then((p) => p.host, (err: unknown) => {
    if (err instanceof DriverError && err.message === NO_VALID_HOST) return null;
    throw err;
  })));
  return { ids, outcomes };
}

it.each(Array.from({ length: ROUNDS }, (_, i) => i))('round %i: 40 schedulers at once onto 4 hosts of 8: exactly 8 each, the rest NoValidHost', async () => {
  const { ids, outcomes } = await schedulersAtOnce(40);
  const placed = outcomes.filter((h): h is string => h !== null);
  expect([placed.length, outcomes.length - placed.length]).toEqual([32, 8]);
  expect(HOSTS.map((h) => placed.filter((p) => p === h.name).length)).toEqual([8, 8, 8, 8]);
  expect(capacityViolations(await readHosts(runtime.table))).toEqual([]);
  // Given back once: a second give-back of each finds nothing.
  expect((await Promise.all(ids.map((id) => freeServer(runtime.table, id)))).filter(Boolean)).toHaveLength(32);
  expect((await Promise.all(ids.map((id) => freeServer(runtime.table, id)))).filter(Boolean)).toHaveLength(0);
  expect((await readHosts(runtime.table)).map((h) => [h.usedVcpus, h.allocations])).toEqual(HOSTS.map(() => [0, {}]));
});

it.each(Array.from({ length: ROUNDS }, (_, i) => i))('round %i: 12 schedulers at once into one anti-affinity group: 4 placed, on 4 hosts', async (round) => {
  const group = await createGroup(runtime.table, {
    id: crypto.randomUUID(), name: `direct-${round}`, policy: 'anti-affinity', rules: {}, projectId: 'placement', userId: 'racer',
  });
  const { ids, outcomes } = await schedulersAtOnce(12, group.id);
  const placed = outcomes.filter((h): h is string => h !== null);
  expect(placed).toHaveLength(4);
  expect(new Set(placed).size).toBe(4);
  for (const id of ids) await freeServer(runtime.table, id);
  expect((await readHosts(runtime.table)).map((h) => [h.usedVcpus, h.groups[group.id]])).toEqual(HOSTS.map(() => [0, 0]));
});
