import { DriverError } from '../../functions/core/shared/errors.js';
import { readCharges } from '../../functions/core/placement/quotas/charges.js';
import { readUsage } from '../../functions/core/placement/quotas/usage.js';
import { startRuntime, type Runtime } from '../../local/runtime.js';
import { SeededRandom } from '../support/faults/random.js';
import { Nova } from '../support/nova.js';

// 50 creates at once against an instances quota of 10, through the whole runtime (API, queue,
// worker), several rounds, each in its own project: exactly 10 are admitted, every other one is
// Nova's 403, and once the admitted ones are deleted the usage is back to 0, also in the rounds
// whose creates fail in the driver (an ERROR server counts, as in Nova, until it is deleted).

const ROUNDS = 4;
const CREATES = 50;
const QUOTA = 10;

let failCreates = false;
let runtime: Runtime;
let admin: Nova;
beforeAll(async () => {
  runtime = await startRuntime({
    port: 0, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT,
    driver: { stepMs: 0, beforeStep: (op) => { if (op === 'create' && failCreates) throw new DriverError('injected build failure'); } },
  });
  admin = new Nova(runtime.apiUrl, 'admin:admin');
});
afterAll(() => runtime.stop());


it.each(Array.from({ length: ROUNDS }, (_, i) => i))('round %i: exactly the quota is admitted, and all of it is given back', async (round) => {
  const project = `race-${round}-${Date.now()}`;
  const nova = new Nova(runtime.apiUrl, `u${round}:${project}`);
  failCreates = round % 2 === 1;
  expect((await admin.request('PUT', `/os-quota-sets/${project}`, { quota_set: { instances: QUOTA } })).status).toBe(200);
  const random = new SeededRandom(1000 + round);
  const answers = await Promise.all(Array.from({ length: CREATES }, async (_, i) => {
    await new Promise((r) => setTimeout(r, random.int(5)));
    return nova.post('/servers', { server: { name: `r${round}-${i}`, flavorRef: '1', imageRef: '70a599e0-31e7-49b7-b260-868f441e862b' } });
  }));
  const admitted = answers.filter((a) => a.status === 202);
  const refused = answers.filter((a) => a.status === 403);
  expect(admitted.length + refused.length).toBe(CREATES);
  expect(admitted).toHaveLength(QUOTA);
  for (const r of refused) {
    expect(r.body.forbidden.message).toBe(`Quota exceeded for instances: Requested 1, but already used ${QUOTA} of ${QUOTA} instances`);
  }
  const usage = await readUsage(runtime.table, project);
  expect([usage.instances, usage.cores, usage.ram, (await readCharges(runtime.table, project)).size]).toEqual([QUOTA, QUOTA, QUOTA * 512, QUOTA]);

  const ids: string[] = admitted.map((a) => a.body.server.id);
  for (const id of ids) {
    const server = await nova.waitIdle(id);
    expect(server.status).toBe(failCreates ? 'ERROR' : 'ACTIVE');
  }
  // Built or failed, each still counts until it is deleted.
  expect((await nova.get('/limits')).body.limits.absolute.totalInstancesUsed).toBe(QUOTA);
  await Promise.all(ids.map((id) => nova.delete(`/servers/${id}`)));
  for (const id of ids) await nova.waitGone(id);
  // A delete's give-back follows its release (which is when the server reads as gone): wait for
  // the workers to finish, not for a time.
  let after = await readUsage(runtime.table, project);
  for (let i = 0; i < 500 && after.instances > 0; i++) {
    await new Promise((r) => setTimeout(r, 10));
    after = await readUsage(runtime.table, project);
  }
  expect([after.instances, after.cores, after.ram, (await readCharges(runtime.table, project)).size]).toEqual([0, 0, 0, 0]);
  expect((await nova.get('/limits')).body.limits.absolute).toMatchObject({ totalInstancesUsed: 0, totalCoresUsed: 0, totalRAMUsed: 0 });
}, 120_000);
