import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { getAction } from '../../functions/core/compute/instanceActions.js';
import { requestOperation, type AdmissionDeps } from '../../functions/core/compute/admission.js';
import { getAttachment, readAttachable, Volumes } from '../../functions/core/shared/attachables.js';
import { claimInstance } from '../../functions/core/compute/claimInstance.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { releaseClaim } from '../../functions/core/compute/release.js';
import { renewClaim } from '../../functions/core/compute/takeUp.js';
import type { OperationContext } from '../../functions/core/compute/driver.js';
import { FencedOut, ServiceUnavailable } from '../../functions/core/shared/errors.js';
import { resetState } from '../../functions/core/compute/instanceStore.js';
import { sqsOperationQueue } from '../../functions/core/compute/queue.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import { runOperation } from '../../functions/core/compute/worker.js';
import { createComputeHandler } from '../../functions/compute/batch.js';
import {
  admin, alice, CapturingQueue, countingDriver, requestId, seedInstance, startBackends, type TestBackends,
} from '../support/emulators.js';
import { gate } from '../support/faults/leaseFaults.js';
import { IMAGE2 } from '../support/nova.js';
import { seedVolume } from '../support/volumes.js';

let backends: TestBackends;
beforeAll(async () => { backends = await startBackends(); });
afterAll(() => backends.stop());

const deps = (queue = new CapturingQueue()): AdmissionDeps & { queue: CapturingQueue } =>
  ({ table: backends.table, queue, claimLeaseMs: 60_000 });

describe('fencing: a stale token changes nothing', () => {
  it('refuses a release with a superseded token', async () => {
    const { table } = backends;
    const instance = await seedInstance(table);
    const first = await claimInstance(table, {
      instanceId: instance.id, op: 'rebuild', caller: alice, requestId: requestId(), now: Date.now(), leaseMs: 60_000,
    });
    await resetState(table, admin, instance.id, 'active'); // supersedes the claim
    const second = await claimInstance(table, {
      instanceId: instance.id, op: 'stop', caller: alice, requestId: requestId(), now: Date.now(), leaseMs: 60_000,
    });
    const before = await readInstance(table, instance.id);

    const released = await releaseClaim(table, {
      instanceId: instance.id, token: first.token, vmState: 'error', now: Date.now(),
      outcome: { requestId: 'stale', result: 'Error' }, fault: { code: 500, message: 'stale', created: '' },
    });
    expect(released).toBeUndefined();
    await expect(renewClaim(table, { instanceId: instance.id, token: first.token, now: Date.now(), runLeaseMs: 1, claimLeaseMs: 1 }))
      .rejects.toBeInstanceOf(FencedOut);
    expect(await readInstance(table, instance.id)).toEqual(before);
    expect(before?.taskState).toBe('powering-off');
    expect(before?.version).toBe(second.token);
  });

  it('stops a driver whose claim was superseded before its next write: no mapping, volume freed', async () => {
    const { table } = backends;
    const d = deps();
    const instance = await seedInstance(table);
    const volumeId = await seedVolume(table);
    await requestOperation(d, { instanceId: instance.id, op: 'attach_volume', caller: alice, requestId: requestId(), params: { volumeId } });
    const message = d.queue.take();
    expect((await readAttachable(table, Volumes, volumeId))?.status).toBe('reserved');

    await resetState(table, admin, instance.id, 'active');
    const after = await readInstance(table, instance.id);
    const outcome = await runOperation({ table, driver: new SimulatedDriver(table, { stepMs: 0 }), runLeaseMs: 60_000, claimLeaseMs: 600_000 }, message);

    expect(outcome).toBe('dropped');
    expect(await getAttachment(table, Volumes, instance.id, volumeId)).toBeUndefined();
    expect((await readAttachable(table, Volumes, volumeId))?.status ?? 'available').toBe('available');
    expect(await readInstance(table, instance.id)).toEqual(after);
    const action = await getAction(table, instance.id, message.requestId);
    expect(action).toMatchObject({ result: 'Error', message: 'Error' });
    expect(action?.traceback).toMatch(/Superseded/);
  });
});

describe('at-least-once delivery runs an operation once', () => {
  const record = (body: string, i: number): SQSRecord => ({
    messageId: `m-${i}`, receiptHandle: `r-${i}`, body, md5OfBody: '', eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:q.fifo', awsRegion: 'us-east-1', messageAttributes: {},
    attributes: {
      ApproximateReceiveCount: String(i + 1), SentTimestamp: '0', SenderId: 'x', ApproximateFirstReceiveTimestamp: '0',
      MessageGroupId: JSON.parse(body).instanceId,
    },
  });

  it('the same SQS message delivered twice, one after the other and at once', async () => {
    const { table, emulators } = backends;
    const queue = sqsOperationQueue(emulators.sqs, emulators.queueUrl);
    // "At once" is held by gates, not by the driver's speed: the first delivery stays inside the
    // driver (having taken the work up) until the second one has answered.
    let hold: { started: ReturnType<typeof gate>; release: ReturnType<typeof gate> } | undefined;
    const inner = new SimulatedDriver(table, { stepMs: 0 });
    const holding = new Proxy(inner, {
      get(target, name, receiver) {
        const real = Reflect.get(target, name, receiver);
        if (name !== 'rebuild') return real;
        return async (ctx: OperationContext) => {
          const h = hold;
          hold = undefined;
          if (h) { h.started.open(); await h.release.opened; }
          return real(ctx);
        };
      },
    });
    const { driver, runs } = countingDriver(holding);
    const compute = createComputeHandler({ table, driver, runLeaseMs: 60_000, claimLeaseMs: 600_000 });

    for (const concurrent of [false, true]) {
      runs.clear();
      const instance = await seedInstance(table);
      const rid = requestId();
      await requestOperation({ table, queue, claimLeaseMs: 60_000 }, {
        instanceId: instance.id, op: 'rebuild', caller: alice, requestId: rid, params: { imageRef: IMAGE2 },
      });
      const received = await emulators.sqs.send(new ReceiveMessageCommand({
        QueueUrl: emulators.queueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'],
      }));
      expect(received.Messages).toHaveLength(1);
      const body = received.Messages![0]!.Body!;
      const event = (i: number): SQSEvent => ({ Records: [record(body, i)] });

      if (concurrent) {
        hold = { started: gate(), release: gate() };
        const { started, release } = hold;
        const first = compute(event(0));
        await started.opened;
        // The second finds the first running under a live run lease: it asks for redelivery.
        expect((await compute(event(1))).batchItemFailures).toHaveLength(1);
        release.open();
        expect((await first).batchItemFailures).toEqual([]);
        // Redelivered after the first finished, it is dropped.
        expect((await compute(event(2))).batchItemFailures).toEqual([]);
      } else {
        const results = [await compute(event(0)), await compute(event(1))];
        expect(results.map((r) => r.batchItemFailures)).toEqual([[], []]);
      }
      expect(runs.get('rebuild')).toBe(1);
      const final = await readInstance(table, instance.id);
      expect(final).toMatchObject({ vmState: 'active', imageId: IMAGE2 });
      expect(final?.taskState).toBeUndefined();
      expect(await getAction(table, instance.id, rid)).toMatchObject({ result: 'Success', event: 'compute_rebuild' });
    }
  });
});

describe('a failed send gives the claim back', () => {
  it('answers 503, leaves the instance idle and any reservation released', async () => {
    const { table } = backends;
    const d = deps();
    const instance = await seedInstance(table);
    const volumeId = await seedVolume(table);
    d.queue.failNext = true;
    await expect(requestOperation(d, {
      instanceId: instance.id, op: 'attach_volume', caller: alice, requestId: requestId(), params: { volumeId },
    })).rejects.toEqual(expect.objectContaining({
      constructor: ServiceUnavailable,
      // The 503 carries what SendMessage threw, for whoever logs it.
      cause: expect.objectContaining({ message: 'simulated SendMessage failure' }),
    }));
    const after = await readInstance(table, instance.id);
    expect(after?.taskState).toBeUndefined();
    expect(after?.claim).toBeUndefined();
    expect((await readAttachable(table, Volumes, volumeId))?.status ?? 'available').toBe('available');
    // And the instance takes the next operation.
    await requestOperation(d, { instanceId: instance.id, op: 'stop', caller: alice, requestId: requestId() });
    expect(d.queue.messages).toHaveLength(1);
  });
});

describe('a late duplicate of a finished attach', () => {
  it('changes nothing, even after later operations released the instance', async () => {
    const { table } = backends;
    const d = deps();
    const instance = await seedInstance(table);
    const volumeId = await seedVolume(table);
    const worker = { table, driver: new SimulatedDriver(table, { stepMs: 0 }), runLeaseMs: 60_000, claimLeaseMs: 600_000 };
    await requestOperation(d, { instanceId: instance.id, op: 'attach_volume', caller: alice, requestId: requestId(), params: { volumeId } });
    const attach = d.queue.take();
    expect(await runOperation(worker, attach)).toBe('done');
    await requestOperation(d, { instanceId: instance.id, op: 'stop', caller: alice, requestId: requestId() });
    expect(await runOperation(worker, d.queue.take())).toBe('done');

    expect(await runOperation(worker, attach)).toBe('dropped');

    expect(await getAttachment(table, Volumes, instance.id, volumeId)).toMatchObject({ device: '/dev/vdb' });
    expect(await readAttachable(table, Volumes, volumeId)).toMatchObject({ status: 'in-use', instanceId: instance.id });
    expect(await getAction(table, instance.id, attach.requestId)).toMatchObject({ result: 'Success' });
  });
});
