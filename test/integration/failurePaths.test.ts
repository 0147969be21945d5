import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { getAction } from '../../functions/core/compute/instanceActions.js';
import { requestOperation } from '../../functions/core/compute/admission.js';
import { readAttachable, Volumes, writeAttachmentUnfenced } from '../../functions/core/shared/attachables.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { renewClaim } from '../../functions/core/compute/takeUp.js';
import { leasesOf, timings } from '../../functions/core/shared/config.js';
import { sqsOperationQueue, type OperationQueue } from '../../functions/core/compute/queue.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import { sweepExpiredClaims } from '../../functions/core/compute/sweeper.js';
import { createComputeHandler } from '../../functions/compute/batch.js';
import { createDeadLetterHandler } from '../../functions/dlq/batch.js';
import { startEventSourceMapping, visibilityHeartbeat, type EventSourceMapping } from '../../local/eventSourceMapping.js';
import {
  alice, countingDriver, requestId, seedInstance, startApiOnly, startBackends, uuid, type TestBackends,
} from '../support/emulators.js';
import { alwaysCrashing, beforeNextUpdate, dyingOnce, failSendMessage } from '../support/faults/leaseFaults.js';
import { captureLogs, logText } from '../support/logs.js';
import { seedVolume } from '../support/volumes.js';

// One test per failure path of issue 9, on real dynalite and fauxqs with short durations set
// through the configuration (the same derivation as deployed, at a small scale).

const short = timings({ computeTimeoutSeconds: 1, visibilityTimeoutSeconds: 4, leaseMarginSeconds: 1, maxReceiveCount: 2 });
const leases = leasesOf(short);

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The action's record once it has a result (it is finished just after the release, settle.ts). */
async function finishedAction(table: Parameters<typeof getAction>[0], instanceId: string, rid: string) {
  const action = await getAction(table, instanceId, rid);
  return action?.result ? action : undefined;
}

describe('consumed through the queue, as Lambda consumes it', () => {
  let backends: TestBackends;
  let mappings: EventSourceMapping[] = [];
  // The crashes these tests cause are logged by the batch handler; asserted here, not printed.
  let logged: ReturnType<typeof captureLogs>;
  beforeEach(async () => {
    backends = await startBackends(short);
    logged = captureLogs();
  });
  afterEach(async () => {
    await Promise.all(mappings.map((m) => m.stop()));
    mappings = [];
    await backends.stop();
    logged.restore();
  });

  const consume = (driver: SimulatedDriver | ReturnType<typeof alwaysCrashing>) => {
    const { table, emulators } = backends;
    mappings.push(startEventSourceMapping({
      sqs: emulators.sqs, queueUrl: emulators.queueUrl, concurrency: 2,
      handler: createComputeHandler({ table, driver, ...leases }, {
        heartbeatFor: visibilityHeartbeat(emulators.sqs, emulators.queueUrl, short.visibilityTimeoutSeconds),
      }),
    }));
    mappings.push(startEventSourceMapping({
      sqs: emulators.sqs, queueUrl: emulators.deadLetterQueueUrl, concurrency: 1, handler: createDeadLetterHandler(table),
    }));
  };
  const admit = (queue?: OperationQueue) => ({
    table: backends.table, queue: queue ?? sqsOperationQueue(backends.emulators.sqs, backends.emulators.queueUrl),
    claimLeaseMs: leases.claimLeaseMs,
  });

  it('a worker killed hard mid-step: the redelivery finds its run lease expired, takes over and succeeds', async () => {
    const { table } = backends;
    const dying = dyingOnce(new SimulatedDriver(table, { stepMs: 10 }), 'stop');
    consume(dying.driver as SimulatedDriver);
    const instance = await seedInstance(table);
    const rid = requestId();
    await requestOperation(admit(), { instanceId: instance.id, op: 'stop', caller: alice, requestId: rid });

    const after = await until('the stop to end', async () => {
      const current = await readInstance(table, instance.id);
      return current?.taskState === undefined ? current : undefined;
    });
    dying.bury();

    expect(dying.died()).toBe(true);
    expect(after).toMatchObject({ vmState: 'stopped', lastOutcome: { requestId: rid, result: 'Success' } });
    expect(after?.fault).toBeUndefined();
    expect(await until('the action to finish', () => finishedAction(table, instance.id, rid)))
      .toMatchObject({ result: 'Success' });
  });

  it('a message that fails on every delivery is ended by the dead-letter handler, not the sweeper', async () => {
    const { table } = backends;
    consume(alwaysCrashing(new SimulatedDriver(table, { stepMs: 0 }), 'rebuild') as SimulatedDriver);
    let swept = 0;
    let sweeping = Promise.resolve();
    const sweeper = setInterval(() => {
      sweeping = sweeping.then(() => sweepExpiredClaims(table, Date.now())).then((n) => { swept += n; });
    }, 500);
    try {
      const instance = await seedInstance(table);
      const rid = requestId();
      await requestOperation(admit(), { instanceId: instance.id, op: 'rebuild', caller: alice, requestId: rid, params: { imageRef: uuid() } });

      const after = await until('the rebuild to end', async () => {
        const current = await readInstance(table, instance.id);
        return current?.taskState === undefined ? current : undefined;
      });

      expect(after).toMatchObject({ vmState: 'error', imageId: instance.imageId });
      expect(after?.fault?.message).toMatch(/failed on every delivery and was dead-lettered \(receive count \d\)/);
      expect(swept).toBe(0);
      expect(await until('the action to finish', () => finishedAction(table, instance.id, rid)))
        .toMatchObject({ result: 'Error' });
      expect(logText(logged.entries)).toMatch(new RegExp(`${rid}.*crash in rebuild`));
    } finally {
      clearInterval(sweeper);
      await sweeping;
    }
  });

  it('a duplicate or retried send is deduplicated by the FIFO queue itself, and runs once', async () => {
    const { table, emulators } = backends;
    const real = sqsOperationQueue(emulators.sqs, emulators.queueUrl);
    const twice: OperationQueue = { async send(m) { await real.send(m); await real.send(m); } };
    const instance = await seedInstance(table);
    await requestOperation(admit(twice), { instanceId: instance.id, op: 'stop', caller: alice, requestId: requestId() });

    const received = await emulators.sqs.send(new ReceiveMessageCommand({
      QueueUrl: emulators.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 0,
    }));
    expect(received.Messages).toHaveLength(1);

    const { driver, runs } = countingDriver(new SimulatedDriver(table, { stepMs: 0 }));
    consume(driver as SimulatedDriver);
    await until('the stop to end', async () => ((await readInstance(table, instance.id))?.taskState === undefined ? true : undefined));
    expect(runs.get('stop')).toBe(1);
  });
});

describe('the sweeper is the last resort', () => {
  let backends: TestBackends;
  beforeAll(async () => { backends = await startBackends(short); });
  afterAll(() => backends.stop());

  it('ends an operation whose message was lost once its claim lease (the redelivery budget) is over, not before', async () => {
    const { table } = backends;
    const lost: OperationQueue = { async send() { /* dropped on the way */ } };
    const instance = await seedInstance(table);
    const rid = requestId();
    const admittedAt = Date.now();
    await requestOperation({ table, queue: lost, claimLeaseMs: leases.claimLeaseMs, now: () => admittedAt },
      { instanceId: instance.id, op: 'stop', caller: alice, requestId: rid });

    expect(await sweepExpiredClaims(table, admittedAt + short.maxReceiveCount * short.visibilityTimeoutSeconds * 1000)).toBe(0);
    expect(await sweepExpiredClaims(table, admittedAt + leases.claimLeaseMs + 1)).toBe(1);

    const after = await readInstance(table, instance.id);
    expect(after).toMatchObject({ vmState: 'active', fault: { message: expect.stringMatching(/Lease expired/) } });
    expect(after?.taskState).toBeUndefined();
    expect(await getAction(table, instance.id, rid)).toMatchObject({ result: 'Error' });
  });

  it('never releases a claim that a worker renewed between the sweeper\'s query and its write', async () => {
    const { table } = backends;
    const instance = await seedInstance(table);
    const admittedAt = Date.now() - 10_000;
    let token = 0;
    const queue: OperationQueue = { async send(m) { token = m.token; } };
    await requestOperation({ table, queue, claimLeaseMs: 1, now: () => admittedAt },
      { instanceId: instance.id, op: 'stop', caller: alice, requestId: requestId() });
    const sweptAt = Date.now();
    // The sweeper has found the expired claim and read it; before its release lands, the worker checkpoints.
    const racing = beforeNextUpdate(table, () =>
      renewClaim(table, { instanceId: instance.id, token, now: sweptAt, ...leases }));

    expect(await sweepExpiredClaims(racing, sweptAt)).toBe(0);

    const after = await readInstance(table, instance.id);
    expect(after).toMatchObject({ taskState: 'powering-off', version: token, leaseRenewedUntil: sweptAt + leases.claimLeaseMs });
    expect(after?.fault).toBeUndefined();
  });
});

describe('every refusal gives back what it took', () => {
  it('SendMessage failing answers 503 with no internal detail, logs the cause under the request id, and leaves the instance free', async () => {
    const faultySqs = new SQSClient({ endpoint: 'http://127.0.0.1:1', region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    failSendMessage(faultySqs, 'backend-secret-42');
    const api = await startApiOnly(sqsOperationQueue(faultySqs, 'http://127.0.0.1:1/000000000000/q.fifo'));
    const logged = captureLogs();
    try {
      const instance = await seedInstance(api.table);
      const res = await api.nova.action(instance.id, { 'os-stop': null });

      expect(res.status).toBe(503);
      expect(JSON.stringify(res.body)).not.toMatch(/backend-secret-42|InternalError/);
      const rid = res.headers.get('x-openstack-request-id')!;
      expect(logText(logged.entries)).toMatch(new RegExp(`${rid}.*backend-secret-42`));
      const after = await readInstance(api.table, instance.id);
      expect(after?.taskState).toBeUndefined();
      expect(after?.claim).toBeUndefined();
      expect(after?.vmState).toBe('active');
    } finally {
      logged.restore();
      faultySqs.destroy();
      await api.stop();
    }
  });

  it('an attach refused for want of a free device gives the volume back', async () => {
    const api = await startApiOnly();
    try {
      const full = await seedInstance(api.table);
      for (let c = 'b'.charCodeAt(0); c <= 'z'.charCodeAt(0); c++) {
        await writeAttachmentUnfenced(api.table, Volumes, {
          id: uuid(), instanceId: full.id, requestId: `seed-${c}`, device: `/dev/vd${String.fromCharCode(c)}`, created: new Date().toISOString(),
        });
      }
      const volumeId = await seedVolume(api.table);

      const refused = await api.nova.post(`/servers/${full.id}/os-volume_attachments`, { volumeAttachment: { volumeId } });

      expect(refused.status).toBe(404);
      expect(refused.body.itemNotFound.message).toMatch(/No free device/);
      expect(await readAttachable(api.table, Volumes, volumeId)).toMatchObject({ status: 'available' });
      expect((await readInstance(api.table, full.id))?.taskState).toBeUndefined();
      // ...so it attaches elsewhere.
      const other = await seedInstance(api.table);
      expect((await api.nova.post(`/servers/${other.id}/os-volume_attachments`, { volumeAttachment: { volumeId } })).status).toBe(200);
    } finally {
      await api.stop();
    }
  });
});
