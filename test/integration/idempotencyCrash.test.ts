import type { Server } from 'node:http';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createApi } from '../../functions/api/app.js';
import { NoauthIdentityProvider } from '../../functions/core/identity/noauth.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { readCharge, readCharges } from '../../functions/core/placement/quotas/charges.js';
import { readUsage } from '../../functions/core/placement/quotas/usage.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import { makeTable, type Table } from '../../functions/core/shared/table.js';
import { runOperation } from '../../functions/core/compute/worker.js';
import { serveApi, type ProxyHandler } from '../../local/apiGateway.js';
import { CREDENTIALS, REGION } from '../../local/emulators.js';
import { CapturingQueue, seedInstance, startBackends, uuid, type TestBackends } from '../support/emulators.js';
import { addDynamoFaults, FaultLog, runAs, SeededRandom, ThrottledError } from '../support/faults/index.js';
import { captureLogs } from '../support/logs.js';
import { IMAGE, Nova } from '../support/nova.js';
import { seedVolume } from '../support/volumes.js';

// An Idempotency-Key survives the crash it exists for. The API invocation is killed at every
// write of a keyed create, action and attach (before the write is sent, or after it landed and
// before the answer), as a SIGKILL would; the client, its answer lost, retries with the same key
// and body once the key's in-progress window has passed (the first request is dead by then);
// the queued work runs before the retry or after it. Whatever crashed when, the key has one
// effect: one server, one reboot, one attachment, each action recorded once.

const IN_PROGRESS_SECONDS = 30;

let backends: TestBackends;
let server: Server;
let nova: Nova;
let apiTable: Table;
const queue = new CapturingQueue();
let offsetMs = 0;
const now = () => Date.now() + offsetMs;
/** Where the next API request dies; taken by that request. */
let nextKill: { write: number; when: 'before' | 'after' } | undefined;
/** Every DeleteItem of the API is throttled (as after the SDK's retries) while set. */
let throttleDeletes = false;

// A killed invocation's error is logged, as a crashed Lambda's is, and the local front logs the
// failed handler: expected here, so captured off the test's output.
let logs: ReturnType<typeof captureLogs>;

beforeAll(async () => {
  logs = captureLogs();
  backends = await startBackends();
  apiTable = makeTable(backends.table.name, new DynamoDBClient({
    endpoint: backends.emulators.dynamodbEndpoint, region: REGION, credentials: CREDENTIALS, maxAttempts: 1,
  }));
  addDynamoFaults(apiTable.db, { random: new SeededRandom(1), log: new FaultLog(() => undefined), throttleRate: 0 });
  apiTable.db.middlewareStack.add((next, context) => async (args) => {
    if (throttleDeletes && /^Delete(Item)?Command$/.test(context.commandName ?? '')) throw new ThrottledError();
    return next(args);
  }, { step: 'initialize', name: 'throttleDeletes' });
  const api = createApi({
    table: apiTable, queue, claimLeaseMs: 600_000, reservationLeaseMs: 600_000, now,
    idempotency: { ttlSeconds: 3600, inProgressSeconds: IN_PROGRESS_SECONDS },
  }, { identity: new NoauthIdentityProvider() });
  const served = await serveApi(((event, context) => {
    const killAt = nextKill;
    nextKill = undefined;
    return runAs({ role: 'api', killAt }, () => api(event as never, context as never));
  }) as ProxyHandler, 0);
  server = served.server;
  nova = new Nova(`${served.url}/v2.1`);
  // Far more servers than Nova's default instances quota are made here, and none deleted: the
  // quota is not what this file tests (test/integration/quotas.test.ts is).
  const unlimited = await nova.as('admin:admin').request('PUT', '/os-quota-sets/demo', { quota_set: { instances: -1, cores: -1, ram: -1 } });
  if (unlimited.status !== 200) throw new Error(`quota update: ${unlimited.status}`);
});
afterAll(async () => {
  logs.restore();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections?.();
  apiTable.db.destroy();
  await backends.stop();
});

/** The compute worker, as the queue delivers: every queued message, duplicates included, in order. */
async function drain() {
  const driver = new SimulatedDriver(backends.table, { stepMs: 0 });
  for (let i = 0; queue.messages.length > 0; i++) {
    if (i > 50) throw new Error('the queue did not drain');
    const msg = queue.take();
    const outcome = await runOperation({ table: backends.table, driver, runLeaseMs: 60_000, claimLeaseMs: 600_000, now }, msg);
    if (outcome === 'retry') queue.messages.push(msg);
  }
}

const actionsOf = async (serverId: string, action: string) =>
  ((await nova.get(`/servers/${serverId}/os-instance-actions`)).body.instanceActions as { action: string }[])
    .filter((a) => a.action === action);

/**
 * One keyed request killed at `kill`, then retried with the same key after the in-progress
 * window; the queued work drained before the retry or after it. Returns the retry's answer.
 */
async function crashAndRetry(
  kill: { write: number; when: 'before' | 'after' }, workBeforeRetry: boolean,
  method: string, path: string, body: unknown,
) {
  const headers = { 'Idempotency-Key': `"${uuid()}"` };
  nextKill = kill;
  const lost = await nova.request(method, path, body, headers);
  expect(lost.status).toBeGreaterThanOrEqual(500);
  if (workBeforeRetry) await drain();
  offsetMs += (IN_PROGRESS_SECONDS + 1) * 1000;
  const retry = await nova.request(method, path, body, headers);
  await drain();
  // And a second retry is the stored answer.
  const again = await nova.request(method, path, body, headers);
  expect(again.status).toBe(retry.status);
  expect(again.body).toEqual(retry.body);
  return retry;
}

// A keyed create writes: 1 the key's record, 2 the quota charge (one transaction), 3 the server,
// 4 the key's answer. An action: 1 the
// key, 2 the claim, 3 the answer. An attach: 1 the key, 2 the volume's reservation, 3 the claim,
// 4 the answer.
const killPoints = (writes: number) => Array.from({ length: writes }, (_, i) => i + 1)
  .flatMap((write) => (['before', 'after'] as const).flatMap((when) => [true, false].map((workBeforeRetry) => ({ write, when, workBeforeRetry }))));

describe('an Idempotency-Key survives a crash of the API at any of its writes: one key, one effect', () => {
  it.each(killPoints(4))('create killed at write $write ($when), work run before the retry: $workBeforeRetry', async ({ write, when, workBeforeRetry }) => {
    const name = `crash-${uuid().slice(0, 8)}`;
    const retry = await crashAndRetry({ write, when }, workBeforeRetry, 'POST', '/servers', { server: { name, flavorRef: '1', imageRef: IMAGE } });
    expect(retry.status).toBe(202);
    const listed = (await nova.get(`/servers/detail?name=^${name}$`)).body.servers as { id: string; status: string }[];
    expect(listed.map((s) => s.id)).toEqual([retry.body.server.id]);
    expect(listed[0]!.status).toBe('ACTIVE');
    expect(await actionsOf(retry.body.server.id, 'create')).toHaveLength(1);
    // Its quota charged once, whatever crashed when: its charge there, the counters their sum.
    expect(await readCharge(backends.table, 'demo', retry.body.server.id)).toMatchObject({ cores: 1, ram: 512 });
    expect((await readUsage(backends.table, 'demo')).instances).toBe((await readCharges(backends.table, 'demo')).size);
  });

  it.each(killPoints(3))('reboot killed at write $write ($when), work run before the retry: $workBeforeRetry', async ({ write, when, workBeforeRetry }) => {
    const instance = await seedInstance(backends.table);
    const retry = await crashAndRetry({ write, when }, workBeforeRetry, 'POST', `/servers/${instance.id}/action`, { reboot: { type: 'SOFT' } });
    expect(retry.status).toBe(202);
    const reboots = await actionsOf(instance.id, 'reboot');
    expect(reboots).toHaveLength(1);
    expect((await readInstance(backends.table, instance.id))?.taskState).toBeUndefined();
  });

  it.each(killPoints(4))('volume attach killed at write $write ($when), work run before the retry: $workBeforeRetry', async ({ write, when, workBeforeRetry }) => {
    const instance = await seedInstance(backends.table);
    const volumeId = await seedVolume(backends.table);
    const retry = await crashAndRetry({ write, when }, workBeforeRetry, 'POST', `/servers/${instance.id}/os-volume_attachments`, {
      volumeAttachment: { volumeId },
    });
    expect(retry.status).toBe(200);
    expect(retry.body.volumeAttachment.device).toBe('/dev/vdb');
    expect(await actionsOf(instance.id, 'attach_volume')).toHaveLength(1);
    const attached = await nova.get(`/servers/${instance.id}/os-volume_attachments`);
    expect((attached.body.volumeAttachments as { volumeId: string }[]).map((a) => a.volumeId)).toEqual([volumeId]);
  });

  it('a create whose send failed and whose undo could not be written keeps its key: the retry after the window finds the server', async () => {
    const name = `undo-${uuid().slice(0, 8)}`;
    const headers = { 'Idempotency-Key': `"${uuid()}"` };
    const body = { server: { name, flavorRef: '1', imageRef: IMAGE } };
    queue.failNext = true;
    throttleDeletes = true;
    const failed = await nova.request('POST', '/servers', body, headers);
    throttleDeletes = false;
    expect(failed.status).toBe(503);
    // The key was kept, not given back: a retry within the window is told the first still runs.
    expect((await nova.request('POST', '/servers', body, headers)).status).toBe(409);
    offsetMs += (IN_PROGRESS_SECONDS + 1) * 1000;
    const retry = await nova.request('POST', '/servers', body, headers);
    expect(retry.status).toBe(202);
    await drain();
    const listed = (await nova.get(`/servers/detail?name=^${name}$`)).body.servers as { id: string; status: string }[];
    expect(listed.map((s) => [s.id, s.status])).toEqual([[retry.body.server.id, 'ACTIVE']]);
  });

  it('a create whose send failed and was undone gives its key back: the retry at once makes the one server', async () => {
    const name = `undone-${uuid().slice(0, 8)}`;
    const headers = { 'Idempotency-Key': `"${uuid()}"` };
    const body = { server: { name, flavorRef: '1', imageRef: IMAGE } };
    queue.failNext = true;
    expect((await nova.request('POST', '/servers', body, headers)).status).toBe(503);
    const retry = await nova.request('POST', '/servers', body, headers);
    expect(retry.status).toBe(202);
    await drain();
    const listed = (await nova.get(`/servers/detail?name=^${name}$`)).body.servers as { id: string }[];
    expect(listed.map((s) => s.id)).toEqual([retry.body.server.id]);
  });
});
