import { readHosts, seedHosts } from '../functions/core/placement/hosts.js';
import { freeServer } from '../functions/core/placement/allocations.js';
import { NO_VALID_HOST, schedule } from '../functions/core/placement/scheduler.js';
import { createGroup } from '../functions/core/placement/serverGroups.js';
import { DriverError } from '../functions/core/shared/errors.js';
import { startRuntime } from '../local/runtime.js';
import { Nova } from '../test/support/nova.js';
import { capacityViolations, concurrentCreates, hostsEmptied, settled } from '../test/support/placement.js';

// `npx tsx bench/placementRaces.ts [--rounds N]`: the figures of the placement races the tests
// assert (test/integration/placementRaces.test.ts), printed: per round, how many were admitted,
// refused and how many violations were found (over-capacity hosts, anti-affinity members sharing
// a host, allocations left after the deletes). Every violation count must be 0.

const args = process.argv.slice(2);
const roundsArg = args.indexOf('--rounds');
const ROUNDS = roundsArg >= 0 ? Number(args[roundsArg + 1]) : 5;
const IMAGE = '70a599e0-31e7-49b7-b260-868f441e862b';
const HOSTS = ['c0', 'c1', 'c2', 'c3'].map((name) => ({ name, zone: 'nova', vcpus: 8, ram: 16_384, disk: 1000 }));

const runtime = await startRuntime({ port: 0, driver: { stepMs: 0 }, computeConcurrency: 12 });
await seedHosts(runtime.table, HOSTS);
const admin = new Nova(runtime.apiUrl, 'admin:admin').atVersion('2.64');
const nova = new Nova(runtime.apiUrl, 'bench:placement').atVersion('2.64');
await admin.request('PUT', '/os-quota-sets/placement', { quota_set: { instances: -1, cores: -1, ram: -1, server_groups: -1, server_group_members: -1 } });

type Row = { race: string; round: number; attempts: number; admitted: number; refused: number; violations: number; ms: number };
const rows: Row[] = [];

async function schedulers(count: number, groupId?: string) {
  const ids = Array.from({ length: count }, () => crypto.randomUUID());
  const outcomes = await Promise.all(ids.map((serverId) => schedule(runtime.table, {
    serverId, vcpus: 1, ram: 512, disk: 1, now: Date.now(), leaseMs: 60_000, ...(groupId ? { groupId } : {}),
  }).then((p) => p.host, (err: unknown) => {
    if (err instanceof DriverError && err.message === NO_VALID_HOST) return null;
    throw err;
  })));
  return { ids, placed: outcomes.filter((h): h is string => h !== null) };
}

const sharing = (hosts: readonly (string | null)[]) => hosts.length - new Set(hosts).size;

for (let round = 0; round < ROUNDS; round++) {
  let t = performance.now();
  const cap = await schedulers(40);
  let violations = capacityViolations(await readHosts(runtime.table)).length;
  for (const id of cap.ids) await freeServer(runtime.table, id);
  violations += (await readHosts(runtime.table)).filter((h) => h.usedVcpus !== 0).length;
  rows.push({ race: '40 schedulers, 4 hosts x 8', round, attempts: 40, admitted: cap.placed.length, refused: 40 - cap.placed.length, violations, ms: performance.now() - t });

  t = performance.now();
  const group = await createGroup(runtime.table, { id: crypto.randomUUID(), name: `b${round}`, policy: 'anti-affinity', rules: {}, projectId: 'placement', userId: 'bench' });
  const aa = await schedulers(12, group.id);
  for (const id of aa.ids) await freeServer(runtime.table, id);
  rows.push({ race: '12 schedulers, anti-affinity, 4 hosts', round, attempts: 12, admitted: aa.placed.length, refused: 12 - aa.placed.length, violations: sharing(aa.placed), ms: performance.now() - t });

  t = performance.now();
  const answers = await concurrentCreates(nova, 40, 2100 + round, (i) => ({ name: `b-${round}-${i}`, flavorRef: '1', imageRef: IMAGE, networks: 'none' }));
  const ids: string[] = answers.filter((a) => a.status === 202).map((a) => a.body.server.id);
  const servers = await settled(admin, ids);
  let apiViolations = capacityViolations(await readHosts(runtime.table)).length;
  await Promise.all(ids.map((id) => nova.delete(`/servers/${id}`)));
  for (const id of ids) await nova.waitGone(id);
  apiViolations += (await hostsEmptied(runtime.table)).filter((h) => Object.keys(h.allocations).length > 0).length;
  const active = servers.filter((s) => s.status === 'ACTIVE');
  rows.push({ race: '40 creates via the API, 4 hosts x 8', round, attempts: 40, admitted: active.length, refused: 40 - active.length, violations: apiViolations, ms: performance.now() - t });
}

await runtime.stop();
const width = Math.max(...rows.map((r) => r.race.length));
console.log(`${'race'.padEnd(width)}  round  attempts  admitted  refused  violations      ms`);
for (const r of rows) {
  console.log(`${r.race.padEnd(width)}  ${String(r.round).padStart(5)}  ${String(r.attempts).padStart(8)}  ${String(r.admitted).padStart(8)}  ${String(r.refused).padStart(7)}  ${String(r.violations).padStart(10)}  ${r.ms.toFixed(0).padStart(6)}`);
}
const total = rows.reduce((n, r) => n + r.violations, 0);
console.log(`violations in ${rows.length} races: ${total}`);
process.exitCode = total === 0 ? 0 : 1;
