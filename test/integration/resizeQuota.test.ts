import { startRuntime, type Runtime } from '../../local/runtime.js';
import { Nova } from '../support/nova.js';

// A resize to a larger flavor is checked against the project's cores and ram quota at the API,
// as Nova's resize checks its deltas (Tempest's admin.test_servers_negative resizes past both):
// refused with Nova's 403 and its words, and the server left as it was; a resize that fits, or
// that shrinks, is taken.

const IMAGE = '70a599e0-31e7-49b7-b260-868f441e862b';

let runtime: Runtime;
let admin: Nova;
let member: Nova;
beforeAll(async () => {
  runtime = await startRuntime({ port: 0, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT, driver: { stepMs: 0 } });
  admin = new Nova(runtime.apiUrl, 'admin:admin');
  member = new Nova(runtime.apiUrl, 'ria:upsized');
  expect((await admin.request('PUT', '/os-quota-sets/upsized', { quota_set: { cores: 2, ram: 4096 } })).status).toBe(200);
});
afterAll(() => runtime.stop());

it('refuses a resize past the cores and ram quota with Nova\'s 403 and changes nothing; one that fits is taken', async () => {
  const id = await member.createServer('small');
  await member.waitIdle(id);
  const before = (await member.get(`/servers/${id}`)).body.server;
  expect([before.status, before.flavor.id]).toEqual(['ACTIVE', '1']);

  // m1.large: 4 vCPUs, 8,192 MiB against 1 and 512 used of 2 and 4,096.
  const refused = await member.post(`/servers/${id}/action`, { resize: { flavorRef: '4' } });
  expect([refused.status, refused.body.forbidden?.message]).toEqual([
    403, 'Quota exceeded for cores, ram: Requested 3, 7680, but already used 1, 512 of 2, 4096 cores, ram',
  ]);
  const after = (await member.get(`/servers/${id}`)).body.server;
  expect([after.status, after.flavor.id, after['OS-EXT-STS:task_state']]).toEqual(['ACTIVE', '1', null]);
  expect((await member.get(`/servers/${id}/os-instance-actions`)).body.instanceActions.map((a: { action: string }) => a.action)).toEqual(['create']);

  // m1.medium: 2 vCPUs, 4,096 MiB, exactly at both limits.
  expect((await member.post(`/servers/${id}/action`, { resize: { flavorRef: '3' } })).status).toBe(202);
  await member.waitIdle(id);
  expect((await member.get(`/servers/${id}`)).body.server.status).toBe('VERIFY_RESIZE');
});
