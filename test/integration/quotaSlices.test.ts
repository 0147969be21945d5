import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { readCharge, readCharges, usageKey } from '../../functions/core/placement/quotas/charges.js';
import { setClassLimits, setProjectLimits } from '../../functions/core/placement/quotas/limits.js';
import { readSlices } from '../../functions/core/placement/quotas/slices.js';
import { chargeServers, giveBackServer, readUsage, settleStale } from '../../functions/core/placement/quotas/usage.js';
import { Forbidden } from '../../functions/core/shared/errors.js';
import { makeTable, shardOf, type Table } from '../../functions/core/shared/table.js';
import { CREDENTIALS, REGION } from '../../local/emulators.js';
import { startBackends, type TestBackends } from '../support/emulators.js';

// The quota of a project spread over usage slices (an escrow of room taken from its counters),
// on the emulator. What must hold: N creates at once never pass the limit, whichever slices their
// room is in; a retry is charged once, also after the slices were raised; a give-back is once and
// returns the room to its slice; a lowered limit drains the slices, so that the next creates are
// judged by it; a server bigger than 1/K of a limit still fits; the counters equal the charges
// plus the room held, and the usage shown is the charges; an unspread project's requests are
// exactly those of before.

const LEASE = 50_000;
const SMALL = { vcpus: 1, ram: 512 };
let backends: TestBackends;
beforeAll(async () => { backends = await startBackends(); });
afterAll(() => backends.stop());

const project = () => `qs-${crypto.randomUUID().slice(0, 8)}`;
const ids = (n: number) => Array.from({ length: n }, () => crypto.randomUUID());
const client = () => new DynamoDBClient({ endpoint: backends.emulators.dynamodbEndpoint, region: REGION, credentials: CREDENTIALS });
/** The same table, with `p` spread over `slices` usage slices. */
const spread = (p: string, slices: number) => makeTable(backends.table.name, client(), { [p]: { listingPartitions: 1, usageSlices: slices } });
const deps = (table: Table) => ({ table, leaseMs: LEASE });

/** The counters equal the charges plus the room the slices hold, and the usage shown is the charges. */
async function expectBalanced(table: Table, p: string) {
  const charges = [...(await readCharges(table, p)).values()];
  const { counters, rooms } = await readSlices(table, p);
  const sum = (f: (c: { cores: number; ram: number }) => number) => charges.reduce((n, c) => n + f(c), 0);
  const held = (r: 'instances' | 'cores' | 'ram') => rooms.reduce((n, room) => n + room[r], 0);
  for (const room of rooms) expect(Math.min(room.instances, room.cores, room.ram)).toBeGreaterThanOrEqual(0);
  expect(counters).toEqual({ instances: charges.length + held('instances'), cores: sum((c) => c.cores) + held('cores'), ram: sum((c) => c.ram) + held('ram') });
  const usage = await readUsage(table, p);
  expect(usage).toEqual({ instances: charges.length, cores: sum((c) => c.cores), ram: sum((c) => c.ram) });
  return usage;
}

/** A server id whose charge takes its room from `slice` of `slices`. */
function idOnSlice(slice: number, slices: number): string {
  if (slice < 0 || slice >= slices) throw new Error(`no slice ${slice} of ${slices}`);
  for (;;) {
    const id = crypto.randomUUID();
    if (shardOf(id, slices) === slice) return id;
  }
}

/** Runs `interloper` once, just before the first TransactWriteItems `matches` picks is sent. */
function before(table: Table, matches: (items: Record<string, any>[]) => boolean, interloper: () => Promise<unknown>) {
  let done = false;
  table.db.middlewareStack.add((next, context) => async (args) => {
    const items = (args.input as { TransactItems?: Record<string, any>[] }).TransactItems;
    if (!done && context.commandName === 'TransactWriteItemsCommand' && items && matches(items)) {
      done = true;
      await interloper();
    }
    return next(args);
  }, { step: 'initialize' });
  return () => done;
}

/** Each request charged at once; how many were admitted (the others must be Nova's 403). */
async function chargedAtOnce(table: Table, p: string, requests: string[][]) {
  const answers = await Promise.allSettled(requests.map((servers) => chargeServers(deps(table), p, servers, SMALL, 1, Date.now())));
  for (const a of answers) if (a.status === 'rejected') expect(a.reason).toBeInstanceOf(Forbidden);
  return requests.filter((_, i) => answers[i]!.status === 'fulfilled').map((servers) => servers[0]!);
}

it.each([0, 1, 2])('round %i: 40 creates at once against 10 over 8 slices: exactly 10, and all given back once', async () => {
  const p = project();
  const table = spread(p, 8);
  await setProjectLimits(table, p, { instances: 10 });
  // Twice: the second time the room is in the slices the give-backs left it in, not in the counters.
  for (let pass = 0; pass < 2; pass++) {
    const admitted = await chargedAtOnce(table, p, ids(40).map((id) => [id]));
    expect(admitted).toHaveLength(10);
    expect(await expectBalanced(table, p)).toEqual({ instances: 10, cores: 10, ram: 5120 });
    const given = await Promise.all(admitted.flatMap((id) => [giveBackServer(table, p, id), giveBackServer(table, p, id)]));
    expect(given.filter(Boolean)).toHaveLength(10);
    expect(await expectBalanced(table, p)).toEqual({ instances: 0, cores: 0, ram: 0 });
  }
}, 60_000);

it('creates and deletes at once never pass the limit, and the room they leave is all found again', async () => {
  const p = project();
  const table = spread(p, 8);
  await setProjectLimits(table, p, { instances: 10 });
  const first = await chargedAtOnce(table, p, ids(10).map((id) => [id]));
  expect(first).toHaveLength(10);
  const [admitted] = await Promise.all([
    chargedAtOnce(table, p, ids(20).map((id) => [id])),
    Promise.all(first.slice(0, 5).map((id) => giveBackServer(table, p, id))),
  ]);
  expect(admitted.length).toBeLessThanOrEqual(5);
  expect((await expectBalanced(table, p)).instances).toBe(5 + admitted.length);
  // What is left fits, one at a time, up to the limit exactly: no room was lost in a slice.
  const more = [];
  for (const id of ids(10)) more.push(...await chargedAtOnce(table, p, [[id]]));
  expect(more).toHaveLength(5 - admitted.length);
  expect((await expectBalanced(table, p)).instances).toBe(10);
}, 60_000);

it('a retry of the same request is charged once: after it, beside it, and after the slices were raised', async () => {
  const p = project();
  const before = spread(p, 2);
  const servers = ids(3);
  expect(await Promise.all([chargeServers(deps(before), p, servers, SMALL, 1, Date.now()), chargeServers(deps(before), p, servers, SMALL, 1, Date.now())])).toEqual([3, 3]);
  expect(await chargeServers(deps(before), p, servers, SMALL, 1, Date.now())).toBe(3);
  const after = spread(p, 8);
  expect(await chargeServers(deps(after), p, servers, SMALL, 1, Date.now())).toBe(3);
  expect(await expectBalanced(after, p)).toEqual({ instances: 3, cores: 3, ram: 1536 });
  // Given back, under the raised count, to the slice each was charged on.
  for (const id of servers) expect(await giveBackServer(after, p, id)).toBe(true);
  expect(await expectBalanced(after, p)).toEqual({ instances: 0, cores: 0, ram: 0 });
});

it('a charge made before the project was spread is found, and given back to the counters', async () => {
  const p = project();
  const [id] = ids(1);
  expect(await chargeServers(deps(backends.table), p, [id!], SMALL, 1, Date.now())).toBe(1);
  const table = spread(p, 8);
  expect(await readCharge(table, p, id!)).toMatchObject({ cores: 1, ram: 512, inMap: false });
  expect(await expectBalanced(table, p)).toEqual({ instances: 1, cores: 1, ram: 512 });
  expect(await giveBackServer(table, p, id!)).toBe(true);
  expect(await expectBalanced(table, p)).toEqual({ instances: 0, cores: 0, ram: 0 });
  expect((await readSlices(table, p)).counters).toEqual({ instances: 0, cores: 0, ram: 0 });
});

it('a give-back is once, two at once included, and returns the room to its slice, not the counters', async () => {
  const p = project();
  const table = spread(p, 8);
  const [id] = ids(1);
  expect(await chargeServers(deps(table), p, [id!], { vcpus: 2, ram: 2048 }, 1, Date.now())).toBe(1);
  const charge = (await readCharge(table, p, id!))!;
  expect(charge.slice).toBeGreaterThanOrEqual(0);
  const counters = (await readSlices(table, p)).counters;
  expect(await Promise.all([giveBackServer(table, p, id!, charge), giveBackServer(table, p, id!, charge)])).toEqual(expect.arrayContaining([true, false]));
  expect(await giveBackServer(table, p, id!)).toBe(false);
  expect(await expectBalanced(table, p)).toEqual({ instances: 0, cores: 0, ram: 0 });
  expect((await readSlices(table, p)).counters).toEqual(counters);
});

it('a lowered limit drains the slices: the next creates are judged by it', async () => {
  const p = project();
  const table = spread(p, 8);
  await setProjectLimits(table, p, { instances: 100, cores: 100 });
  expect(await chargedAtOnce(table, p, ids(5).map((id) => [id]))).toHaveLength(5);
  // The room the refills took is held in the slices, counted in the counters.
  expect((await readSlices(table, p)).counters.instances).toBeGreaterThan(5);
  await setProjectLimits(table, p, { instances: 6 });
  expect((await readSlices(table, p)).counters.instances).toBe(5);
  expect(await chargedAtOnce(table, p, ids(10).map((id) => [id]))).toHaveLength(1);
  expect(await expectBalanced(table, p)).toEqual({ instances: 6, cores: 6, ram: 3072 });
});

it('a create that takes room from a slice while it is drained: no slice is left below 0, and the new limit holds after', async () => {
  const p = project();
  const table = spread(p, 8);
  await setProjectLimits(table, p, { instances: 100, cores: 100 });
  expect(await chargedAtOnce(table, p, ids(5).map((id) => [id]))).toHaveLength(5);
  const full = (await readSlices(table, p)).rooms.findIndex((room) => room.instances > 0);
  expect(full).toBeGreaterThanOrEqual(0);
  // Before the drain's first write, a create (another API, its own client) takes room from that
  // slice; before each later one, the slices as they are: a slice below 0 would have C below its
  // charges, and a refill then admits past the new limit.
  const lowering = spread(p, 8);
  const seen: Awaited<ReturnType<typeof readSlices>>[] = [];
  let interloped = false;
  lowering.db.middlewareStack.add((next, context) => async (args) => {
    const items = (args.input as { TransactItems?: Record<string, any>[] }).TransactItems;
    if (context.commandName === 'TransactWriteItemsCommand' && items?.length === 2 && items[1]!.Update?.Key.pk === usageKey(p).pk) {
      if (!interloped && (interloped = true)) await chargeServers(deps(table), p, [idOnSlice(full, 8)], SMALL, 1, Date.now());
      seen.push(await readSlices(table, p));
    }
    return next(args);
  }, { step: 'initialize' });
  await setProjectLimits(lowering, p, { instances: 6 });
  expect(seen.length).toBeGreaterThanOrEqual(2);
  for (const { rooms } of seen) for (const room of rooms) expect(room.instances).toBeGreaterThanOrEqual(0);
  expect(await expectBalanced(table, p)).toEqual({ instances: 6, cores: 6, ram: 3072 });
  expect(await chargedAtOnce(table, p, ids(5).map((id) => [id]))).toHaveLength(0);
});

it('room gathered from slices a create took from meanwhile is not counted twice: the limit holds after', async () => {
  const p = project();
  const table = spread(p, 8);
  await setProjectLimits(table, p, { instances: 4 });
  // One server's room in each of slices 0 to 3, the counters at the limit.
  const singles = [0, 1, 2, 3].map((s) => idOnSlice(s, 8));
  for (const id of singles) expect(await chargeServers(deps(table), p, [id], SMALL, 1, Date.now())).toBe(1);
  for (const id of singles) expect(await giveBackServer(table, p, id)).toBe(true);
  // Two servers on slice 7: no slice holds both, so their room is gathered; before the gather is
  // written, another create takes slice 0's room.
  const gathering = spread(p, 8);
  const interloped = before(gathering, (items) => items.length > 2 && items.every((i) => /^SERVERUSAGE\d+#/.test(String(i.Update?.Key.pk))),
    () => chargeServers(deps(table), p, [idOnSlice(0, 8)], SMALL, 1, Date.now()));
  expect(await chargeServers(deps(gathering), p, [idOnSlice(7, 8), ...ids(1)], SMALL, 2, Date.now())).toBe(2);
  expect(interloped()).toBe(true);
  expect(await expectBalanced(table, p)).toEqual({ instances: 3, cores: 3, ram: 1536 });
  expect(await chargedAtOnce(table, p, ids(3).map((id) => [id]))).toHaveLength(1);
  expect(await expectBalanced(table, p)).toEqual({ instances: 4, cores: 4, ram: 2048 });
});

it('a lowered default class drains every spread project that may inherit it', async () => {
  const p = project();
  const table = spread(p, 4);
  await setClassLimits(table, 'default', { instances: 100, cores: 100 });
  expect(await chargedAtOnce(table, p, ids(3).map((id) => [id]))).toHaveLength(3);
  expect((await readSlices(table, p)).counters.instances).toBeGreaterThan(3);
  // Nova's default again, for the tests after this one.
  await setClassLimits(table, 'default', { instances: 10, cores: 20 });
  expect((await readSlices(table, p)).counters.instances).toBe(3);
  expect(await expectBalanced(table, p)).toEqual({ instances: 3, cores: 3, ram: 1536 });
});

it('a server bigger than 1/K of the ram limit fits while the project has room (K = 32)', async () => {
  const p = project();
  const table = spread(p, 32);
  const big = { vcpus: 2, ram: 4096 };
  for (const id of ids(10)) expect(await chargeServers(deps(table), p, [id], big, 1, Date.now())).toBe(1);
  await expect(chargeServers(deps(table), p, ids(1), big, 1, Date.now()))
    .rejects.toThrow('Quota exceeded for cores, instances: Requested 2, 1, but already used 20, 10 of 20, 10 cores, instances');
  expect(await expectBalanced(table, p)).toEqual({ instances: 10, cores: 20, ram: 40960 });
});

it('a multiple create takes as many as fit down to min_count, gathering the room other slices hold', async () => {
  const p = project();
  const table = spread(p, 8);
  await setProjectLimits(table, p, { instances: 12 });
  const singles = await chargedAtOnce(table, p, ids(8).map((id) => [id]));
  expect(singles).toHaveLength(8);
  for (const id of singles) await giveBackServer(table, p, id);
  // 12 of room, spread over the slices the singles came back to: the 20 asked get 12.
  expect(await chargeServers(deps(table), p, ids(20), SMALL, 1, Date.now())).toBe(12);
  await expect(chargeServers(deps(table), p, ids(2), SMALL, 2, Date.now())).rejects.toThrow('already used 12 of 12 instances');
  expect(await expectBalanced(table, p)).toEqual({ instances: 12, cores: 12, ram: 6144 });
});

it('a charge whose server never came is settled after its lease, back to its slice', async () => {
  const p = project();
  const table = spread(p, 8);
  const t0 = Date.now();
  expect(await chargeServers(deps(table), p, ids(3), SMALL, 3, t0)).toBe(3);
  expect(await settleStale(deps(table), p, t0 + LEASE - 1)).toBe(0);
  expect(await Promise.all([settleStale(deps(table), p, t0 + LEASE + 1), settleStale(deps(table), p, t0 + LEASE + 1)])).toEqual(expect.arrayContaining([3, 0]));
  expect(await expectBalanced(table, p)).toEqual({ instances: 0, cores: 0, ram: 0 });
});

it('an ordinary project beside a spread one makes exactly the requests it made before', async () => {
  const p = project();
  const table = makeTable(backends.table.name, client(), { [`${p}-other`]: { listingPartitions: 4, usageSlices: 8 } });
  const sent: { operation: string; keys: string[] }[] = [];
  table.db.middlewareStack.add((next, context) => async (args) => {
    const input = args.input as { Key?: { pk: string }; TransactItems?: Record<string, { Key?: { pk: string }; Item?: { pk: string } }>[] };
    const members = (input.TransactItems ?? []).map((m) => Object.values(m)[0]!);
    sent.push({ operation: String(context.commandName).replace(/Command$/, ''), keys: members.map((m) => (m.Key ?? m.Item)!.pk) });
    return next(args);
  }, { step: 'initialize' });
  await setProjectLimits(table, p, { instances: 5 });
  const [id] = ids(1);
  expect(await chargeServers(deps(table), p, [id!], SMALL, 1, Date.now())).toBe(1);
  expect(await readUsage(table, p)).toEqual({ instances: 1, cores: 1, ram: 512 });
  expect(await giveBackServer(table, p, id!)).toBe(true);
  expect(sent).toEqual([
    { operation: 'UpdateItem', keys: [] },
    { operation: 'GetItem', keys: [] }, { operation: 'GetItem', keys: [] },
    { operation: 'TransactWriteItems', keys: [usageKey(p).pk, `SERVERCHARGES#${p}`] },
    { operation: 'GetItem', keys: [] },
    { operation: 'BatchGetItem', keys: [] },
    { operation: 'TransactWriteItems', keys: [`SERVERCHARGES#${p}`, usageKey(p).pk] },
  ]);
});
