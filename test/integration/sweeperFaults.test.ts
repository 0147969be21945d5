import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { getAction } from '../../functions/core/compute/instanceActions.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { sweepExpiredClaims } from '../../functions/core/compute/sweeper.js';
import { leaseShardOf, makeTable, type Table } from '../../functions/core/shared/table.js';
import { ThrottledError } from '../support/faults/index.js';
import { alice, requestId, seedInstance, startBackends, type TestBackends } from '../support/emulators.js';

// Found by the chaos suite: the sweeper released an expired claim, then its write of the
// action's outcome was throttled. Nothing finds that operation again (no claim for the next
// sweep, no message for a redelivery): the accepted request never ended. And one failed
// instance stopped the whole pass, leaving every later expired claim for another sweep.

let backends: TestBackends;
beforeAll(async () => { backends = await startBackends(); });
afterAll(() => backends.stop());

/** A client to the same table whose writes matching `pick` are throttled `times` times. */
function throttling(pick: (input: Record<string, any>) => boolean, times: number): Table {
  const e = backends.emulators;
  const table = makeTable(e.tableName, new DynamoDBClient({
    endpoint: e.dynamodbEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'taskgate', secretAccessKey: 'taskgate' }, maxAttempts: 1,
  }));
  let left = times;
  table.db.middlewareStack.add((next) => async (args) => {
    if (left > 0 && pick(args.input as Record<string, any>)) {
      left--;
      throw new ThrottledError();
    }
    return next(args);
  }, { step: 'initialize', name: 'throttleSome' });
  return table;
}

async function expiredClaim(op: 'reboot_hard' | 'stop', now: number, fields: { id?: string; expiredMs?: number } = {}) {
  const id = requestId();
  const instance = await seedInstance(backends.table, {
    ...(fields.id ? { id: fields.id } : {}),
    taskState: op === 'stop' ? 'powering-off' : 'rebooting_hard', leaseUntil: now - (fields.expiredMs ?? 1_000),
    claim: { requestId: id, op, userId: alice.userId, projectId: alice.projectId, params: {}, claimedAt: now - 5_000 },
  });
  // The action record is written once, when the operation ends (from the claim on the item).
  return { instance, requestId: id };
}

it('a throttled outcome write after the release is retried: the expired operation still ends once', async () => {
  const now = Date.now() + 3_600_000; // past every other test's claims
  const { instance, requestId: id } = await expiredClaim('reboot_hard', now);
  const table = throttling((input) => String(input.Key?.sk ?? '').startsWith(`ACTION#${id}`), 2);
  expect(await sweepExpiredClaims(table, now)).toBeGreaterThanOrEqual(1);
  expect((await readInstance(backends.table, instance.id))?.claim).toBeUndefined();
  expect(await getAction(backends.table, instance.id, id)).toMatchObject({ result: 'Error', traceback: expect.stringMatching(/^Lease expired/) });
  table.db.destroy();
});

it('one instance that cannot be expired now does not stop the sweep of the others', async () => {
  const now = Date.now() + 7_200_000;
  // Both in one lease shard, the stuck one expired first: the sweeper meets it first.
  const otherId = crypto.randomUUID();
  let stuckId = crypto.randomUUID();
  while (leaseShardOf(stuckId) !== leaseShardOf(otherId)) stuckId = crypto.randomUUID();
  const stuck = await expiredClaim('stop', now, { id: stuckId, expiredMs: 2_000 });
  const other = await expiredClaim('reboot_hard', now, { id: otherId, expiredMs: 1_000 });
  // Every write to the first instance is throttled, more often than settle retries.
  const table = throttling((input) => String(input.Key?.pk ?? '') === `INSTANCE#${stuck.instance.id}`, 1_000);
  await expect(sweepExpiredClaims(table, now)).rejects.toThrow(/provisioned throughput/);
  expect((await readInstance(backends.table, other.instance.id))?.claim).toBeUndefined();
  expect(await getAction(backends.table, other.instance.id, other.requestId)).toMatchObject({ result: 'Error' });
  expect((await readInstance(backends.table, stuck.instance.id))?.claim).toBeDefined();
  table.db.destroy();
});
