import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { requestOperation, type AdmissionDeps } from '../../functions/core/compute/admission.js';
import { getAttachment, Ports, readAttachable, Volumes } from '../../functions/core/shared/attachables.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { BadRequest, ServiceUnavailable } from '../../functions/core/shared/errors.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import { sweepExpiredClaims } from '../../functions/core/compute/sweeper.js';
import { makeTable, type Table } from '../../functions/core/shared/table.js';
import { runOperation } from '../../functions/core/compute/worker.js';
import { addDynamoFaults, FaultLog, Killed, runAs, SeededRandom } from '../support/faults/index.js';
import { HistoryRecorder } from '../support/history/recorder.js';
import { checkOwnership } from '../support/history/checker.js';
import {
  alice, CapturingQueue, requestId, seedAttachment, seedInstance, startBackends, uuid, type TestBackends,
} from '../support/emulators.js';
import { seedVolume } from '../support/volumes.js';

// Issue 9, "nothing stuck" for what an attach reserves before it claims (issue 11's one-write
// admission), and "never owned twice" for what a delete frees: the API or the worker is killed
// between two of its writes by the fault injection of test/support/faults, on real dynalite.

const RESERVATION_LEASE_MS = 50_000; // the deployed default: API timeout 20 s + margin 30 s
const CLAIM_LEASE_MS = 600_000;
const leases = { runLeaseMs: 60_000, claimLeaseMs: CLAIM_LEASE_MS };

let backends: TestBackends;
/** A client of its own, so the fault and history middlewares are this test's alone. */
let table: Table;
let log: FaultLog;
let recorder: HistoryRecorder;
/** Reads the API sends, by command, to show what a path costs. */
let reads: string[];
// Fresh backends for each test: a sweep's count is over the whole table.
beforeEach(async () => {
  reads = [];
  backends = await startBackends();
  table = makeTable(backends.emulators.tableName, new DynamoDBClient({
    endpoint: backends.emulators.dynamodbEndpoint, region: 'us-east-1',
    credentials: { accessKeyId: 'taskgate', secretAccessKey: 'taskgate' },
  }));
  log = new FaultLog();
  addDynamoFaults(table.db, { random: new SeededRandom(9), log, throttleRate: 0 });
  recorder = new HistoryRecorder(Date.now);
  recorder.attach(table.db);
  table.db.middlewareStack.add((next, context) => async (args) => {
    if (/^(Get|Query|Scan)/.test(context.commandName ?? '')) reads.push(context.commandName!);
    return next(args);
  }, { step: 'initialize', name: 'countReads' });
});
afterEach(async () => {
  table.db.destroy();
  await backends.stop();
});

const admission = (queue: CapturingQueue, at: number | (() => number)): AdmissionDeps => ({
  table, queue, claimLeaseMs: CLAIM_LEASE_MS, reservationLeaseMs: RESERVATION_LEASE_MS,
  now: typeof at === 'number' ? () => at : at,
});

const attach = (queue: CapturingQueue, at: number | (() => number), instanceId: string, volumeId: string, rid = requestId()) =>
  requestOperation(admission(queue, at), { instanceId, op: 'attach_volume', caller: alice, requestId: rid, params: { volumeId } });

/** The API invocation dies right after its first write (the reservation), before its claim. */
async function attachKilledBeforeClaim(instanceId: string, volumeId: string, at: number): Promise<string> {
  const rid = requestId();
  const killed = runAs({ role: 'api', killAt: { write: 1, when: 'after' } }, () => attach(new CapturingQueue(), at, instanceId, volumeId, rid));
  await expect(killed).rejects.toBeInstanceOf(Killed);
  const volume = await readAttachable(table, Volumes, volumeId);
  expect(volume).toMatchObject({ status: 'reserved', instanceId, requestId: rid, leaseUntil: at + RESERVATION_LEASE_MS });
  const instance = await readInstance(table, instanceId);
  expect(instance?.claim).toBeUndefined();
  return rid;
}

describe('an attach killed between its reservation and its claim', () => {
  it('holds the volume until its lease ends (a race loser still gets its 400 from one write), then the sweeper frees it', async () => {
    const [x, y] = [await seedInstance(table), await seedInstance(table)];
    const volumeId = await seedVolume(table);
    const t0 = Date.now();
    await attachKilledBeforeClaim(x.id, volumeId, t0);

    // Within the lease the reservation stands, as a live one would: 400 at once, nothing read.
    reads = [];
    await expect(attach(new CapturingQueue(), t0 + 1_000, y.id, volumeId)).rejects.toBeInstanceOf(BadRequest);
    expect(reads).toEqual([]);
    expect(await sweepExpiredClaims(table, t0 + RESERVATION_LEASE_MS - 1)).toBe(0);
    expect((await readAttachable(table, Volumes, volumeId))?.status).toBe('reserved');

    // One sweep past the lease: the instance shows no claim by that request, so it is given back.
    expect(await sweepExpiredClaims(table, t0 + RESERVATION_LEASE_MS + 1)).toBe(1);
    const freed = await readAttachable(table, Volumes, volumeId);
    expect(freed?.status).toBe('available');
    expect(freed?.leaseUntil).toBeUndefined();
    const accepted = await attach(new CapturingQueue(), t0 + RESERVATION_LEASE_MS + 2, y.id, volumeId);
    expect(accepted.params).toMatchObject({ volumeId, device: '/dev/vdb' });
  });

  it('is taken over by the next reserve of the same volume once its lease ran out, without waiting for a sweep', async () => {
    const [x, y] = [await seedInstance(table), await seedInstance(table)];
    const volumeId = await seedVolume(table);
    const t0 = Date.now();
    await attachKilledBeforeClaim(x.id, volumeId, t0);

    const queue = new CapturingQueue();
    const rid = requestId();
    await attach(queue, t0 + RESERVATION_LEASE_MS + 1, y.id, volumeId, rid);

    expect(await readAttachable(table, Volumes, volumeId)).toMatchObject({ status: 'reserved', instanceId: y.id, requestId: rid });
    expect((await readInstance(table, y.id))?.claim?.requestId).toBe(rid);
    const worker = { table, driver: new SimulatedDriver(table, { stepMs: 0 }), ...leases };
    expect(await runOperation(worker, queue.take())).toBe('done');
    expect(await readAttachable(table, Volumes, volumeId)).toMatchObject({ status: 'in-use', instanceId: y.id });
    expect(await getAttachment(table, Volumes, y.id, volumeId)).toMatchObject({ requestId: rid });
  });
});

describe('a reservation past its lease whose request did claim', () => {
  it('is left alone while the operation is queued: its lease follows the claim\'s, and it ends attached', async () => {
    const [x, y] = [await seedInstance(table), await seedInstance(table)];
    const volumeId = await seedVolume(table);
    const t0 = Date.now();
    const queue = new CapturingQueue();
    await attach(queue, t0, x.id, volumeId);

    expect(await sweepExpiredClaims(table, t0 + RESERVATION_LEASE_MS + 1)).toBe(0);
    const claimed = await readInstance(table, x.id);
    expect(await readAttachable(table, Volumes, volumeId)).toMatchObject({ status: 'reserved', leaseUntil: claimed?.leaseUntil });
    await expect(attach(new CapturingQueue(), t0 + RESERVATION_LEASE_MS + 2, y.id, volumeId)).rejects.toBeInstanceOf(BadRequest);

    const worker = { table, driver: new SimulatedDriver(table, { stepMs: 0 }), ...leases };
    expect(await runOperation(worker, queue.take())).toBe('done');
    const attached = await readAttachable(table, Volumes, volumeId);
    expect(attached).toMatchObject({ status: 'in-use', instanceId: x.id });
    expect(attached?.leaseUntil).toBeUndefined();
  });

  it('whose worker died between its release and marking the volume in-use is completed by the sweeper, not freed', async () => {
    const x = await seedInstance(table);
    const volumeId = await seedVolume(table);
    const t0 = Date.now();
    const queue = new CapturingQueue();
    await attach(queue, t0, x.id, volumeId);
    const worker = { table, driver: new SimulatedDriver(table, { stepMs: 0 }), ...leases };
    // Writes of a one-step attach: take-up, the volume attaching, the attachment's item, release
    // (with its entry), mark in-use, action.
    const message = queue.take();
    await expect(runAs({ role: 'worker', killAt: { write: 5, when: 'before' } }, () => runOperation(worker, message)))
      .rejects.toBeInstanceOf(Killed);
    expect((await readInstance(table, x.id))?.volumes?.[volumeId]).toBeDefined();
    expect((await readAttachable(table, Volumes, volumeId))?.status).toBe('attaching');

    expect(await sweepExpiredClaims(table, t0 + CLAIM_LEASE_MS + 1)).toBe(0);
    expect(await readAttachable(table, Volumes, volumeId)).toMatchObject({ status: 'in-use', instanceId: x.id });
  });
});

it('a claim that answers after the reservation\'s lease is given back with a 503: nothing held, nothing queued', async () => {
  const x = await seedInstance(table);
  const volumeId = await seedVolume(table);
  const t0 = Date.now();
  // The first reading of the clock starts the admission; every later one is past the lease.
  let calls = 0;
  const clock = () => (calls++ === 0 ? t0 : t0 + RESERVATION_LEASE_MS + 1);
  const queue = new CapturingQueue();

  await expect(attach(queue, clock, x.id, volumeId)).rejects.toBeInstanceOf(ServiceUnavailable);

  expect(queue.messages).toHaveLength(0);
  const after = await readInstance(table, x.id);
  expect(after?.claim).toBeUndefined();
  expect(after?.taskState).toBeUndefined();
  const volume = await readAttachable(table, Volumes, volumeId);
  expect(volume?.status).toBe('available');
});

describe('delete frees volumes and ports only after its release empties the server\'s maps', () => {
  const deleting = async () => {
    const x = await seedInstance(table);
    const volumeId = await seedAttachment(table, Volumes, x.id);
    const portId = await seedAttachment(table, Ports, x.id);
    const queue = new CapturingQueue();
    await requestOperation(admission(queue, Date.now()), { instanceId: x.id, op: 'delete', caller: alice, requestId: requestId() });
    return { x, volumeId, portId, message: queue.take() };
  };
  const worker = () => ({ table, driver: new SimulatedDriver(table, { stepMs: 0 }), ...leases });

  it('in that order: at no write is a volume or port free while the server lists it, or listed by two servers', async () => {
    const { x, volumeId, portId, message } = await deleting();
    const from = recorder.events.length;

    expect(await runAs({ role: 'worker', requestId: message.requestId, instanceId: x.id, token: message.token },
      () => runOperation(worker(), message))).toBe('done');

    const writes = recorder.events.slice(from).filter((e) => e.kind === 'write' && e.ok);
    const at = (pk: string) => writes.findIndex((e) => e.kind === 'write' && e.pk === pk && (e.after?.deleted || e.after?.status === 'available'));
    const released = at(`INSTANCE#${x.id}`);
    expect(released).toBeGreaterThanOrEqual(0);
    expect(at(`VOLUME#${volumeId}`)).toBeGreaterThan(released);
    expect(at(`PORT#${portId}`)).toBeGreaterThan(released);
    expect(await readInstance(table, x.id)).toMatchObject({ deleted: true, volumes: {}, ports: {} });
    expect(checkOwnership(recorder.events)).toEqual([]);
  });

  it('a worker killed between the release and freeing them: they stay out of reach, and the redelivery frees them', async () => {
    const { x, volumeId, portId, message } = await deleting();
    const y = await seedInstance(table);
    // Writes of a delete: take-up, the destroy step's checkpoint, the release, then the frees.
    await expect(runAs({ role: 'worker', killAt: { write: 3, when: 'after' } }, () => runOperation(worker(), message)))
      .rejects.toBeInstanceOf(Killed);

    const released = await readInstance(table, x.id);
    expect(released).toMatchObject({ deleted: true, volumes: {}, ports: {}, heldWhenDeleted: { volumes: [volumeId], ports: [portId] } });
    expect(await readAttachable(table, Volumes, volumeId)).toMatchObject({ status: 'in-use', instanceId: x.id });
    // Owned by nobody else meanwhile: another server is refused it.
    await expect(attach(new CapturingQueue(), Date.now(), y.id, volumeId)).rejects.toBeInstanceOf(BadRequest);

    // The message comes back: the worker finds its own outcome on the item and does what followed it.
    expect(await runOperation(worker(), message)).toBe('dropped');
    expect(await readAttachable(table, Volumes, volumeId)).toMatchObject({ status: 'available' });
    expect(await readAttachable(table, Ports, portId)).toMatchObject({ status: 'available' });
    const queue = new CapturingQueue();
    await attach(queue, Date.now(), y.id, volumeId);
    expect(await runOperation(worker(), queue.take())).toBe('done');
    expect(await readAttachable(table, Volumes, volumeId)).toMatchObject({ status: 'in-use', instanceId: y.id });
  });
});
