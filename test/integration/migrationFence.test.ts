import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { findMigration, migrationUuidFor, recordMigration, type NewMigration } from '../../functions/core/compute/migrations.js';
import { FencedOut } from '../../functions/core/shared/errors.js';
import { keys, type Table } from '../../functions/core/shared/table.js';
import { seedInstance, startBackends, uuid, type TestBackends } from '../support/emulators.js';

// A move's Migration record is written by the worker that holds the server's claim, and only
// while it holds it (migrations.ts, fencedPut.ts): a worker taken over before it records leaves
// no migration behind for a move that never ran (the chaos run's history checker found one that
// did, seed 20309 at 2,000 operations, before the record was fenced).

let backends: TestBackends;
let table: Table;
beforeAll(async () => {
  backends = await startBackends();
  table = backends.table;
});
afterAll(() => backends.stop());

const move = (instanceUuid: string, requestId: string): NewMigration => ({
  instanceUuid, migrationType: 'migration', status: 'pre-migrating', requestId,
  sourceCompute: 'c0', sourceNode: 'c0', destCompute: null, destNode: null,
  oldFlavorId: '1', newFlavorId: '1', userId: 'alice', projectId: 'demo',
});

it('is recorded under the claim that holds the server, once however often its worker asks', async () => {
  const server = await seedInstance(table, { version: 4 });
  const requestId = `req-${uuid()}`;
  const first = await recordMigration(table, move(server.id, requestId), Date.now(), { instanceId: server.id, token: 4 });
  const again = await recordMigration(table, move(server.id, requestId), Date.now(), { instanceId: server.id, token: 4 });
  expect(again).toEqual(first);
  expect((await findMigration(table, migrationUuidFor(requestId)))?.status).toBe('pre-migrating');
});

it('is not recorded by a worker whose claim was taken over', async () => {
  const server = await seedInstance(table, { version: 4 });
  await table.db.send(new UpdateCommand({
    TableName: table.name, Key: keys.instance(server.id), UpdateExpression: 'SET version = :v', ExpressionAttributeValues: { ':v': 5 },
  }));
  const requestId = `req-${uuid()}`;
  await expect(recordMigration(table, move(server.id, requestId), Date.now(), { instanceId: server.id, token: 4 })).rejects.toBeInstanceOf(FencedOut);
  expect(await findMigration(table, migrationUuidFor(requestId))).toBeUndefined();
});
