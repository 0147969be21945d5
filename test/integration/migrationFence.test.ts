import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  advanceMigration, findMigration, liveMigrationSteps, migrationUuidFor, recordMigration, type NewMigration,
} from '../../functions/core/compute/migrations.js';
import { Placings } from '../../functions/core/compute/placing.js';
import { seedHosts } from '../../functions/core/placement/hosts.js';
import { DriverError, FencedOut } from '../../functions/core/shared/errors.js';
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

/** Another operation takes the server's claim over: its version moves on from the worker's token 4. */
async function takeOver(serverId: string): Promise<void> {
  await table.db.send(new UpdateCommand({
    TableName: table.name, Key: keys.instance(serverId), UpdateExpression: 'SET version = :v', ExpressionAttributeValues: { ':v': 5 },
  }));
}

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
  await takeOver(server.id);
  const requestId = `req-${uuid()}`;
  await expect(recordMigration(table, move(server.id, requestId), Date.now(), { instanceId: server.id, token: 4 })).rejects.toBeInstanceOf(FencedOut);
  expect(await findMigration(table, migrationUuidFor(requestId))).toBeUndefined();
});

// The status a worker moves the record to before its release (a confirm's confirming, a revert's
// reverting, a live migration's steps) is written under the claim too: a worker taken over
// between its take-up and that write leaves the record as it was (the chaos run's checker found a
// superseded confirm's `confirming`, then its undo's `error`, on a server a delete had taken).

/** A resized server waiting for its confirm, claimed at version 4, its migration finished. */
async function resizedServer(): Promise<{ server: Awaited<ReturnType<typeof seedInstance>>; migration: string }> {
  const resizeRequest = `req-${uuid()}`;
  const migration = migrationUuidFor(resizeRequest);
  const server = await seedInstance(table, { version: 4, vmState: 'resized', pendingMove: { migration } } as never);
  await recordMigration(table, { ...move(server.id, resizeRequest), migrationType: 'resize' }, Date.now(), { instanceId: server.id, token: 4 });
  expect((await advanceMigration(table, migration, ['pre-migrating'], 'finished', Date.now())).ok).toBe(true);
  return { server, migration };
}

it.each(['confirm_resize', 'revert_resize'] as const)('a %s taken over before it starts leaves the migration finished', async (op) => {
  const { server, migration } = await resizedServer();
  await takeOver(server.id);
  await expect(Placings[op]!({
    table, instance: server, requestId: `req-${uuid()}`, token: 4, params: {}, now: Date.now(), leaseMs: 60_000,
  })).rejects.toBeInstanceOf(FencedOut);
  expect((await findMigration(table, migration))?.status).toBe('finished');
});

it('a confirm whose claim holds moves the migration to confirming', async () => {
  const { server, migration } = await resizedServer();
  await Placings.confirm_resize!({ table, instance: server, requestId: `req-${uuid()}`, token: 4, params: {}, now: Date.now(), leaseMs: 60_000 });
  expect((await findMigration(table, migration))?.status).toBe('confirming');
});

it("a live migration's step is not written by a worker taken over, and an abort that came first stops it", async () => {
  const server = await seedInstance(table, { version: 4 });
  const requestId = `req-${uuid()}`;
  await recordMigration(table, { ...move(server.id, requestId), migrationType: 'live-migration', status: 'preparing' }, Date.now(), { instanceId: server.id, token: 4 });
  const steps = liveMigrationSteps(table, requestId, Date.now, { instanceId: server.id, token: 4 });
  await takeOver(server.id);
  await expect(steps.advance('running')).rejects.toBeInstanceOf(FencedOut);
  expect((await findMigration(table, migrationUuidFor(requestId)))?.status).toBe('preparing');

  const held = liveMigrationSteps(table, requestId, Date.now, { instanceId: server.id, token: 5 });
  await advanceMigration(table, migrationUuidFor(requestId), ['preparing'], 'cancelled', Date.now());
  await expect(held.advance('running')).rejects.toBeInstanceOf(DriverError);
  expect((await findMigration(table, migrationUuidFor(requestId)))?.status).toBe('cancelled');
});

it('a move taken over while it takes its target leaves its migration where it began', async () => {
  await seedHosts(table, [
    { name: 'fence-source', zone: 'nova', vcpus: 4, ram: 8192, disk: 100 },
    { name: 'fence-target', zone: 'nova', vcpus: 4, ram: 8192, disk: 100 },
  ]);
  const server = await seedInstance(table, {
    version: 4, host: 'fence-source', allocation: { vcpus: 1, ram: 512, disk: 1, at: Date.now() },
  } as never);
  // The takeover lands just after the target's write on the hosts, before the record moves on.
  let takenOver = false;
  table.db.middlewareStack.add((next) => async (args) => {
    const out = await next(args);
    const key = (args.input as { Key?: { pk?: string; sk?: string } }).Key;
    if (!takenOver && key?.pk === 'HOSTS' && key.sk === 'HOST#fence-target') {
      takenOver = true;
      await takeOver(server.id);
    }
    return out;
  }, { step: 'initialize', name: 'takeOverAtTarget' });
  const requestId = `req-${uuid()}`;
  try {
    await expect(Placings.migrate!({
      table, instance: server, requestId, token: 4, params: { host: 'fence-target' }, now: Date.now(), leaseMs: 60_000,
    })).rejects.toBeInstanceOf(FencedOut);
  } finally {
    table.db.middlewareStack.remove('takeOverAtTarget');
  }
  expect(takenOver).toBe(true);
  expect((await findMigration(table, migrationUuidFor(requestId)))?.status).toBe('pre-migrating');
});
