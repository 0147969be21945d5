import type { SQSEvent } from 'aws-lambda';
import { getAction } from '../../functions/core/compute/instanceActions.js';
import { requestOperation, type AdmissionDeps } from '../../functions/core/compute/admission.js';
import type { OperationName } from '../../functions/core/compute/catalogue.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { resetState } from '../../functions/core/compute/instanceStore.js';
import type { OperationMessage } from '../../functions/core/compute/queue.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import { runOperation } from '../../functions/core/compute/worker.js';
import { createDeadLetterHandler } from '../../functions/dlq/batch.js';
import {
  admin, alice, CapturingQueue, requestId, seedInstance, startBackends, type TestBackends,
} from '../support/emulators.js';
import { IMAGE2 } from '../support/nova.js';

// The rule guarded: a dead-lettered message ends ITS operation, and only while its claim is the
// instance's current one, fenced by the message's token (functions/core/compute/deadLetters.ts
// settleDeadLetter: `current` compares the item's version and claim with the message's, and the
// release it makes is fenced on msg.token). A message whose claim was superseded (a delete took it
// over, an admin reset the state, the claim was released and a newer one taken) must leave the
// claim now on the instance, and the operation that holds it, alone: no task_state cleared, no
// fault, no outcome of the old request written over the new one. The old operation's action ends
// once, and is not ended again. recovery.test.ts dead-letters only a message whose claim is current.

let backends: TestBackends;
beforeAll(async () => { backends = await startBackends(); });
afterAll(() => backends.stop());

const DEAD_LETTERED_AT = Date.parse('2031-01-01T00:00:00.000Z');

/** The dead-letter Lambda, on its own clock, fed `message` as the dead-letter queue hands it over. */
async function deadLetter(message: OperationMessage, receiveCount = 3) {
  const handler = createDeadLetterHandler(backends.table, () => DEAD_LETTERED_AT);
  const event: SQSEvent = {
    Records: [{
      messageId: `dlq-${crypto.randomUUID()}`, receiptHandle: 'r', body: JSON.stringify(message), md5OfBody: '',
      eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:taskgate-operations-dlq.fifo',
      awsRegion: 'us-east-1', messageAttributes: {},
      attributes: {
        ApproximateReceiveCount: String(receiveCount), SentTimestamp: '0', SenderId: 'x',
        ApproximateFirstReceiveTimestamp: '0', MessageGroupId: message.instanceId,
      },
    }],
  };
  expect(await handler(event)).toEqual({ batchItemFailures: [] });
}

function admitter() {
  const queue = new CapturingQueue();
  const deps: AdmissionDeps = { table: backends.table, queue, claimLeaseMs: 600_000 };
  return async (instanceId: string, op: OperationName, params: Record<string, unknown> = {}) => {
    await requestOperation(deps, { instanceId, op, caller: alice, requestId: requestId(), params });
    return queue.take();
  };
}

const worker = () => ({ table: backends.table, driver: new SimulatedDriver(backends.table, { stepMs: 0 }), runLeaseMs: 60_000, claimLeaseMs: 600_000 });

/** The old message dead-lettered (twice: the handler may see it again); returns its action as it ended. */
async function deadLetterOld(old: OperationMessage) {
  await deadLetter(old);
  const ended = await getAction(backends.table, old.instanceId, old.requestId);
  await deadLetter(old, 4);
  expect(await getAction(backends.table, old.instanceId, old.requestId)).toEqual(ended);
  return ended;
}

it('a dead-lettered rebuild that a delete took over ends in Error, and leaves the delete\'s claim to the delete', async () => {
  const { table } = backends;
  const admit = admitter();
  const instance = await seedInstance(table);
  const rebuild = await admit(instance.id, 'rebuild', { imageRef: IMAGE2 });
  const del = await admit(instance.id, 'delete');
  const deleting = await readInstance(table, instance.id);
  expect(deleting).toMatchObject({ taskState: 'deleting', version: del.token, claim: { requestId: del.requestId } });

  // The rebuild's message failed on every delivery and reaches the dead-letter handler.
  const ended = await deadLetterOld(rebuild);

  expect(await readInstance(table, instance.id)).toEqual(deleting);
  expect((await getAction(table, instance.id, del.requestId))?.finishTime).toBeUndefined();
  expect(ended).toMatchObject({ result: 'Error', traceback: expect.stringMatching(/^Superseded/), finishTime: new Date(DEAD_LETTERED_AT).toISOString() });

  // The delete still runs, under its own claim, to its own outcome; the rebuild is not ended again.
  expect(await runOperation(worker(), del)).toBe('done');
  expect(await readInstance(table, instance.id)).toMatchObject({ vmState: 'deleted', deleted: true });
  expect(await getAction(table, instance.id, del.requestId)).toMatchObject({ result: 'Success' });
  expect(await getAction(table, instance.id, rebuild.requestId)).toEqual(ended);
});

it('a dead-lettered rebuild whose claim an admin reset leaves the next operation\'s claim alone', async () => {
  const { table } = backends;
  const admit = admitter();
  const instance = await seedInstance(table);
  const rebuild = await admit(instance.id, 'rebuild', { imageRef: IMAGE2 });
  await resetState(table, admin, instance.id, 'active');
  const resetEnded = await getAction(table, instance.id, rebuild.requestId);
  expect(resetEnded).toMatchObject({ result: 'Error' });
  const stop = await admit(instance.id, 'stop');
  const stopping = await readInstance(table, instance.id);
  expect(stopping).toMatchObject({ taskState: 'powering-off', version: stop.token, claim: { requestId: stop.requestId } });

  const ended = await deadLetterOld(rebuild);

  expect(await readInstance(table, instance.id)).toEqual(stopping);
  expect((await getAction(table, instance.id, stop.requestId))?.finishTime).toBeUndefined();
  // Ended once, by the reset: the dead letter changed nothing of it.
  expect(ended).toEqual(resetEnded);

  expect(await runOperation(worker(), stop)).toBe('done');
  expect(await readInstance(table, instance.id)).toMatchObject({ vmState: 'stopped' });
  expect(await getAction(table, instance.id, stop.requestId)).toMatchObject({ result: 'Success' });
});

it('a dead-lettered duplicate of a rebuild that already ended leaves the newer claim alone, and its Success', async () => {
  const { table } = backends;
  const admit = admitter();
  const instance = await seedInstance(table);
  const rebuild = await admit(instance.id, 'rebuild', { imageRef: IMAGE2 });
  expect(await runOperation(worker(), rebuild)).toBe('done');
  const succeeded = await getAction(table, instance.id, rebuild.requestId);
  expect(succeeded).toMatchObject({ result: 'Success' });
  const stop = await admit(instance.id, 'stop');
  const stopping = await readInstance(table, instance.id);
  expect(stopping).toMatchObject({ taskState: 'powering-off', version: stop.token, claim: { requestId: stop.requestId } });

  // A duplicate delivery of the rebuild's message kept failing and was dead-lettered.
  const ended = await deadLetterOld(rebuild);

  expect(await readInstance(table, instance.id)).toEqual(stopping);
  expect((await getAction(table, instance.id, stop.requestId))?.finishTime).toBeUndefined();
  expect(ended).toEqual(succeeded);

  expect(await runOperation(worker(), stop)).toBe('done');
  expect(await readInstance(table, instance.id)).toMatchObject({ vmState: 'stopped', imageId: IMAGE2 });
  expect(await readInstance(table, instance.id)).not.toHaveProperty('fault');
});
