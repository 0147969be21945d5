import type { SQSRecord } from 'aws-lambda';
import { getAction } from '../../functions/core/compute/instanceActions.js';
import { requestOperation, type AdmissionDeps } from '../../functions/core/compute/admission.js';
import { readAttachable, Volumes } from '../../functions/core/shared/attachables.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { settleDeadLetter } from '../../functions/core/compute/deadLetters.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import { sweepExpiredClaims } from '../../functions/core/compute/sweeper.js';
import { createComputeHandler } from '../../functions/compute/batch.js';
import {
  alice, CapturingQueue, countingDriver, requestId, seedInstance, startBackends, type TestBackends,
} from '../support/emulators.js';
import { captureLogs } from '../support/logs.js';
import { seedVolume } from '../support/volumes.js';

let backends: TestBackends;
beforeAll(async () => { backends = await startBackends(); });
afterAll(() => backends.stop());

const admission = (queue: CapturingQueue, claimLeaseMs = 60_000): AdmissionDeps =>
  ({ table: backends.table, queue, claimLeaseMs, reservationLeaseMs: 60_000 });

const record = (body: string, group: string, id: string): SQSRecord => ({
  messageId: id, receiptHandle: id, body, md5OfBody: '', eventSource: 'aws:sqs',
  eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:q.fifo', awsRegion: 'us-east-1', messageAttributes: {},
  attributes: {
    ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'x', ApproximateFirstReceiveTimestamp: '0', MessageGroupId: group,
  },
});

describe('the compute batch keeps each message group in order', () => {
  it('fails the rest of a group after a failure, and lets other groups finish', async () => {
    const { table } = backends;
    const queue = new CapturingQueue();
    const a = await seedInstance(table);
    const b = await seedInstance(table);
    await requestOperation(admission(queue), { instanceId: a.id, op: 'stop', caller: alice, requestId: requestId() });
    await requestOperation(admission(queue), { instanceId: b.id, op: 'stop', caller: alice, requestId: requestId() });
    const [stopA, stopB] = queue.messages;
    const { driver, runs } = countingDriver(new SimulatedDriver(table, { stepMs: 0 }));
    const compute = createComputeHandler({ table, driver, runLeaseMs: 60_000, claimLeaseMs: 600_000 });

    const logs = captureLogs();
    const result = await compute({
      Records: [
        record('{"not": "an operation"}', a.id, 'a1'),
        record(JSON.stringify(stopA), a.id, 'a2'),
        record(JSON.stringify(stopB), b.id, 'b1'),
      ],
    }).finally(logs.restore);

    // The crash is logged once, naming its message; the skipped rest of the group is not a crash.
    expect(logs.entries).toEqual([expect.objectContaining({
      level: 'error', attributes: expect.objectContaining({ messageId: 'a1', error: expect.objectContaining({ message: 'not an operation message' }) }),
    })]);

    expect(result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['a1', 'a2']);
    expect(runs.get('stop')).toBe(1);
    expect((await readInstance(table, a.id))?.taskState).toBe('powering-off'); // still queued behind a1
    expect(await readInstance(table, b.id)).toMatchObject({ vmState: 'stopped', powerState: 4 });
  });
});

describe('nothing stuck: expired leases and dead letters end their operation', () => {
  it('the sweeper releases an expired claim with the failure outcome and a fault, and leaves live ones', async () => {
    const { table } = backends;
    const queue = new CapturingQueue();
    const lost = await seedInstance(table, { vmState: 'active' });
    const live = await seedInstance(table, { vmState: 'active' });
    const volumeId = await seedVolume(table);
    const lostRequest = requestId();
    await requestOperation(admission(queue, 1), {
      instanceId: lost.id, op: 'attach_volume', caller: alice, requestId: lostRequest, params: { volumeId },
    });
    await requestOperation(admission(queue, 600_000), { instanceId: live.id, op: 'stop', caller: alice, requestId: requestId() });

    const released = await sweepExpiredClaims(table, Date.now() + 1000);

    expect(released).toBe(1);
    const after = await readInstance(table, lost.id);
    expect(after).toMatchObject({ vmState: 'active', fault: { code: 500 } });
    expect(after?.fault?.message).toMatch(/Lease expired/);
    expect(after?.taskState).toBeUndefined();
    expect((await readAttachable(table, Volumes, volumeId))?.status ?? 'available').toBe('available');
    expect(await getAction(table, lost.id, lostRequest)).toMatchObject({ result: 'Error', event: 'compute_attach_volume' });
    expect((await readInstance(table, live.id))?.taskState).toBe('powering-off');
    expect(await sweepExpiredClaims(table, Date.now() + 1000)).toBe(0);
  });

  it('a dead-lettered message ends its operation with the failure outcome, once', async () => {
    const { table } = backends;
    const queue = new CapturingQueue();
    const instance = await seedInstance(table, { vmState: 'active' });
    const rid = requestId();
    await requestOperation(admission(queue), { instanceId: instance.id, op: 'rebuild', caller: alice, requestId: rid, params: { imageRef: crypto.randomUUID() } });
    const message = queue.take();

    await settleDeadLetter(table, message, 5, Date.now());
    await settleDeadLetter(table, message, 6, Date.now());

    const after = await readInstance(table, instance.id);
    expect(after).toMatchObject({ vmState: 'error', imageId: instance.imageId });
    expect(after?.fault?.message).toMatch(/dead-lettered \(receive count 5\)/);
    expect(await getAction(table, instance.id, rid)).toMatchObject({ result: 'Error', traceback: expect.stringMatching(/dead-lettered/) });
  });
});
