import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { itemSize } from '../../bench/billing.js';
import { chargeVolume, giveBackVolume, QuotaExceeded, readUsage } from '../../functions/core/volumes/quotas.js';
import { startBackends, type TestBackends } from '../support/emulators.js';

// Cinder's volume quota on the emulator: its counters and the `counted` map naming each charged
// volume, on one usage item. What must hold: N creates at once at the limit admit exactly what
// fits, the others Cinder's 413; a retry of a create is charged once; a give-back is exact and
// once, two at once; and the item stays under 1 KB at the quota's 10 volumes, so a charge is one
// write unit. That bound is why the map was kept where the compute quota moved its charges to
// items of their own (docs/quotas.md): the map cannot grow past the quota.

const LEASE = 50_000;
let backends: TestBackends;
beforeAll(async () => { backends = await startBackends(); });
afterAll(() => backends.stop());

const project = () => `vqu-${crypto.randomUUID().slice(0, 8)}`;
const ids = (n: number) => Array.from({ length: n }, () => crypto.randomUUID());
const deps = () => ({ table: backends.table, leaseMs: LEASE });

/** The counters equal the sum of the map's charges. */
async function expectBalanced(p: string) {
  const usage = await readUsage(backends.table, p);
  const sizes = Object.values(usage.counted).map((e) => e.size);
  expect({ volumes: usage.volumes, gigabytes: usage.gigabytes }).toEqual({ volumes: sizes.length, gigabytes: sizes.reduce((n, s) => n + s, 0) });
  return { volumes: usage.volumes, gigabytes: usage.gigabytes };
}

it('25 creates at once against the quota of 10 volumes: exactly 10 charged, the others Cinder\'s 413, all given back exactly once', async () => {
  const p = project();
  const volumes = ids(25);
  const answers = await Promise.allSettled(volumes.map((id) => chargeVolume(deps(), p, id, 3, Date.now())));
  expect(answers.filter((a) => a.status === 'fulfilled')).toHaveLength(10);
  for (const a of answers) {
    if (a.status === 'rejected') expect([a.reason instanceof QuotaExceeded, a.reason.message]).toEqual([true, 'Maximum number of volumes allowed (10) exceeded for quota \'volumes\'.']);
  }
  expect(await expectBalanced(p)).toEqual({ volumes: 10, gigabytes: 30 });
  const charged = volumes.filter((_, i) => answers[i]!.status === 'fulfilled');
  // Every give-back twice at once (a redelivered delete beside a settler): each gives back once.
  const given = await Promise.all(charged.flatMap((id) => [giveBackVolume(backends.table, p, id, { size: 3 }), giveBackVolume(backends.table, p, id, { size: 3 })]));
  expect(given.filter(Boolean)).toHaveLength(10);
  expect(await expectBalanced(p)).toEqual({ volumes: 0, gigabytes: 0 });
});

it('a retry of the same create is charged once, whether it comes after the first or beside it', async () => {
  const p = project();
  const [id] = ids(1);
  await Promise.all([chargeVolume(deps(), p, id!, 5, Date.now()), chargeVolume(deps(), p, id!, 5, Date.now())]);
  await chargeVolume(deps(), p, id!, 5, Date.now());
  expect(await expectBalanced(p)).toEqual({ volumes: 1, gigabytes: 5 });
});

it('at the quota\'s 10 volumes (1000G in all, a Keystone project id) the usage item is under 1 KB (662 bytes), and an 11th is refused', async () => {
  const p = crypto.randomUUID().replaceAll('-', '');
  for (const id of ids(10)) await chargeVolume(deps(), p, id, 100, Date.now());
  await expect(chargeVolume(deps(), p, ids(1)[0]!, 1, Date.now())).rejects.toThrow('Maximum number of volumes allowed (10) exceeded for quota \'volumes\'.');
  const item = (await backends.table.db.send(new GetCommand({ TableName: backends.table.name, Key: { pk: `VOLUMEUSAGE#${p}`, sk: 'META' } }))).Item!;
  expect(Object.keys(item.counted)).toHaveLength(10);
  expect(itemSize(marshall(item))).toBeLessThanOrEqual(1024);
});
