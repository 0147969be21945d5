import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { readCharge, readCharges, usageKey } from '../../functions/core/placement/quotas/charges.js';
import { setProjectLimits } from '../../functions/core/placement/quotas/limits.js';
import { chargeServers, giveBackServer, readUsage, settleStale } from '../../functions/core/placement/quotas/usage.js';
import { Forbidden } from '../../functions/core/shared/errors.js';
import { keys, makeTable } from '../../functions/core/shared/table.js';
import { CREDENTIALS, REGION } from '../../local/emulators.js';
import { startBackends, type TestBackends } from '../support/emulators.js';

// The compute quota's charges on the emulator: the counters on a usage item of a fixed size, one
// charge item per server beside them, both written in one transaction. What must hold: N charges
// at once at the limit admit exactly what fits; a retry of a request is charged once; a give-back
// is exact and once; the counters always equal the sum of the charges; a charge whose server never
// came (or went without giving back) is settled after its lease, not before; a usage item of the
// previous shape (every server named in its `counted` map) keeps working and drains.

const LEASE = 50_000;
const SMALL = { vcpus: 1, ram: 512 };
let backends: TestBackends;
beforeAll(async () => { backends = await startBackends(); });
afterAll(() => backends.stop());

const project = () => `qc-${crypto.randomUUID().slice(0, 8)}`;
const ids = (n: number) => Array.from({ length: n }, () => crypto.randomUUID());
const deps = () => ({ table: backends.table, leaseMs: LEASE });

/** The counters equal the sum of the charges (the transaction's whole point). */
async function expectBalanced(p: string) {
  const charges = [...(await readCharges(backends.table, p)).values()];
  const usage = await readUsage(backends.table, p);
  expect(usage).toEqual({
    instances: charges.length, cores: charges.reduce((n, c) => n + c.cores, 0), ram: charges.reduce((n, c) => n + c.ram, 0),
  });
  return usage;
}

it('40 requests at once against an instances quota of 10: exactly 10 charged, and all given back exactly once', async () => {
  const p = project();
  await setProjectLimits(backends.table, p, { instances: 10 });
  const requests = ids(40);
  const answers = await Promise.allSettled(requests.map((id) => chargeServers(deps(), p, [id], SMALL, 1, Date.now())));
  expect(answers.filter((a) => a.status === 'fulfilled')).toHaveLength(10);
  for (const a of answers) if (a.status === 'rejected') expect(a.reason).toBeInstanceOf(Forbidden);
  expect(await expectBalanced(p)).toEqual({ instances: 10, cores: 10, ram: 5120 });

  const charged = requests.filter((_, i) => answers[i]!.status === 'fulfilled');
  // Every give-back twice at once (a redelivered delete beside a settler): each gives back once.
  const given = await Promise.all(charged.flatMap((id) => [giveBackServer(backends.table, p, id), giveBackServer(backends.table, p, id)]));
  expect(given.filter(Boolean)).toHaveLength(10);
  expect(await expectBalanced(p)).toEqual({ instances: 0, cores: 0, ram: 0 });
});

it('a retry of the same request is charged once, whether it comes after the first or beside it', async () => {
  const p = project();
  const servers = ids(3);
  const both = await Promise.all([chargeServers(deps(), p, servers, SMALL, 1, Date.now()), chargeServers(deps(), p, servers, SMALL, 1, Date.now())]);
  expect(both).toEqual([3, 3]);
  expect(await chargeServers(deps(), p, servers, SMALL, 1, Date.now())).toBe(3);
  expect(await expectBalanced(p)).toEqual({ instances: 3, cores: 3, ram: 1536 });
});

it('a retry of a request whose attempt died giving its charges back (its first given back, not the others) gives those back and is charged anew', async () => {
  const p = project();
  const servers = ids(3);
  expect(await chargeServers(deps(), p, servers, SMALL, 1, Date.now())).toBe(3);
  expect(await giveBackServer(backends.table, p, servers[0]!)).toBe(true);
  expect(await chargeServers(deps(), p, servers, SMALL, 1, Date.now())).toBe(3);
  expect(await expectBalanced(p)).toEqual({ instances: 3, cores: 3, ram: 1536 });
});

it('a give-back settling a charge it read gives back that charge only once, two at once', async () => {
  const p = project();
  const [id] = ids(1);
  await chargeServers(deps(), p, [id!], { vcpus: 2, ram: 2048 }, 1, Date.now());
  const read = (await readCharge(backends.table, p, id!))!;
  expect(await Promise.all([giveBackServer(backends.table, p, id!, read), giveBackServer(backends.table, p, id!, read)])).toEqual(expect.arrayContaining([true, false]));
  expect(await giveBackServer(backends.table, p, id!)).toBe(false);
  expect(await expectBalanced(p)).toEqual({ instances: 0, cores: 0, ram: 0 });
});

it('the usage item keeps its size whatever the project\'s size; a multiple create past 99 servers is charged in parts', async () => {
  const p = project();
  await setProjectLimits(backends.table, p, { instances: -1, cores: -1, ram: -1 });
  const small = await backends.table.db.send(new GetCommand({ TableName: backends.table.name, Key: usageKey(p) }));
  expect(small.Item).toBeUndefined();
  expect(await chargeServers(deps(), p, ids(1), SMALL, 1, Date.now())).toBe(1);
  expect(await chargeServers(deps(), p, ids(250), SMALL, 1, Date.now())).toBe(250);
  const after = (await backends.table.db.send(new GetCommand({ TableName: backends.table.name, Key: usageKey(p) }))).Item;
  expect(Object.keys(after!).sort()).toEqual(['cores', 'instances', 'pk', 'ram', 'sk']);
  // Its numbers' digits aside, the same bytes as a project of one server's (the map named each: 60 bytes a server).
  expect(JSON.stringify(after).length).toBeLessThan(120);
  expect(await expectBalanced(p)).toEqual({ instances: 251, cores: 251, ram: 251 * 512 });
});

it('past 99 servers: as many as fit down to min_count, else Nova\'s 403 with nothing left charged', async () => {
  const p = project();
  await setProjectLimits(backends.table, p, { instances: 150, cores: -1, ram: -1 });
  await expect(chargeServers(deps(), p, ids(200), SMALL, 200, Date.now())).rejects.toThrow('Quota exceeded for instances: Requested 200, but already used 0 of 150 instances');
  expect(await expectBalanced(p)).toEqual({ instances: 0, cores: 0, ram: 0 });
  expect(await chargeServers(deps(), p, ids(200), SMALL, 1, Date.now())).toBe(150);
  expect(await expectBalanced(p)).toEqual({ instances: 150, cores: 150, ram: 150 * 512 });
});

it('a charge whose server never came, or went without giving back: kept until its lease ends, then given back; a live server\'s kept', async () => {
  const p = project();
  const t0 = Date.now();
  const [never, live, gone] = ids(3);
  await chargeServers(deps(), p, [never!, live!, gone!], SMALL, 3, t0);
  await backends.table.db.send(new PutCommand({ TableName: backends.table.name, Item: { ...keys.instance(live!), id: live, projectId: p } }));
  await backends.table.db.send(new PutCommand({ TableName: backends.table.name, Item: { ...keys.instance(gone!), id: gone, projectId: p, deleted: true } }));
  expect(await settleStale(deps(), p, t0 + LEASE - 1)).toBe(0);
  expect((await readUsage(backends.table, p)).instances).toBe(3);
  expect(await Promise.all([settleStale(deps(), p, t0 + LEASE + 1), settleStale(deps(), p, t0 + LEASE + 1)])).toEqual(expect.arrayContaining([2, 0]));
  expect([...(await readCharges(backends.table, p)).keys()]).toEqual([live]);
  expect(await expectBalanced(p)).toEqual({ instances: 1, cores: 1, ram: 512 });
});

it('a usage item of the previous shape (a `counted` map): its retries, give-backs and settling still work, and new charges go to items', async () => {
  const p = project();
  const t0 = Date.now();
  const [a, b, c] = ids(3);
  await setProjectLimits(backends.table, p, { instances: 3 });
  const entry = { cores: 1, ram: 512, at: t0 };
  await backends.table.db.send(new PutCommand({
    TableName: backends.table.name, Item: { ...usageKey(p), instances: 2, cores: 2, ram: 1024, counted: { [a!]: entry, [b!]: entry } },
  }));
  expect([...(await readCharges(backends.table, p)).values()].map((ch) => ch.inMap)).toEqual([true, true]);
  await expectBalanced(p);
  // A retry of the request the previous version charged: not charged again.
  expect(await chargeServers(deps(), p, [a!], SMALL, 1, t0)).toBe(1);
  expect((await readUsage(backends.table, p)).instances).toBe(2);
  // A new charge: an item of its own, the map left as it is; then the limit holds across both.
  expect(await chargeServers(deps(), p, [c!], SMALL, 1, t0)).toBe(1);
  expect((await readCharge(backends.table, p, c!))?.inMap).toBe(false);
  await expect(chargeServers(deps(), p, ids(1), SMALL, 1, t0)).rejects.toThrow('already used 3 of 3 instances');
  // The map's give-back: once, two at once.
  expect(await Promise.all([giveBackServer(backends.table, p, a!), giveBackServer(backends.table, p, a!)])).toEqual(expect.arrayContaining([true, false]));
  // The map's stale charge (its server never came) settled after the lease.
  await backends.table.db.send(new PutCommand({ TableName: backends.table.name, Item: { ...keys.instance(c!), id: c, projectId: p } }));
  expect(await settleStale(deps(), p, t0 + LEASE + 1)).toBe(1);
  const item = (await backends.table.db.send(new GetCommand({ TableName: backends.table.name, Key: usageKey(p) }))).Item!;
  expect(item.counted).toEqual({});
  expect([...(await readCharges(backends.table, p)).keys()]).toEqual([c]);
  expect(await expectBalanced(p)).toEqual({ instances: 1, cores: 1, ram: 512 });
});

it('a transaction that lost to another on the same counters (DynamoDB\'s TransactionConflict, which the emulator never answers) is tried again', async () => {
  const p = project();
  // A client of its own, so that what it fails is only this test's (the same credentials: DynamoDB
  // Local keeps a database per access key).
  const table = makeTable(backends.table.name, new DynamoDBClient({ endpoint: backends.emulators.dynamodbEndpoint, region: REGION, credentials: CREDENTIALS }));
  let conflicts = 2;
  table.db.middlewareStack.add((next, context) => async (args) => {
    if (!String(context.commandName).startsWith('TransactWrite') || conflicts === 0) return next(args);
    conflicts--;
    const members = (args.input as { TransactItems: unknown[] }).TransactItems;
    throw Object.assign(new Error('Transaction cancelled'), {
      name: 'TransactionCanceledException', CancellationReasons: members.map((_, i) => ({ Code: i === 0 ? 'TransactionConflict' : 'None' })),
    });
  });
  const [id] = ids(1);
  expect(await chargeServers({ table, leaseMs: LEASE }, p, [id!], SMALL, 1, Date.now())).toBe(1);
  expect(conflicts).toBe(0);
  conflicts = 2;
  expect(await giveBackServer(table, p, id!)).toBe(true);
  expect(conflicts).toBe(0);
  expect(await expectBalanced(p)).toEqual({ instances: 0, cores: 0, ram: 0 });
});
