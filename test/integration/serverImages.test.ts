import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { ComputeDriver, OperationContext } from '../../functions/core/compute/driver.js';
import type { OperationName } from '../../functions/core/compute/catalogue.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import { runOperation } from '../../functions/core/compute/worker.js';
import type { Image } from '../../functions/core/images/image.js';
import { allImages, readImage } from '../../functions/core/images/store.js';
import type { Table } from '../../functions/core/shared/table.js';
import { alice, CapturingQueue, seedInstance, startApiOnly, uuid, type ApiOnly } from '../support/emulators.js';

// createImage and createBackup over HTTP, run by the worker through the simulated driver: the
// image record Nova makes (properties, visibility, owner), Nova's two answers (Location before
// 2.45, image_id from it), the lock that does not stop them, the image that a refused request
// never makes, a redelivery that makes no second image, a delete that takes the operation over
// (the queued image goes, as Nova's "Instance disappeared during snapshot" does), and backup
// rotation (the oldest beyond `rotation` deleted). A worker whose claim a delete took over after
// its take-up writes no image: its re-write of the record and its upload are fenced by the claim.

const RUNNING = 1;

const queue = new CapturingQueue();
let api: ApiOnly;
beforeAll(async () => { api = await startApiOnly(queue); });
afterAll(() => api.stop());

const driver = () => new SimulatedDriver(api.table, { stepMs: 0 });
const deps = () => ({ table: api.table, driver: driver(), runLeaseMs: 60_000, claimLeaseMs: 600_000 });
const imagesOf = async (serverId: string): Promise<Image[]> =>
  (await allImages(api.table)).filter((i) => i.properties.instance_uuid === serverId);
const live = (images: Image[]) => images.filter((i) => i.status !== 'deleted');

/** The simulated driver, with `then` run once right after the checkpoint that enters `taskState` passed. */
function afterCheckpoint(taskState: string, then: () => Promise<void>): ComputeDriver {
  const inner = driver();
  return new Proxy(inner, {
    get: (target, op: string) => (ctx: OperationContext) => target[op as OperationName]({
      ...ctx,
      checkpoint: async (requested) => {
        await ctx.checkpoint(requested);
        if (requested === taskState) await then();
      },
    }),
  });
}

/** The table as a worker sees it, with `first` run once before its first transaction is sent. */
function beforeFirstTransaction(table: Table, first: () => Promise<void>): Table {
  let pending: (() => Promise<void>) | undefined = first;
  const send = async (command: Parameters<Table['db']['send']>[0]) => {
    if (command instanceof TransactWriteCommand && pending) {
      const run = pending;
      pending = undefined;
      await run();
    }
    return table.db.send(command);
  };
  return { name: table.name, db: { send } as unknown as Table['db'] };
}

async function server(fields: Parameters<typeof seedInstance>[1] = {}) {
  const id = uuid();
  await seedInstance(api.table, { id, vmState: 'active', powerState: RUNNING, ...fields });
  return id;
}

describe('createImage', () => {
  it('answers 202 with Location before 2.45: a queued private image, active once the worker uploaded it', async () => {
    const id = await server();
    const res = await api.nova.action(id, { createImage: { name: 'snap-1', metadata: { k: 'v' } } });
    expect(res.status).toBe(202);
    const imageId = /\/image\/images\/([0-9a-f-]{36})$/.exec(res.headers.get('location') ?? '')?.[1];
    expect(imageId).toBeDefined();
    expect((await readInstance(api.table, id))?.taskState).toBe('image_snapshot_pending');
    const [queued] = await imagesOf(id);
    expect(queued).toMatchObject({ id: imageId, status: 'queued', name: 'snap-1', visibility: 'private', owner: alice.projectId, disk_format: null });
    expect(await runOperation(deps(), queue.take())).toBe('done');
    const shown = await api.nova.get(`/images/${imageId}`);
    expect(shown.body.image).toMatchObject({
      status: 'ACTIVE', name: 'snap-1', server: expect.objectContaining({ id }),
      metadata: expect.objectContaining({ image_type: 'snapshot', instance_uuid: id, k: 'v', user_id: 'alice' }),
    });
  });

  it('answers image_id from 2.45, without Location', async () => {
    const id = await server();
    const res = await api.nova.atVersion('2.45').action(id, { createImage: { name: 'snap-2' } });
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBeNull();
    expect(res.body).toEqual({ image_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect((await imagesOf(id)).map((i) => i.id)).toEqual([res.body.image_id]);
    queue.take();
  });

  // Nova's snapshot has no @check_instance_lock; rescue has (the rule the catalogue's ignoresLock states).
  it('is taken from a locked server\'s owner, where a rescue of it is refused', async () => {
    const id = await server({ locked: true, lockedBy: 'owner' });
    expect((await api.nova.action(id, { rescue: null })).status).toBe(409);
    const res = await api.nova.atVersion('2.45').action(id, { createImage: { name: 'locked-snap' } });
    expect(res.status).toBe(202);
    queue.take();
  });

  it('a refused request makes no image: a server in the wrong state is 409, the image service is untouched', async () => {
    const id = await server({ vmState: 'error' });
    const before = (await allImages(api.table)).length;
    const res = await api.nova.action(id, { createImage: { name: 'never' } });
    expect(res.status).toBe(409);
    expect(res.body.conflictingRequest.message).toBe(`Cannot 'createImage' instance ${id} while it is in vm_state error`);
    expect((await allImages(api.table)).length).toBe(before);
  });

  it('a second createImage while the first runs is Nova\'s 409 naming its task_state', async () => {
    const id = await server();
    expect((await api.nova.action(id, { createImage: { name: 'first' } })).status).toBe(202);
    const second = await api.nova.action(id, { createImage: { name: 'second' } });
    expect(second.status).toBe(409);
    expect(second.body.conflictingRequest.message).toBe(`Cannot 'createImage' instance ${id} while it is in task_state image_snapshot_pending`);
    expect(live(await imagesOf(id))).toHaveLength(1);
    queue.take();
  });

  it('bad bodies get Nova\'s 400 and change nothing', async () => {
    const id = await server();
    for (const body of [{ createImage: {} }, { createImage: { name: '' } }, { createImage: { name: 'x', metadata: { k: 1 } } }, { createImage: { name: 'x', extra: 1 } }]) {
      expect((await api.nova.action(id, body)).status).toBe(400);
    }
    expect(await imagesOf(id)).toEqual([]);
    expect((await readInstance(api.table, id))?.taskState).toBeUndefined();
  });

  it('a redelivered message finds the operation done and makes no second image', async () => {
    const id = await server();
    await api.nova.action(id, { createImage: { name: 'once' } });
    const message = queue.take();
    expect(await runOperation(deps(), message)).toBe('done');
    expect(await runOperation(deps(), message)).toBe('dropped');
    expect((await imagesOf(id)).map((i) => i.status)).toEqual(['active']);
  });

  it('a worker that finds the record missing (the API died after its claim) writes it itself', async () => {
    const id = await server();
    await api.nova.action(id, { createImage: { name: 'lost-answer' } });
    const message = queue.take();
    const image = message.params.image as Image;
    // As if the API had died between its claim and its write of the record.
    await api.table.db.send(new (await import('@aws-sdk/lib-dynamodb')).DeleteCommand({
      TableName: api.table.name, Key: { pk: 'IMAGES', sk: `IMAGE#${image.id}` },
    }));
    expect(await runOperation(deps(), message)).toBe('done');
    expect((await imagesOf(id)).map((i) => [i.id, i.status])).toEqual([[image.id, 'active']]);
  });

  // The window no checkpoint closes: after the upload step's checkpoint passed, before the upload's write.
  it('a delete that takes the claim over between the last checkpoint and the upload: the late worker uploads nothing', async () => {
    const id = await server();
    await api.nova.action(id, { createImage: { name: 'late-upload' } });
    const snapshot = queue.take();
    const image = snapshot.params.image as Image;
    const takenOverBeforeUpload = afterCheckpoint('image_uploading', async () => {
      expect((await api.nova.delete(`/servers/${id}`)).status).toBe(204);
    });
    expect(await runOperation({ ...deps(), driver: takenOverBeforeUpload }, snapshot)).toBe('dropped');
    // Fenced out, it cleaned up after itself (deleted the record it never uploaded); an upload
    // would have made it active, and an active image outlives its discard.
    expect(await readImage(api.table, image.id)).toMatchObject({ status: 'deleted', size: null, disk_format: null });
    expect(await runOperation(deps(), queue.take())).toBe('done');
    expect((await imagesOf(id)).map((i) => i.status)).toEqual(['deleted']);
  });

  it('a delete that takes the claim over while the worker re-writes a missing record: no record is written', async () => {
    const id = await server();
    await api.nova.action(id, { createImage: { name: 'late-record' } });
    const snapshot = queue.take();
    const image = snapshot.params.image as Image;
    await api.table.db.send(new (await import('@aws-sdk/lib-dynamodb')).DeleteCommand({
      TableName: api.table.name, Key: { pk: 'IMAGES', sk: `IMAGE#${image.id}` },
    }));
    // The worker has read the record as missing; the delete lands before its write.
    const table = beforeFirstTransaction(api.table, async () => {
      expect((await api.nova.delete(`/servers/${id}`)).status).toBe(204);
    });
    expect(await runOperation({ ...deps(), table }, snapshot)).toBe('dropped');
    expect(await imagesOf(id)).toEqual([]);
    expect(await runOperation(deps(), queue.take())).toBe('done');
    expect(await imagesOf(id)).toEqual([]);
  });

  it('a delete that takes the snapshot over deletes the image that was never uploaded', async () => {
    const id = await server();
    await api.nova.action(id, { createImage: { name: 'interrupted' } });
    const snapshot = queue.take();
    expect((await api.nova.delete(`/servers/${id}`)).status).toBe(204);
    expect(await runOperation(deps(), snapshot)).toBe('dropped');
    expect(await runOperation(deps(), queue.take())).toBe('done');
    expect((await imagesOf(id)).map((i) => i.status)).toEqual(['deleted']);
  });
});

describe('createBackup', () => {
  const backup = (id: string, rotation: number, version = '2.45') =>
    api.nova.atVersion(version).action(id, { createBackup: { name: `b-${rotation}`, backup_type: 'daily', rotation } });

  it('keeps the newest `rotation` backups of a type: the oldest beyond it are deleted, another type untouched', async () => {
    const id = await server();
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await backup(id, 5);
      made.push(res.body.image_id);
      expect(await runOperation(deps(), queue.take())).toBe('done');
    }
    const weekly = await api.nova.atVersion('2.45').action(id, { createBackup: { name: 'w', backup_type: 'weekly', rotation: 1 } });
    expect(await runOperation(deps(), queue.take())).toBe('done');
    // Made within a second or two: created_at (Glance's, to the second) ties, the order made does not.
    const res = await backup(id, 2);
    expect(await runOperation(deps(), queue.take())).toBe('done');
    const kept = live(await imagesOf(id)).map((i) => i.id).sort();
    // The new one and the newest of the three; the weekly backup is another rotation's.
    expect(kept).toEqual([res.body.image_id, made[2], weekly.body.image_id].sort());
    expect((await imagesOf(id)).filter((i) => i.status === 'deleted').map((i) => i.id).sort()).toEqual([made[0], made[1]].sort());
  });

  it('rotation 0 keeps none, the new backup included; before 2.45 it answers without Location', async () => {
    const id = await server({ vmState: 'stopped', powerState: 4 });
    const res = await backup(id, 0, '2.44');
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBeNull();
    expect(await runOperation(deps(), queue.take())).toBe('done');
    expect((await imagesOf(id)).map((i) => i.status)).toEqual(['deleted']);
  });

  it('refuses a volume-backed server (no image) with Nova\'s 400, after the state check\'s 409; nothing is written', async () => {
    const id = await server({ imageId: '' });
    const res = await backup(id, 1);
    expect([res.status, res.body.badRequest?.message]).toEqual([400, 'Backup is not supported for volume-backed instances.']);
    expect((await readInstance(api.table, id))?.taskState).toBeUndefined();
    expect(await imagesOf(id)).toEqual([]);
    expect((await backup(await server({ imageId: '', vmState: 'error' }), 1)).status).toBe(409);
  });

  it('refuses a negative or missing rotation and a missing backup_type with 400', async () => {
    const id = await server();
    for (const body of [
      { createBackup: { name: 'b', backup_type: 'daily', rotation: -1 } }, { createBackup: { name: 'b', backup_type: 'daily' } },
      { createBackup: { name: 'b', rotation: 1 } },
    ]) expect((await api.nova.action(id, body)).status).toBe(400);
    expect(await imagesOf(id)).toEqual([]);
  });
});
