import { startHarness, type Harness } from '../../bench/harness.js';
import type { Counts } from '../../bench/requestCounter.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { cachedFlavors } from '../../functions/core/compute/flavors.js';
import { DEFAULT_IMAGES } from '../../functions/core/images/image.js';
import { findImageToBoot } from '../../functions/core/images/store.js';
import { cachedNetworks } from '../../functions/core/networks/networks.js';
import { seedPort } from '../support/networks.js';
import { failedConditionalWrite, seedAttachment, seedInstance } from '../support/emulators.js';
import { Ports, Volumes } from '../../functions/core/shared/attachables.js';
import { seedVolume } from '../support/volumes.js';

// How many AWS requests each path makes, counted by an SDK middleware on the handlers' own
// clients (counted, never timed). API path: one write and one send per operation on the
// instance alone, two writes for an attach, no read (but a resize to a larger flavor's quota
// check, as Nova's API makes it); compute path: three writes and one read for
// a one-step operation; a detail page: its index Query and one BatchGetItem of its servers (up to
// 100), whatever the project's size, and one more of their attachments' details when a server on
// it has any (functions/core/compute/attachmentItems.ts).

// A refusal is explained from the old item its failed write returns (ReturnValuesOnConditionCheckFailure):
// DynamoDB and DynamoDB Local return it, and so does the embedded dynalite with the project's patch
// (patches/dynalite+4.0.0.patch), so a refusal costs that one write and no read. The probe checks
// the backend does; the read that follows on a backend that does not is unit-tested with a mock
// (test/unit/refusal.test.ts).

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ workMs: 0, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT });
});
afterAll(() => h.stop());

it('the backend returns the old item with a failed conditional write, as DynamoDB does', async () => {
  const probe = await failedConditionalWrite(h.table('probe'), true);
  expect(probe.returned).toEqual(probe.item);
});

const owner = { projectId: 'bench', userId: 'bench' };
const none = { read: 0, write: 0, send: 0, receive: 0, delete: 0, other: 0 };
const counts = (c: Partial<Counts>): Counts => ({ ...none, ...c });

/** The API path's requests for `call`, then the compute path's for running what it queued. */
async function measure(call: () => Promise<{ statusCode: number }>, status?: number) {
  // Flavors (create's and resize's check, the 2.47 server view) are read once per process and
  // kept for seconds (functions/core/compute/flavors.ts): what is counted is the steady state.
  await cachedFlavors(h.table('setup'));
  // So are the networks a create without `networks` gets its interface on (functions/core/networks/networks.ts).
  await cachedNetworks(h.table('setup'));
  // And the images create and rebuild check (functions/core/images/store.ts).
  await findImageToBoot(h.table('setup'), DEFAULT_IMAGES[0]!.id);
  h.counter.reset();
  const res = await call();
  if (status !== undefined) expect(res.statusCode).toBe(status);
  const api = h.counter.take('api');
  await h.drain();
  return { api, compute: h.counter.take('compute'), res };
}

describe('API path', () => {
  it.each([
    ['reboot', { reboot: { type: 'SOFT' } }],
    ['stop', { 'os-stop': null }],
    ['rebuild', { rebuild: { imageRef: '155d900f-4e14-4e4c-a73d-069cbf4541e6' } }],
    ['shelve', { shelve: null }],
  ])('%s: one write and one send, no read', async (_op, body) => {
    const { id } = await seedInstance(h.table('setup'), owner);
    const { api } = await measure(() => h.api('POST', `/servers/${id}/action`, body), 202);
    expect(api).toEqual(counts({ write: 1, send: 1 }));
  });

  it('resize to a larger flavor: one write and one send, after the reads of Nova\'s quota check at the API (the server, the project\'s limits and its class\'s, its usage)', async () => {
    const { id } = await seedInstance(h.table('setup'), owner);
    h.counter.recording = true;
    h.counter.log.length = 0;
    const { api } = await measure(() => h.api('POST', `/servers/${id}/action`, { resize: { flavorRef: '2' } }), 202);
    h.counter.recording = false;
    expect(api).toEqual(counts({ read: 4, write: 1, send: 1 }));
    expect(h.counter.log.filter((r) => r.path === 'api').map((r) => r.operation)).toEqual(['Query', 'GetItem', 'GetItem', 'GetItem', 'UpdateItem', 'SendMessage']);
  });

  it('create and delete: one write and one send, and the quota charge (two reads of limits, one write)', async () => {
    // A port of its own, made first: reserved with the create (one write), as a volume is with an attach.
    const port = await seedPort(h.table('setup'), owner.projectId);
    // The project's first create also makes its usage item (functions/core/placement/quotas/usage.ts): not measured.
    const warm = await h.api('POST', '/servers', { server: { name: 'w', flavorRef: '1', imageRef: '70a599e0-31e7-49b7-b260-868f441e862b' } });
    expect(warm.statusCode).toBe(202);
    const created = await measure(() => h.api('POST', '/servers', {
      server: { name: 'c', flavorRef: '1', imageRef: '70a599e0-31e7-49b7-b260-868f441e862b', networks: [{ port }] },
    }), 202);
    // The project's limits and the default class's (read, not cached: a quota update counts at
    // once), the charge, the port's reservation, its interface's details, the server's item.
    expect(created.api).toEqual(counts({ write: 4, read: 2, send: 1 }));
    const id = JSON.parse((created.res as unknown as { body: string }).body).server.id;
    expect((await measure(() => h.api('DELETE', `/servers/${id}`), 204)).api).toEqual(counts({ write: 1, send: 1 }));
  });

  it('a create on the project\'s network makes its port: four writes (the item, its membership, its address, the item finished) and five reads, where naming a port reserves it with one', async () => {
    const image = '70a599e0-31e7-49b7-b260-868f441e862b';
    const port = await seedPort(h.table('setup'), owner.projectId);
    const named = await measure(() => h.api('POST', '/servers', { server: { name: 'n', flavorRef: '1', imageRef: image, networks: [{ port }] } }), 202);
    const made = await measure(() => h.api('POST', '/servers', { server: { name: 'm', flavorRef: '1', imageRef: image } }), 202);
    const more = Object.fromEntries(Object.entries(made.api).map(([kind, n]) => [kind, n - named.api[kind as keyof Counts]]));
    // The network and its subnet (cached networks aside), the network again after the membership,
    // the subnet's addresses, the subnet again after the address: each check after its write.
    expect(more).toEqual(counts({ write: 3, read: 5 }));
  });

  it('the action is visible the moment the 202 is answered, from the claim itself', async () => {
    const { id } = await seedInstance(h.table('setup'), owner);
    h.counter.reset();
    const res = await h.api('POST', `/servers/${id}/action`, { 'os-stop': null });
    const requestId = res.headers!['x-openstack-request-id'] as string;
    const list = JSON.parse((await h.api('GET', `/servers/${id}/os-instance-actions`)).body).instanceActions;
    expect(list).toEqual([expect.objectContaining({ action: 'stop', request_id: requestId, user_id: 'bench' })]);
    const one = JSON.parse((await h.api('GET', `/servers/${id}/os-instance-actions/${requestId}`)).body).instanceAction;
    expect(one).toMatchObject({ action: 'stop', request_id: requestId, events: [] });
    await h.drain();
    const done = JSON.parse((await h.api('GET', `/servers/${id}/os-instance-actions/${requestId}`)).body).instanceAction;
    expect(done.events).toEqual([expect.objectContaining({ event: 'compute_stop', result: 'Success' })]);
  });

  it('attach volume and interface: the claim and the resource reservation, the device chosen without a read', async () => {
    const { id } = await seedInstance(h.table('setup'), owner);
    await seedAttachment(h.table('setup'), Volumes, id, undefined, owner.projectId); // holds /dev/vdb
    const volumeId = await seedVolume(h.table('setup'), { projectId: owner.projectId });
    const vol = await measure(() => h.api('POST', `/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId } }), 200);
    expect(vol.api).toEqual(counts({ write: 2, send: 1 }));
    expect(JSON.parse((vol.res as unknown as { body: string }).body).volumeAttachment.device).toBe('/dev/vdc');
    // A port Neutron made: reserved as a volume is (a port Nova makes for the attach is a port's creation).
    const portId = await seedPort(h.table('setup'), owner.projectId);
    const port = await measure(() => h.api('POST', `/servers/${id}/os-interface`, { interfaceAttachment: { port_id: portId } }), 200);
    expect(port.api).toEqual(counts({ write: 2, send: 1 }));
  });

  it('detach volume and interface: one write (it checks the attachment) and one send', async () => {
    const { id } = await seedInstance(h.table('setup'), owner);
    const volumeId = await seedAttachment(h.table('setup'), Volumes, id);
    const portId = await seedAttachment(h.table('setup'), Ports, id);
    expect((await measure(() => h.api('DELETE', `/servers/${id}/os-volume_attachments/${volumeId}`), 202)).api)
      .toEqual(counts({ write: 1, send: 1 }));
    expect((await measure(() => h.api('DELETE', `/servers/${id}/os-interface/${portId}`), 202)).api)
      .toEqual(counts({ write: 1, send: 1 }));
  });

  it('a refusal costs the one failed write and no read', async () => {
    const { id } = await seedInstance(h.table('setup'), owner);
    await h.api('POST', `/servers/${id}/action`, { 'os-stop': null });
    h.counter.reset();
    const res = await h.api('POST', `/servers/${id}/action`, { reboot: { type: 'SOFT' } });
    expect(res.statusCode).toBe(409);
    expect(h.counter.take('api')).toEqual(counts({ write: 1 }));
    await h.drain();
  });

  it('a bogus detach or attach costs no claim, leaves `updated` alone and does not block a valid request', async () => {
    const setup = h.table('setup');
    const { id } = await seedInstance(setup, owner);
    const other = await seedInstance(setup, owner);
    const heldElsewhere = await seedAttachment(setup, Volumes, other.id, undefined, owner.projectId);
    const before = await readInstance(setup, id);

    const bogus = await measure(() => h.api('DELETE', `/servers/${id}/os-volume_attachments/${crypto.randomUUID()}`), 404);
    expect(bogus.api).toEqual(counts({ write: 1 }));
    const taken = await measure(() => h.api('POST', `/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId: heldElsewhere } }), 400);
    expect(taken.api).toEqual(counts({ write: 1 }));
    expect(await readInstance(setup, id)).toEqual(before);

    // Many bogus detaches at once, and one valid request among them: it is admitted.
    const answers = await Promise.all([
      ...Array.from({ length: 20 }, () => h.api('DELETE', `/servers/${id}/os-volume_attachments/${crypto.randomUUID()}`)),
      h.api('POST', `/servers/${id}/action`, { reboot: { type: 'SOFT' } }),
    ]);
    expect(answers.map((a) => a.statusCode)).toEqual([...Array(20).fill(404), 202]);
    await h.drain();
  });
});

describe('compute path', () => {
  it.each([
    ['reboot', { reboot: { type: 'SOFT' } }],
    ['stop', { 'os-stop': null }],
    ['pause', { pause: null }],
  ])('%s (one step): three writes (take up on its run item, release with outcome, action record), one read beside the take-up', async (_op, body) => {
    const { id } = await seedInstance(h.table('setup'), owner);
    const { compute } = await measure(() => h.api('POST', `/servers/${id}/action`, body), 202);
    expect(compute).toEqual(counts({ write: 3, read: 1 }));
  });

  it('each further step is one fenced checkpoint: shelve (2 steps) 4 writes, resize (3 steps) 5, and 3 for its Migration record', async () => {
    const { id } = await seedInstance(h.table('setup'), owner);
    expect((await measure(() => h.api('POST', `/servers/${id}/action`, { shelve: null }), 202)).compute).toEqual(counts({ write: 4, read: 1 }));
    const other = await seedInstance(h.table('setup'), owner);
    const { compute } = await measure(() => h.api('POST', `/servers/${other.id}/action`, { resize: { flavorRef: '2' } }), 202);
    // Nova records a resize as a migration (functions/core/compute/migrations.ts): its integer
    // id's counter, the record, and its last status after the release.
    expect(compute).toEqual(counts({ write: 5 + 3, read: 1 }));
  });

  it('attach and detach: three writes, the volume\'s own two (attaching or detaching, then in-use or available) and its details\' one (put fenced, or removed), no redundant checkpoint, one read beside the take-up', async () => {
    const { id } = await seedInstance(h.table('setup'), owner);
    const volumeId = await seedVolume(h.table('setup'), { projectId: owner.projectId });
    expect((await measure(() => h.api('POST', `/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId } }), 200)).compute)
      .toEqual(counts({ write: 6, read: 1 }));
    expect((await measure(() => h.api('DELETE', `/servers/${id}/os-volume_attachments/${volumeId}`), 202)).compute)
      .toEqual(counts({ write: 6, read: 1 }));
  });

  it('delete lists the volumes and ports from the item taken up: no query', async () => {
    const setup = h.table('setup');
    const { id } = await seedInstance(setup, owner);
    await seedAttachment(setup, Volumes, id);
    await seedAttachment(setup, Ports, id);
    const { compute } = await measure(() => h.api('DELETE', `/servers/${id}`), 204);
    // take up, free the volume and remove its details, free the port and remove its details, the
    // destroy step's checkpoint, release, action record; the instance read beside the take-up, and
    // the usage read for its quota give-back (a seeded server was never charged: nothing to give
    // back, no write)
    expect(compute).toEqual(counts({ write: 8, read: 2 }));
  });
});

describe('reads that do not grow with the project', () => {
  // The index holds keys only (functions/core/shared/indexedItems.ts): a copy of each server in
  // it was billed again on every claim and release. A page is its Query and one BatchGetItem.
  it.each([1, 30])('a detail page of %i servers costs one Query and one BatchGetItem (3 requests with a marker)', async (n) => {
    const project = `detail-${n}-${crypto.randomUUID().slice(0, 8)}`;
    for (let i = 0; i < n; i++) await seedInstance(h.table('setup'), { projectId: project, userId: 'u' });
    h.counter.reset();
    const res = await h.apiAs(`u:${project}`, 'GET', `/servers/detail?limit=${n}`);
    expect(JSON.parse(res.body).servers).toHaveLength(n);
    const c = h.counter.take('api');
    expect(c).toEqual(counts({ read: 2 }));
    // The next page, after a marker: the marker's read, the page's query and its items.
    const marker = JSON.parse(res.body).servers[0].id;
    h.counter.reset();
    await h.apiAs(`u:${project}`, 'GET', `/servers/detail?marker=${marker}`);
    expect(h.counter.take('api').read).toBe(n > 1 ? 3 : 2);
  });
});
