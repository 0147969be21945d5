import { DeleteMessageCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { requestOperation } from '../../functions/core/compute/admission.js';
import { parseOperationMessage, sqsOperationQueue, type OperationMessage, type OperationQueue } from '../../functions/core/compute/queue.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import { runOperation } from '../../functions/core/compute/worker.js';
import { alice, requestId, seedInstance, startBackends, type TestBackends } from '../support/emulators.js';

// The rule guarded: the API's SendMessage names the request as the FIFO deduplication id (and the
// instance as the message group), so that a send retried after a lost answer (the SDK's own
// retry, or a duplicated send) is one message, and the operation is delivered once per request,
// not once per send (functions/core/compute/queue.ts). failurePaths.test.ts cannot see a wrong id:
// fauxqs hands out one message of a group at a time, so one receive finds one message either way.
// Here the queue is drained to the end, and the ids the queue was given are read back.

let backends: TestBackends;
beforeAll(async () => { backends = await startBackends(); });
afterAll(() => backends.stop());

/** Every message on the operations queue, in delivery order, each deleted once received (as the worker does). */
async function drain(): Promise<Message[]> {
  const { sqs, queueUrl } = backends.emulators;
  const all: Message[] = [];
  for (;;) {
    const out = await sqs.send(new ReceiveMessageCommand({
      QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0,
      MessageSystemAttributeNames: ['MessageDeduplicationId', 'MessageGroupId'],
    }));
    if (!out.Messages?.length) return all;
    for (const m of out.Messages) {
      all.push(m);
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
    }
  }
}

/** Admits `op` on `instanceId` through `queue`; returns the request id. */
async function admit(queue: OperationQueue, instanceId: string, op: 'stop' | 'start'): Promise<string> {
  const id = requestId();
  await requestOperation({ table: backends.table, queue, claimLeaseMs: 60_000 }, { instanceId, op, caller: alice, requestId: id });
  return id;
}

it('an accepted request is queued with its request id as deduplication id and its instance as message group', async () => {
  const { table, emulators } = backends;
  const instance = await seedInstance(table);
  const id = await admit(sqsOperationQueue(emulators.sqs, emulators.queueUrl), instance.id, 'stop');

  const [queued, ...rest] = await drain();
  expect(rest).toEqual([]);
  expect(parseOperationMessage(queued!.Body!)).toMatchObject({ requestId: id, instanceId: instance.id, op: 'stop' });
  expect(queued!.Attributes).toMatchObject({ MessageDeduplicationId: id, MessageGroupId: instance.id });
});

it('a send retried for one request is delivered once; the next request on the instance is still delivered, after it', async () => {
  const { table, emulators } = backends;
  const real = sqsOperationQueue(emulators.sqs, emulators.queueUrl);
  const sent: OperationMessage[] = [];
  // The API sent, SQS stored the message, the answer was lost, and the send was retried.
  const retried: OperationQueue = { async send(m: OperationMessage) { sent.push(m); await real.send(m); await real.send(m); } };
  const instance = await seedInstance(table, { vmState: 'active' });
  const stop = await admit(retried, instance.id, 'stop');
  // The stop runs to its end (its worker is not under test here), so a start may be admitted.
  const worker = { table, driver: new SimulatedDriver(table, { stepMs: 0 }), runLeaseMs: 60_000, claimLeaseMs: 60_000 };
  expect(await runOperation(worker, sent[0]!)).toBe('done');
  const start = await admit(retried, instance.id, 'start');

  const delivered = (await drain()).map((m) => parseOperationMessage(m.Body!).requestId);
  expect(delivered).toEqual([stop, start]);
});

it('a client made on the first send (the API function\'s) is made once for every send, and again after it failed to load', async () => {
  const { emulators } = backends;
  let made = 0;
  const queue = sqsOperationQueue(async () => {
    made++;
    if (made === 1) throw new Error('the client module failed to load');
    return emulators.sqs;
  }, emulators.queueUrl);
  const message = (instanceId: string): OperationMessage => ({ requestId: requestId(), instanceId, op: 'stop', token: 1, params: {}, userId: 'u', projectId: 'p' });
  const first = message('5f1c2f0e-8c55-4a43-9c34-1f2d0a3b7e61');
  await expect(queue.send(first)).rejects.toThrow('the client module failed to load');
  const [second, third] = [message('6a2d3f1e-9d66-4b54-8d45-2e3e1b4c8f72'), message('7b3e4a2f-ae77-4c65-9e56-3f4f2c5d9a83')];
  await queue.send(second);
  await queue.send(third);
  expect(made).toBe(2);
  expect((await drain()).map((m) => parseOperationMessage(m.Body!).requestId).sort()).toEqual([second.requestId, third.requestId].sort());
});
