import { readInstance } from '../../functions/core/compute/readInstance.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import { runOperation } from '../../functions/core/compute/worker.js';
import { startRuntime, type Runtime } from '../../local/runtime.js';
import { CapturingQueue, seedInstance, startApiOnly, type ApiOnly } from '../support/emulators.js';
import { IMAGE, IMAGE2, Nova } from '../support/nova.js';
import { seedVolume } from '../support/volumes.js';

// Atomic admission over real HTTP: the API handler, dynalite and fauxqs, the compute worker.

let runtime: Runtime;
let nova: Nova;
// The contention test holds the worker: what is accepted stays claimed until the test runs it,
// however fast or slow the machine answers the 50 requests.
let held: ApiOnly;
const queue = new CapturingQueue();

beforeAll(async () => {
  runtime = await startRuntime({ port: 0, driver: { stepMs: 10 }, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT });
  nova = new Nova(runtime.apiUrl);
  held = await startApiOnly(queue);
});
afterAll(async () => {
  await runtime.stop();
  await held.stop();
});

const conflicting = (i: number, volumeIds: readonly string[]) => {
  switch (i % 5) {
    case 0: return ['/action', { rebuild: { imageRef: i % 2 ? IMAGE : IMAGE2 } }] as const;
    case 1: return ['/os-volume_attachments', { volumeAttachment: { volumeId: volumeIds[i]! } }] as const;
    case 2: return ['/action', { 'os-stop': null }] as const;
    case 3: return ['/action', { reboot: { type: 'SOFT' } }] as const; // a HARD one may take over (Nova's ALLOW_REBOOT)
    default: return ['/action', { resize: { flavorRef: '2' } }] as const;
  }
};

it('admits exactly one of 50 concurrent conflicting requests; 49 get 409 naming its task_state', async () => {
  const { id } = await seedInstance(held.table);
  // One volume for each attach among them (every fifth request), within the project's quota of 10.
  const volumeIds = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 5 === 1 ? seedVolume(held.table) : '')));

  const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => {
    const [path, body] = conflicting(i, volumeIds);
    return held.nova.post(`/servers/${id}${path}`, body);
  }));

  const accepted = responses.filter((r) => r.status === 202 || r.status === 200);
  const refused = responses.filter((r) => r.status === 409);
  expect(accepted).toHaveLength(1);
  expect(refused).toHaveLength(49);
  expect(queue.messages).toHaveLength(1);

  const server = (await held.nova.get(`/servers/${id}`)).body.server;
  const winnerTaskState = server['OS-EXT-STS:task_state'];
  expect(winnerTaskState).not.toBeNull();
  for (const r of refused) {
    expect(r.body.conflictingRequest.code).toBe(409);
    expect(r.body.conflictingRequest.message).toMatch(
      new RegExp(`^Cannot '\\w+' instance ${id} while it is in task_state ${winnerTaskState}$`));
  }

  // The worker, released: the one winner runs to its end.
  const worker = { table: held.table, driver: new SimulatedDriver(held.table, { stepMs: 0 }), runLeaseMs: 60_000, claimLeaseMs: 600_000 };
  expect(await runOperation(worker, queue.take())).toBe('done');
  const idle = await readInstance(held.table, id);
  expect(idle?.taskState).toBeUndefined();
  expect(idle?.vmState).not.toBe('error');
  const actions = (await held.nova.get(`/servers/${id}/os-instance-actions`)).body.instanceActions;
  expect(actions).toHaveLength(1); // the one winner: refusals record nothing
});

it('answers 400 for a malformed body and 404 for an unknown server, writing nothing', async () => {
  const id = await nova.createServer('strict');
  await nova.waitIdle(id);
  const before = (await nova.get(`/servers/${id}`)).body.server;

  const bad = await nova.request('POST', `/servers/${id}/action`, '{"rebuild": ');
  expect(bad.status).toBe(400);
  expect(bad.body.badRequest.message).toBe('Malformed request body');
  const missing = await nova.action(id, { rebuild: {} });
  expect(missing.status).toBe(400);
  expect(missing.body.badRequest.message).toMatch(/imageRef/);
  const unknown = await nova.action(crypto.randomUUID(), { rebuild: { imageRef: IMAGE } });
  expect(unknown.status).toBe(404);
  expect(unknown.body.itemNotFound.message).toMatch(/could not be found/);
  const long = 'x'.repeat(2000);
  expect((await nova.get(`/servers/${long}`)).status).toBe(404);
  expect((await nova.delete(`/servers/${id}/os-volume_attachments/${long}`)).status).toBe(404);
  expect((await nova.get(`/servers/${id}/os-instance-actions/%E0%A4%A`)).status).toBe(404);
  const noToken = await nova.as('').get(`/servers/${id}`);
  expect(noToken.status).toBe(401);

  // No wait: an admission claims the server in the request's own write, before it answers, so a
  // request that had been admitted would already show here.
  const after = (await nova.get(`/servers/${id}`)).body.server;
  expect(after).toEqual(before);
  expect((await nova.get(`/servers/${id}/os-instance-actions`)).body.instanceActions).toHaveLength(1);
});

it('never shows or lets another project touch a server (404)', async () => {
  const id = await nova.createServer('private');
  const mallory = nova.as('mallory:other');
  expect((await mallory.get(`/servers/${id}`)).status).toBe(404);
  expect((await mallory.action(id, { 'os-stop': null })).status).toBe(404);
  expect((await mallory.get('/servers')).body.servers.map((s: { id: string }) => s.id)).not.toContain(id);
  await nova.waitIdle(id);
});
