import { DeleteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { sweepExpiredClaims } from '../../functions/core/compute/sweeper.js';
import { readAttachable, reserve, Volumes } from '../../functions/core/shared/attachables.js';
import { keys } from '../../functions/core/shared/table.js';
import { chargeVolume, readUsage, settleStale } from '../../functions/core/volumes/quotas.js';
import { createVolume, readVolume } from '../../functions/core/volumes/volumes.js';
import { DEFAULT_TYPE } from '../../functions/core/volumes/types.js';
import { seedInstance, startBackends, type TestBackends } from '../support/emulators.js';
import { seedVolume } from '../support/volumes.js';

// What a dead API invocation leaves behind on Cinder's side, and what gives it back: a quota
// charge without its volume (a create that died between its two writes, a delete between its
// two), an extend that died while holding its volume `extending`, a multiattach reservation whose
// request never claimed its server. Each is undone after its lease, and only after it.

const LEASE = 50_000;
let backends: TestBackends;
beforeAll(async () => { backends = await startBackends(); });
afterAll(() => backends.stop());

const project = () => `rec-${crypto.randomUUID().slice(0, 8)}`;
const caller = (projectId: string) => ({ userId: 'u', projectId, roles: ['member', 'reader'], isAdmin: false });

it('a create that died between its charge and its volume: counted until the lease ends, then given back', async () => {
  const { table } = backends;
  const p = project();
  const t0 = Date.now();
  await chargeVolume({ table, leaseMs: LEASE }, p, crypto.randomUUID(), 7, t0); // the volume never came
  expect(await readUsage(table, p)).toMatchObject({ volumes: 1, gigabytes: 7 });
  expect(await settleStale({ table, leaseMs: LEASE }, p, t0 + LEASE - 1)).toBe(0);
  expect(await readUsage(table, p)).toMatchObject({ volumes: 1, gigabytes: 7 });
  expect(await settleStale({ table, leaseMs: LEASE }, p, t0 + LEASE + 1)).toBe(1);
  expect(await readUsage(table, p)).toMatchObject({ volumes: 0, gigabytes: 0, counted: {} });
});

it('a delete that died between removing its volume and giving back: settled once, and a live volume never', async () => {
  const { table } = backends;
  const p = project();
  const deps = { table, leaseMs: LEASE };
  const made = (size: number, requestId = `req-${crypto.randomUUID()}`) => createVolume(deps, caller(p), {
    requestId, projectId: p, size, name: null, description: null, volumeType: DEFAULT_TYPE, metadata: {}, availabilityZone: 'nova',
  });
  const [gone, kept] = [await made(3), await made(4)];
  await table.db.send(new DeleteCommand({ TableName: table.name, Key: keys.volume(gone.id) }));
  const later = Date.now() + LEASE + 1;
  expect(await settleStale(deps, p, later)).toBe(1);
  expect(await settleStale(deps, p, later)).toBe(0);
  expect(await readUsage(table, p)).toMatchObject({ volumes: 1, gigabytes: 4 });
  expect(await readVolume(table, kept.id)).toMatchObject({ size: 4 });
});

it('an extend that died while extending: the sweeper ends it as Cinder\'s failed extend, and the quota follows the size', async () => {
  const { table } = backends;
  const p = project();
  const deps = { table, leaseMs: LEASE };
  const volume = await createVolume(deps, caller(p), {
    requestId: `req-${crypto.randomUUID()}`, projectId: p, size: 2, name: null, description: null, volumeType: DEFAULT_TYPE, metadata: {},
    availabilityZone: 'nova',
  });
  // Its first write (extending, under a lease) and its charge of the growth, then nothing.
  const t0 = Date.now();
  await table.db.send(new UpdateCommand({
    TableName: table.name, Key: keys.volume(volume.id),
    UpdateExpression: 'SET #s = :e, extendingTo = :to, previousStatus = :a, leaseUntil = :l, leaseShard = :sh',
    ExpressionAttributeNames: { '#s': 'status' },
    ExpressionAttributeValues: { ':e': 'extending', ':to': 5, ':a': 'available', ':l': t0 + LEASE, ':sh': 'LEASE#0' },
  }));
  await table.db.send(new UpdateCommand({
    TableName: table.name, Key: { pk: `VOLUMEUSAGE#${p}`, sk: 'META' },
    UpdateExpression: 'ADD gigabytes :g SET counted.#v = :e', ExpressionAttributeNames: { '#v': volume.id },
    ExpressionAttributeValues: { ':g': 3, ':e': { size: 5, at: t0 } },
  }));
  expect(await sweepExpiredClaims(table, t0 + LEASE - 1)).toBe(0);
  expect((await readVolume(table, volume.id))?.status).toBe('extending');
  expect(await sweepExpiredClaims(table, t0 + LEASE + 1)).toBe(1);
  expect(await readVolume(table, volume.id)).toMatchObject({ status: 'error_extending', size: 2 });
  await settleStale(deps, p, t0 + LEASE + 1);
  expect(await readUsage(table, p)).toMatchObject({ volumes: 1, gigabytes: 2 });
});

it('a multiattach reservation whose request never claimed its server is taken off by the sweeper after its lease', async () => {
  const { table } = backends;
  const id = await seedVolume(table, { multiattach: true });
  const [x, y] = [await seedInstance(table), await seedInstance(table)];
  const t0 = Date.now();
  // The item carries the latest reservation's lease (x's, the earlier one here): the sweeper visits then.
  await reserve(table, Volumes, { id, instanceId: y.id, projectId: 'demo', requestId: 'req-later', now: t0 + 10, leaseMs: LEASE });
  await reserve(table, Volumes, { id, instanceId: x.id, projectId: 'demo', requestId: 'req-dead', now: t0, leaseMs: LEASE });
  expect(Object.keys((await readAttachable(table, Volumes, id))?.attachments ?? {}).sort()).toEqual([x.id, y.id].sort());
  // Neither request claimed its server: past the first lease only the first goes, and the item's
  // lease becomes the second's; past that one, the second.
  expect(await sweepExpiredClaims(table, t0 + LEASE + 5)).toBe(1);
  const between = await readAttachable(table, Volumes, id);
  expect([Object.keys(between?.attachments ?? {}), between?.status, between?.leaseUntil]).toEqual([[y.id], 'in-use', t0 + 10 + LEASE]);
  expect(await sweepExpiredClaims(table, t0 + LEASE + 20)).toBe(1);
  const after = await readAttachable(table, Volumes, id);
  expect(after).toMatchObject({ status: 'available', attachments: {} });
  expect(after?.leaseUntil).toBeUndefined();
});
