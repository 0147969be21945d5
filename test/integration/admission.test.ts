import { setTimeout as sleep } from 'node:timers/promises';
import { startRuntime, type Runtime } from '../../local/runtime.js';
import { IMAGE, IMAGE2, Nova } from '../support/nova.js';

// Atomic admission over real HTTP: the API handler, dynalite and fauxqs, the compute worker.

let runtime: Runtime;
let nova: Nova;

beforeAll(async () => {
  // Steps long enough that the winner still holds the claim when the last loser arrives.
  runtime = await startRuntime({ port: 0, driver: { stepMs: 400 }, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT });
  nova = new Nova(runtime.apiUrl);
});
afterAll(() => runtime.stop());

const conflicting = (i: number) => {
  switch (i % 5) {
    case 0: return ['/action', { rebuild: { imageRef: i % 2 ? IMAGE : IMAGE2 } }] as const;
    case 1: return ['/os-volume_attachments', { volumeAttachment: { volumeId: crypto.randomUUID() } }] as const;
    case 2: return ['/action', { 'os-stop': null }] as const;
    case 3: return ['/action', { reboot: { type: 'SOFT' } }] as const; // a HARD one may take over (Nova's ALLOW_REBOOT)
    default: return ['/action', { resize: { flavorRef: '2' } }] as const;
  }
};

it('admits exactly one of 50 concurrent conflicting requests; 49 get 409 naming its task_state', async () => {
  const id = await nova.createServer('contended');
  await nova.waitIdle(id);

  const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => {
    const [path, body] = conflicting(i);
    return nova.post(`/servers/${id}${path}`, body);
  }));

  const accepted = responses.filter((r) => r.status === 202 || r.status === 200);
  const refused = responses.filter((r) => r.status === 409);
  expect(accepted).toHaveLength(1);
  expect(refused).toHaveLength(49);

  // The winner's task_state, from what it asked for (the server may be idle again by now).
  const claims = ['rebuilding', 'attaching_volume', 'powering-off', 'rebooting', 'resize_prep'];
  const winnerTaskState = claims[responses.findIndex((r) => r.status === 202 || r.status === 200) % 5];
  for (const r of refused) {
    expect(r.body.conflictingRequest.code).toBe(409);
    expect(r.body.conflictingRequest.message).toMatch(
      new RegExp(`^Cannot '\\w+' instance ${id} while it is in task_state ${winnerTaskState}$`));
  }
  console.log(`admission: 50 concurrent -> ${accepted.length} accepted, ${refused.length} x 409 naming ${winnerTaskState}`);

  const idle = await nova.waitIdle(id);
  expect(idle['OS-EXT-STS:vm_state']).not.toBe('error');
  const actions = (await nova.get(`/servers/${id}/os-instance-actions`)).body.instanceActions;
  expect(actions).toHaveLength(2); // create and the one winner: refusals record nothing
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

  await sleep(50);
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
