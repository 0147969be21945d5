import { readSlices } from '../../functions/core/placement/quotas/slices.js';
import { startRuntime, type Runtime } from '../../local/runtime.js';
import { Nova } from '../support/nova.js';

// A spread project's quota through the whole runtime (API, queue, worker): its creates at once
// admit exactly its limit, the usage Nova shows (limits, the quota set's detail) is its servers,
// not the room its slices hold, and its deletes give their room back to the slices.

const PROJECT = 'spread-quota';
const IMAGE = '70a599e0-31e7-49b7-b260-868f441e862b';
let runtime: Runtime;
let admin: Nova;
beforeAll(async () => {
  runtime = await startRuntime({
    port: 0, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT, driver: { stepMs: 0 },
    projectSpreads: { [PROJECT]: { listingPartitions: 1, usageSlices: 8 } },
  });
  admin = new Nova(runtime.apiUrl, 'admin:admin');
});
afterAll(() => runtime.stop());

it('30 creates at once against 20 over 8 slices: 20 admitted, 20 shown used, then 0 once deleted', async () => {
  const nova = new Nova(runtime.apiUrl, `u:${PROJECT}`);
  expect((await admin.request('PUT', `/os-quota-sets/${PROJECT}`, { quota_set: { instances: 20, cores: 20 } })).status).toBe(200);
  const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => nova.post('/servers', { server: { name: `s${i}`, flavorRef: '1', imageRef: IMAGE } })));
  const admitted = answers.filter((a) => a.status === 202);
  expect(admitted).toHaveLength(20);
  for (const r of answers.filter((a) => a.status !== 202)) {
    expect(r.body.forbidden.message).toBe('Quota exceeded for cores, instances: Requested 1, 1, but already used 20, 20 of 20, 20 cores, instances');
  }
  const ids: string[] = admitted.map((a) => a.body.server.id);
  for (const id of ids) await nova.waitIdle(id);
  expect((await nova.get('/limits')).body.limits.absolute).toMatchObject({ totalInstancesUsed: 20, totalCoresUsed: 20, totalRAMUsed: 20 * 512 });
  // Nova's settable minimum is what is used, not what the slices hold.
  expect((await admin.request('PUT', `/os-quota-sets/${PROJECT}`, { quota_set: { instances: 19 } })).status).toBe(400);

  await Promise.all(ids.map((id) => nova.delete(`/servers/${id}`)));
  for (const id of ids) await nova.waitGone(id);
  // A delete's give-back follows its release (which is when the server reads as gone): wait for the workers, not for a time.
  let used = -1;
  for (let i = 0; i < 500 && used !== 0; i++) {
    used = (await admin.get(`/os-quota-sets/${PROJECT}/detail`)).body.quota_set.instances.in_use;
    if (used !== 0) await new Promise((r) => setTimeout(r, 10));
  }
  expect(used).toBe(0);
  // The room went back to the slices; the counters still hold it.
  const { counters, rooms } = await readSlices(runtime.table, PROJECT);
  expect(rooms.reduce((n, room) => n + room.instances, 0)).toBe(counters.instances);
  expect(counters.instances).toBe(20);
}, 120_000);
