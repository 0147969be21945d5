import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { startMovingHarness } from '../../bench/movedServers.js';
import type { MeteredHarness } from '../../bench/writeUnits.js';
import { advanceMigration, findMigration, migrationsOf, migrationUuidFor } from '../../functions/core/compute/migrations.js';
import { PowerState } from '../../functions/core/compute/states.js';
import { allocate } from '../../functions/core/placement/allocations.js';
import { readHosts } from '../../functions/core/placement/hosts.js';
import { readServer } from '../../functions/core/compute/attachmentItems.js';
import { Ports, readAttachable, Volumes } from '../../functions/core/shared/attachables.js';
import { keys, type Table } from '../../functions/core/shared/table.js';

// A server item as the previous version wrote it: its attachments whole in its `volumes` and
// `ports` maps (no items of their own), the whole action in `lastOutcome`, the sort key copied
// into `gsi2sk`, Nova's nulls and defaults stored. Every reader shows it as before, an operation
// and a detach and attach run on it, and its delete frees what it held. Fails if a reader looks
// for an attachment's details only on their own item, or if a write assumes the new shape.

let m: MeteredHarness;
let table: Table;
beforeAll(async () => {
  m = await startMovingHarness();
  table = m.h.table('test');
});
afterAll(() => m.stop());

const token = () => `${crypto.randomUUID().replaceAll('-', '')}:${m.projectId}`;
const as = (method: string, path: string, body?: unknown) => m.h.apiAs(token(), method, path, body).then((res) => ({
  status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined,
}));

async function partition(id: string): Promise<Record<string, any>[]> {
  const out = await table.db.send(new QueryCommand({
    TableName: table.name, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': keys.instance(id).pk }, ConsistentRead: true,
  }));
  return out.Items ?? [];
}

/** Rewrites a server made now (a port, a volume) into the previous version's item, its attachment items gone. */
async function asPreviousVersion(id: string): Promise<Record<string, any>> {
  const server = (await readServer(table, id))!;
  const meta = (await table.db.send(new GetCommand({ TableName: table.name, Key: keys.instance(id), ConsistentRead: true }))).Item!;
  for (const item of await partition(id)) {
    if (String(item.sk).startsWith('ATTACHMENT#')) await table.db.send(new DeleteCommand({ TableName: table.name, Key: { pk: item.pk, sk: item.sk } }));
  }
  const old = {
    ...meta, volumes: server.volumes, ports: server.ports, gsi2sk: meta.gsi1sk,
    description: null, keyName: null, userData: null, trustedCerts: null, tags: [], configDrive: false, launchIndex: 0, diskConfig: 'MANUAL',
    node: meta.host, availabilityZone: 'nova', reservationId: `r-${id.slice(0, 8)}`,
    lastOutcome: {
      // An action whose record was never written (its worker died after the release).
      requestId: `req-${crypto.randomUUID()}`, result: 'Success', op: 'attach_volume', userId: 'previous-user', projectId: m.projectId, claimedAt: Date.now() - 5_000,
      eventStart: new Date(Date.now() - 4_000).toISOString(), finishedAt: new Date(Date.now() - 3_000).toISOString(),
    },
  };
  await table.db.send(new PutCommand({ TableName: table.name, Item: old }));
  return old;
}

it('is read, operated on, detached from, attached to and deleted as before', async () => {
  const { id } = await m.server();
  const volumeId = await m.volume();
  expect((await m.billed('POST', `/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId } })).status).toBe(200);
  const old = await asPreviousVersion(id);
  const [portId] = Object.keys(old.ports);
  expect(Object.values(old.ports)[0]).toMatchObject({ id: portId, macAddress: expect.any(String), fixedIps: [expect.anything()] });
  expect((await partition(id)).filter((i) => String(i.sk).startsWith('ATTACHMENT#'))).toEqual([]);

  // Reads: the server, its interfaces and volumes, a detail page, an administrator's all-projects list.
  const server = (await as('GET', `/servers/${id}`)).body.server;
  expect(Object.values(server.addresses).flat()).toEqual([expect.objectContaining({ addr: old.ports[portId!].fixedIps[0].ipAddress })]);
  expect((await as('GET', `/servers/${id}/os-interface`)).body.interfaceAttachments.map((a: any) => a.port_id)).toEqual([portId]);
  expect((await as('GET', `/servers/${id}/os-volume_attachments`)).body.volumeAttachments)
    .toEqual([expect.objectContaining({ volumeId, device: '/dev/vdb' })]);
  const detail = (await as('GET', '/servers/detail')).body.servers.find((s: any) => s.id === id);
  expect(detail['os-extended-volumes:volumes_attached']).toEqual([expect.objectContaining({ id: volumeId })]);
  expect(Object.values(detail.addresses).flat()).toHaveLength(1);
  const all = await m.h.apiAs(`admin:${m.projectId}`, 'GET', '/servers?all_tenants=1&limit=1000');
  expect(JSON.parse(all.body).servers.map((s: any) => s.id)).toContain(id);
  // The action the previous version kept whole on the item, shown from it until its record is written.
  const actions = (await as('GET', `/servers/${id}/os-instance-actions`)).body.instanceActions;
  expect(actions.find((a: any) => a.request_id === old.lastOutcome.requestId)).toMatchObject({ user_id: 'previous-user' });

  // An operation: the old attachments stay as they were, the outcome is written in the new shape.
  expect((await m.billed('POST', `/servers/${id}/action`, { reboot: { type: 'SOFT' } })).status).toBe(202);
  const rebooted = (await table.db.send(new GetCommand({ TableName: table.name, Key: keys.instance(id), ConsistentRead: true }))).Item!;
  expect(rebooted).toMatchObject({ vmState: 'active', volumes: old.volumes, ports: old.ports });
  expect(rebooted).not.toHaveProperty('taskState');
  expect(rebooted.lastOutcome).not.toHaveProperty('finishedAt');

  // A detach of the old volume, then an attach of another: the item holds both shapes at once.
  expect((await m.billed('DELETE', `/servers/${id}/os-volume_attachments/${volumeId}`)).status).toBe(202);
  expect(await readAttachable(table, Volumes, volumeId)).toMatchObject({ status: 'available' });
  const next = await m.volume();
  expect((await m.billed('POST', `/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId: next } })).status).toBe(200);
  const mixed = (await table.db.send(new GetCommand({ TableName: table.name, Key: keys.instance(id), ConsistentRead: true }))).Item!;
  expect(mixed.volumes).toEqual({ [next]: '/dev/vdb' });
  expect(mixed.ports).toEqual(old.ports);
  expect((await as('GET', `/servers/${id}/os-volume_attachments`)).body.volumeAttachments.map((a: any) => a.volumeId)).toEqual([next]);
  expect((await as('GET', `/servers/${id}/os-interface`)).body.interfaceAttachments.map((a: any) => a.port_id)).toEqual([portId]);

  // The delete frees the old-shape port and the new-shape volume, and leaves no attachment item.
  expect((await m.billed('DELETE', `/servers/${id}`)).status).toBe(204);
  expect(await readAttachable(table, Volumes, next)).toMatchObject({ status: 'available' });
  expect((await readAttachable(table, Ports, portId!))?.instanceId).not.toBe(id);
  expect((await partition(id)).filter((i) => String(i.sk).startsWith('ATTACHMENT#'))).toEqual([]);
  expect((await as('GET', '/servers/detail')).body.servers.map((s: any) => s.id)).not.toContain(id);
});

const metaOf = async (id: string) => (await table.db.send(new GetCommand({ TableName: table.name, Key: keys.instance(id), ConsistentRead: true }))).Item!;
const heldOn = async (id: string) => Object.fromEntries((await readHosts(table)).filter((h) => h.allocations[id]).map((h) => [h.name, h.allocations[id]]));

// A moved server as the previous version left it: its last move's ending on the item (here a live
// migration's, released but not yet settled: its source still held, its record post-migrating)
// and Placement's marks on its allocation. Its next operation, whatever it is, settles the ending
// (the source given back, the record completed) and takes both off in its release; after it, a
// reboot costs what it costs on a server never moved. Fails if the ending is left unsettled or on
// the item, or the marks are left on the allocation.
it('a moved server of the previous version: its next operation settles its move\'s ending and takes it and the marks off', async () => {
  const { id } = await m.server();
  const moved = await m.h.apiAs('admin:admin', 'POST', `/servers/${id}/action`, { 'os-migrateLive': { host: null, block_migration: false, disk_over_commit: false } });
  expect(moved.statusCode).toBe(202);
  await m.h.drain();
  const [migration] = await migrationsOf(table, id);
  const meta = await metaOf(id);
  const source = (await readHosts(table)).find((h) => h.name === migration!.sourceCompute)!;
  const { vcpus, ram, disk } = meta.allocation;
  expect((await allocate(table, source, { serverId: id, vcpus, ram, disk, now: Date.now() })).ok).toBe(true);
  const sourceEntry = (await heldOn(id))[source.name]!;
  expect((await advanceMigration(table, migration!.uuid, ['completed'], 'post-migrating', Date.now())).ok).toBe(true);
  await table.db.send(new PutCommand({ TableName: table.name, Item: {
    ...meta, allocation: { ...meta.allocation, movedBy: migration!.requestId },
    moveEnding: { migration: migration!.uuid, from: ['post-migrating'], to: 'completed', giveBack: { host: source.name, allocation: sourceEntry } },
  } }));
  expect(Object.keys(await heldOn(id)).sort()).toEqual([source.name, meta.host].sort());

  const before = await m.itemBytes(id);
  expect((await m.billed('POST', `/servers/${id}/action`, { reboot: { type: 'SOFT' } })).status).toBe(202);
  const after = await metaOf(id);
  expect(after).not.toHaveProperty('moveEnding');
  expect(after.allocation).toEqual(meta.allocation);
  expect(await heldOn(id)).toEqual({ [meta.host]: expect.objectContaining({ at: meta.allocation.at }) });
  expect((await migrationsOf(table, id))[0]!.status).toBe('completed');
  expect(await m.itemBytes(id)).toBeLessThan(before - 100);
  expect((await m.billed('POST', `/servers/${id}/action`, { reboot: { type: 'SOFT' } })).total).toBeLessThanOrEqual(6);

  expect((await m.billed('DELETE', `/servers/${id}`)).status).toBe(204);
  expect(await heldOn(id)).toEqual({});
});

// A resized server of the previous version, confirmed: its settled ending and the resize's marks
// (`resizedBy`, the allocation before) on the item. The next operation takes them off; the host
// keeps the resized allocation, and a late copy of the resize's message changes nothing.
it('a resized and confirmed server of the previous version: its next operation takes the ending and the marks off, the host keeps its allocation', async () => {
  const { id } = await m.server();
  expect((await m.billed('POST', `/servers/${id}/action`, { resize: { flavorRef: '2' } })).status).toBe(202);
  expect((await m.billed('POST', `/servers/${id}/action`, { confirmResize: null })).status).toBe(204);
  const [migration] = await migrationsOf(table, id);
  const meta = await metaOf(id);
  const entry = (await heldOn(id))[meta.host]!;
  expect(entry).toMatchObject({ resizedBy: migration!.requestId, previous: expect.objectContaining({ ram: 512 }) });
  await table.db.send(new PutCommand({ TableName: table.name, Item: {
    ...meta, allocation: entry, moveEnding: { migration: migration!.uuid, from: ['confirming'], to: 'confirmed' },
  } }));
  expect((await m.billed('POST', `/servers/${id}/action`, { reboot: { type: 'SOFT' } })).status).toBe(202);
  const after = await metaOf(id);
  expect(after).not.toHaveProperty('moveEnding');
  expect(after.allocation).toEqual(meta.allocation);
  expect(await heldOn(id)).toEqual({ [meta.host]: entry });
  expect((await migrationsOf(table, id))[0]!.status).toBe('confirmed');
});

// A server of the previous version waiting for its confirm (VERIFY_RESIZE): the whole move on its
// item (`pendingMove` a map naming the migration and a cold migration's source, `oldFlavorId`,
// `preResizeVmState`, a resize's allocation before it in `allocation.previous`), its migration
// record without the way back this version writes there (`before`). Stopped before the move, so
// the vm_state it goes back to is read. Its confirm and its revert end as they did: fails if
// either reads the move only from the record.
it.each([
  ['resize', 'confirmResize'], ['resize', 'revertResize'], ['migration', 'confirmResize'], ['migration', 'revertResize'],
] as const)('a server of the previous version waiting after a %s: %s ends it as before', async (kind, ending) => {
  const { id } = await m.server();
  const action = `/servers/${id}/action`;
  expect((await m.billed('POST', action, { 'os-stop': null })).status).toBe(202);
  const before = await heldOn(id);
  if (kind === 'resize') expect((await m.billed('POST', action, { resize: { flavorRef: '2' } })).status).toBe(202);
  else {
    expect((await m.h.apiAs('admin:admin', 'POST', action, { migrate: null })).statusCode).toBe(202);
    await m.h.drain();
  }
  const [migration] = await migrationsOf(table, id);
  const back = migration!.before!;
  const meta = await metaOf(id);
  const source = { host: migration!.sourceCompute, node: migration!.sourceNode, availabilityZone: back.availabilityZone, allocation: back.allocation };
  await table.db.send(new PutCommand({ TableName: table.name, Item: {
    ...meta, oldFlavorId: migration!.oldFlavorId, preResizeVmState: back.vmState,
    pendingMove: { migration: migration!.uuid, ...(kind === 'migration' ? { source } : {}) },
    ...(kind === 'resize' ? { allocation: { ...meta.allocation, previous: back.allocation } } : {}),
  } }));
  await table.db.send(new UpdateCommand({
    TableName: table.name, Key: { pk: 'MIGRATIONS', sk: `MIGRATION#${migration!.uuid}` }, UpdateExpression: 'REMOVE #before',
    ConditionExpression: 'attribute_exists(#before)', ExpressionAttributeNames: { '#before': 'before' },
  }));
  const moved = await heldOn(id);

  const reverted = ending === 'revertResize';
  expect((await m.billed('POST', action, { [ending]: null })).status).toBe(reverted ? 202 : 204);
  const after = await metaOf(id);
  expect({
    flavorId: after.flavorId, vmState: after.vmState, powerState: after.powerState, host: after.host,
    kept: ['pendingMove', 'oldFlavorId', 'preResizeVmState'].filter((k) => k in after), previous: after.allocation.previous,
  }).toEqual({
    flavorId: kind === 'resize' && !reverted ? '2' : '1', vmState: 'stopped', powerState: PowerState.SHUTDOWN,
    host: reverted ? source.host : meta.host, kept: [], previous: undefined,
  });
  expect(await heldOn(id)).toEqual(reverted ? before : { [meta.host]: moved[meta.host] });
  expect(after.allocation.at).toBe((reverted ? before : moved)[after.host]!.at);
  expect((await migrationsOf(table, id))[0]!.status).toBe(reverted ? 'reverted' : 'confirmed');
  expect((await m.billed('DELETE', `/servers/${id}`)).status).toBe(204);
});

// A resize or a cold migration the previous version began: its record made without the way back
// (`before`), then its worker taken over by this version's, which points the item at the record
// and adds the way back there. The stopped server's revert (a resize) or confirm (a migration)
// then ends as it would have: fails without that addition (the resize's allocation before stays
// resized, the migration's source stays allocated, and both end ACTIVE).
it.each([['resize', 'revertResize'], ['migration', 'confirmResize']] as const)(
  'a %s the previous version began, run by this version: its %s ends right',
  async (kind, ending) => {
    const { id } = await m.server();
    const action = `/servers/${id}/action`;
    expect((await m.billed('POST', action, { 'os-stop': null })).status).toBe(202);
    const before = await heldOn(id);
    const admitted = kind === 'resize'
      ? (await m.billedAlone('POST', action, { resize: { flavorRef: '2' } })).status
      : (await m.h.apiAs('admin:admin', 'POST', action, { migrate: null })).statusCode;
    expect(admitted).toBe(202);
    const claimed = await metaOf(id);
    const uuid = migrationUuidFor(claimed.claim.requestId);
    const at = new Date().toISOString();
    await table.db.send(new PutCommand({ TableName: table.name, Item: {
      pk: 'MIGRATIONS', sk: `MIGRATION#${uuid}`, id: 1_000_000 + Math.floor(Math.random() * 1_000_000), uuid, instanceUuid: id,
      migrationType: kind, status: kind === 'resize' ? 'migrating' : 'pre-migrating', requestId: claimed.claim.requestId,
      sourceCompute: claimed.host, sourceNode: claimed.node ?? claimed.host, destCompute: kind === 'resize' ? claimed.host : null,
      destNode: kind === 'resize' ? claimed.node ?? claimed.host : null, oldFlavorId: '1', newFlavorId: kind === 'resize' ? '2' : '1',
      userId: claimed.userId, projectId: claimed.projectId, created: at, updated: at,
    } }));
    await m.h.drain();
    const moved = await metaOf(id);
    expect([moved.vmState, (await findMigration(table, uuid))?.before]).toEqual(['resized', expect.objectContaining({ vmState: 'stopped' })]);

    expect((await m.billed('POST', action, { [ending]: null })).status).toBe(ending === 'revertResize' ? 202 : 204);
    const after = await metaOf(id);
    expect([after.flavorId, after.vmState]).toEqual(['1', 'stopped']);
    expect(await heldOn(id)).toEqual(kind === 'resize' ? before : { [moved.host]: expect.objectContaining({ at: moved.allocation.at }) });
    expect((await m.billed('DELETE', `/servers/${id}`)).status).toBe(204);
  },
);
