import { readInstance } from '../functions/core/compute/readInstance.js';
import { SimulatedDriver } from '../functions/core/compute/simulatedDriver.js';
import { runOperation } from '../functions/core/compute/worker.js';
import { readHosts, seedHosts, serviceIdOf } from '../functions/core/placement/hosts.js';
import { CapturingQueue, startApiOnly } from '../test/support/emulators.js';
import { SeededRandom } from '../test/support/faults/random.js';
import { capacityViolations } from '../test/support/placement.js';

// `npx tsx bench/moveRaces.ts [--rounds N]`: the figures of the moves' races the tests assert
// (test/integration/moveRaces.test.ts), printed: migrate racing a soft reboot and (every other
// round) a delete, and evacuate racing its host coming back; how many of each were admitted,
// refused, and the violations found (a server held on other than exactly one host, none once
// deleted; a host over capacity). Every violation count must be 0.

const args = process.argv.slice(2);
const roundsArg = args.indexOf('--rounds');
const ROUNDS = roundsArg >= 0 ? Number(args[roundsArg + 1]) : 20;
const IMAGE = '70a599e0-31e7-49b7-b260-868f441e862b';

const queue = new CapturingQueue();
const api = await startApiOnly(queue);
await seedHosts(api.table, ['b1', 'b2', 'b3'].map((name) => ({ name, zone: 'nova', vcpus: 256, ram: 262_144, disk: 10_000 })));
const admin = api.nova.as('admin:admin');
await admin.request('PUT', '/os-quota-sets/admin', { quota_set: { instances: -1, cores: -1, ram: -1 } });
const worker = { table: api.table, driver: new SimulatedDriver(api.table, { stepMs: 0 }), runLeaseMs: 60_000, claimLeaseMs: 600_000 };
const drain = () => queue.messages.splice(0);
const runAll = async () => { for (const msg of drain()) await runOperation(worker, msg); };
const heldOn = async (id: string) => (await readHosts(api.table)).filter((h) => h.allocations?.[id]).map((h) => h.name);
const pause = (random: SeededRandom, after = 0) => new Promise((r) => setTimeout(r, after + random.int(12)));

async function bootOn(host: string): Promise<string> {
  const res = await admin.post('/servers', { server: { name: 'bench', flavorRef: '1', imageRef: IMAGE, availability_zone: `nova:${host}` } });
  await runAll();
  return res.body.server.id;
}

const migrate = { migrateWon: 0, rebootWon: 0, bothRefused: 0, deleted: 0, violations: 0 };
for (let round = 0; round < ROUNDS; round++) {
  const random = new SeededRandom(2100 + round);
  const id = await bootOn(['b1', 'b2', 'b3'][random.int(3)]!);
  const withDelete = round % 2 === 1;
  const [m, r] = await Promise.all([
    pause(random).then(() => admin.action(id, { migrate: null })),
    pause(random, random.chance(0.5) ? 15 : 0).then(() => admin.action(id, { reboot: { type: 'SOFT' } })),
    ...(withDelete ? [pause(random).then(() => admin.delete(`/servers/${id}`))] : []),
  ]);
  if (m!.status === 202) migrate.migrateWon++;
  else if (r!.status === 202) migrate.rebootWon++;
  else migrate.bothRefused++;
  if (!withDelete && (m!.status === 202) === (r!.status === 202)) migrate.violations++;
  await runAll();
  let server = await readInstance(api.table, id);
  if (server && !server.deleted && server.vmState === 'resized') {
    await admin.action(id, { confirmResize: null });
    await runAll();
    server = await readInstance(api.table, id);
  }
  const gone = !server || server.deleted === true;
  if (gone) migrate.deleted++;
  const on = await heldOn(id);
  if (gone ? on.length !== 0 : on.length !== 1 || on[0] !== server!.host) migrate.violations++;
}

const setDown = (down: boolean) => admin.atVersion('2.53').request('PUT', `/os-services/${serviceIdOf('b1')}`, { forced_down: down });
const evacuate = { evacuated: 0, refused: 0, violations: 0 };
for (let round = 0; round < ROUNDS; round++) {
  const random = new SeededRandom(2200 + round);
  const id = await bootOn('b1');
  await setDown(true);
  const [e] = await Promise.all([pause(random).then(() => admin.atVersion('2.29').action(id, { evacuate: {} })), pause(random).then(() => setDown(false))]);
  await runAll();
  const server = (await readInstance(api.table, id))!;
  const on = await heldOn(id);
  if (e!.status === 200) {
    evacuate.evacuated++;
    if (server.host === 'b1' || on.length !== 1 || on[0] !== server.host) evacuate.violations++;
  } else {
    evacuate.refused++;
    if (server.host !== 'b1' || on.join() !== 'b1') evacuate.violations++;
  }
}
const overCapacity = capacityViolations(await readHosts(api.table)).length;

console.log(`race                                   rounds  outcomes                                                   violations`);
console.log(`migrate vs soft reboot (and delete)    ${String(ROUNDS).padStart(6)}  migrate ${migrate.migrateWon}, reboot ${migrate.rebootWon}, both refused ${migrate.bothRefused}, deleted ${migrate.deleted}`.padEnd(97) + migrate.violations);
console.log(`evacuate vs its host coming back       ${String(ROUNDS).padStart(6)}  evacuated ${evacuate.evacuated}, refused 400 ${evacuate.refused}`.padEnd(97) + evacuate.violations);
console.log(`hosts over capacity or not the sum of their allocations: ${overCapacity}`);
await api.stop();
