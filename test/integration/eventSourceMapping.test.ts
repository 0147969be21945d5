import { GetQueueAttributesCommand, PurgeQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { timings } from '../../functions/core/shared/config.js';
import { CREDENTIALS, REGION } from '../../local/emulators.js';
import { startEventSourceMapping } from '../../local/eventSourceMapping.js';
import { startBackends, type TestBackends } from '../support/emulators.js';

// The local event source mapping's stop must not take a message with it. A ReceiveMessage the
// client abandons is still answered by the queue: the message it takes stays invisible for the
// whole visibility timeout and, on a FIFO queue, blocks its group as long (the benchmark's
// sections that started right after an earlier section's mapping stopped waited 30 s for their
// first operation).

let backends: TestBackends;
beforeAll(async () => { backends = await startBackends({ ...timings(), visibilityTimeoutSeconds: 30 }); });
afterEach(() => backends.emulators.sqs.send(new PurgeQueueCommand({ QueueUrl: backends.emulators.queueUrl })));
afterAll(() => backends.stop());

const counts = async () => {
  const { emulators } = backends;
  const out = await emulators.sqs.send(new GetQueueAttributesCommand({
    QueueUrl: emulators.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
  }));
  return { visible: Number(out.Attributes!.ApproximateNumberOfMessages), invisible: Number(out.Attributes!.ApproximateNumberOfMessagesNotVisible) };
};

const send = (body: string) => backends.emulators.sqs.send(new SendMessageCommand({
  QueueUrl: backends.emulators.queueUrl, MessageBody: body, MessageGroupId: 'esm-test', MessageDeduplicationId: crypto.randomUUID(),
}));

/** A handler that must not run: the mapping under test is stopped before anything is sent. */
const unexpected = async (event: SQSEvent) => { throw new Error(`handler ran on ${event.Records.length} message(s)`); };

/**
 * A mapping whose pollers are all in their first long poll on the empty queue. The middleware sees
 * each ReceiveMessage leave; the short pause lets them reach the queue (it only makes the old,
 * aborting stop() fail reliably; the new one passes however the requests are timed).
 */
async function mappingWaitingInLongPolls(concurrency: number) {
  const { emulators } = backends;
  let polls = 0;
  let resolve!: () => void;
  const polling = new Promise<void>((r) => { resolve = r; });
  const sqs = new SQSClient({ endpoint: emulators.sqsEndpoint, region: REGION, credentials: CREDENTIALS });
  sqs.middlewareStack.add((next, context) => async (args) => {
    if (context.commandName === 'ReceiveMessageCommand' && ++polls === concurrency) resolve();
    return next(args);
  }, { step: 'finalizeRequest', name: 'countPolls' });
  const mapping = startEventSourceMapping({ sqs, queueUrl: emulators.queueUrl, handler: unexpected, concurrency });
  await polling;
  await new Promise((r) => setTimeout(r, 200));
  return { mapping, sqs };
}

it('a message sent after stop() returned is visible to the next consumer at once', async () => {
  const { mapping, sqs } = await mappingWaitingInLongPolls(4);
  await mapping.stop();
  await send('after stop');
  expect(await counts()).toEqual({ visible: 1, invisible: 0 });
  sqs.destroy();
});

it('a message a stopping poller receives is handed back, visible, not run', async () => {
  const { mapping, sqs } = await mappingWaitingInLongPolls(4);
  const stopping = mapping.stop();
  await send('while stopping'); // wakes the pollers still in their long polls
  await stopping;
  expect(await counts()).toEqual({ visible: 1, invisible: 0 });
  sqs.destroy();
});
