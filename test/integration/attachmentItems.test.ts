import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  attachmentKey, putAttachmentItem, putCreatedAttachmentItem, readServer, removeAttachmentItem,
} from '../../functions/core/compute/attachmentItems.js';
import type { Attachment } from '../../functions/core/compute/instance.js';
import { keys, type Table } from '../../functions/core/shared/table.js';
import { seedInstance, startBackends, uuid, type TestBackends } from '../support/emulators.js';

// An attachment's details on an item of its own beside the instance (attachmentItems.ts): written
// only under the claim that makes it, never over details a later claim wrote, removed only by a
// claim at or after the one that wrote them, and shown only where the instance item's entry names
// them. Each test fails when its rule is taken out.

let backends: TestBackends;
let table: Table;
beforeAll(async () => {
  backends = await startBackends();
  table = backends.table;
});
afterAll(() => backends.stop());

const port = (instanceId: string, id: string, mac: string): Attachment => ({
  id, instanceId, requestId: `req-${uuid()}`, created: new Date().toISOString(), macAddress: mac, netId: uuid(),
  fixedIps: [{ subnetId: uuid(), ipAddress: '10.0.0.9' }],
});

const stored = async (instanceId: string, id: string) =>
  (await table.db.send(new GetCommand({ TableName: table.name, Key: attachmentKey(instanceId, 'ports', id), ConsistentRead: true }))).Item;

/** The instance's version moved on to `version`, as a takeover or a later claim moves it. */
const moveTo = (instanceId: string, version: number) => table.db.send(new UpdateCommand({
  TableName: table.name, Key: keys.instance(instanceId), UpdateExpression: 'SET #v = :v',
  ExpressionAttributeNames: { '#v': 'version' }, ExpressionAttributeValues: { ':v': version },
}));

it('a worker whose claim was taken over writes no details (the fence)', async () => {
  const { id } = await seedInstance(table);
  await moveTo(id, 5);
  const portId = uuid();
  expect(await putAttachmentItem(table, 'ports', port(id, portId, 'fa:16:3e:00:00:04'), 4)).toBe(false);
  expect(await stored(id, portId)).toBeUndefined();
  expect(await putAttachmentItem(table, 'ports', port(id, portId, 'fa:16:3e:00:00:05'), 5)).toBe(true);
  expect(await stored(id, portId)).toMatchObject({ macAddress: 'fa:16:3e:00:00:05', token: 5 });
});

it('details a later claim wrote are not overwritten by an earlier one\'s (a create\'s retry after the port was attached again)', async () => {
  const { id } = await seedInstance(table);
  const portId = uuid();
  await moveTo(id, 7);
  expect(await putAttachmentItem(table, 'ports', port(id, portId, 'fa:16:3e:00:00:07'), 7)).toBe(true);
  await putCreatedAttachmentItem(table, 'ports', port(id, portId, 'fa:16:3e:00:00:01'), 1);
  expect(await stored(id, portId)).toMatchObject({ macAddress: 'fa:16:3e:00:00:07', token: 7 });
});

it('a late removal by an earlier claim leaves the details a later claim wrote', async () => {
  const { id } = await seedInstance(table);
  const portId = uuid();
  await moveTo(id, 9);
  await putAttachmentItem(table, 'ports', port(id, portId, 'fa:16:3e:00:00:09'), 9);
  await removeAttachmentItem(table, id, 'ports', portId, 8);
  expect(await stored(id, portId)).toMatchObject({ token: 9 });
  await removeAttachmentItem(table, id, 'ports', portId, 9);
  expect(await stored(id, portId)).toBeUndefined();
});

it('a reader shows the details an entry names, and none that no entry names', async () => {
  const { id } = await seedInstance(table);
  const [named, unnamed] = [uuid(), uuid()];
  await moveTo(id, 3);
  await putAttachmentItem(table, 'ports', port(id, named, 'fa:16:3e:00:00:0a'), 3);
  await putAttachmentItem(table, 'ports', port(id, unnamed, 'fa:16:3e:00:00:0b'), 3);
  await table.db.send(new UpdateCommand({
    TableName: table.name, Key: keys.instance(id), UpdateExpression: 'SET #ports.#id = :entry',
    ExpressionAttributeNames: { '#ports': 'ports', '#id': named }, ExpressionAttributeValues: { ':entry': true },
  }));
  const server = await readServer(table, id);
  expect(server?.ports).toEqual({ [named]: expect.objectContaining({ id: named, macAddress: 'fa:16:3e:00:00:0a' }) });
});
