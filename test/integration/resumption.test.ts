import { DeleteMessageCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { createComputeHandler } from '../../functions/compute/batch.js';
import { sqsOperationQueue, type OperationMessage } from '../../functions/core/compute/queue.js';
import { sqsResumption } from '../../functions/core/compute/resumption.js';
import { timings } from '../../functions/core/shared/config.js';
import { ec2Backend, prepare } from '../support/driverConformance.js';
import { startBackends, type TestBackends } from '../support/emulators.js';

// A message whose EC2 step waits comes back after the wait, over the real queue (fauxqs): hidden
// by ChangeMessageVisibility while the redrive policy leaves room, sent again as a fresh copy
// before the receive that would dead-letter it.

const t = timings();
let b: TestBackends;
beforeAll(async () => { b = await startBackends(t); });
afterAll(async () => { await b.stop(); });

async function receive(waitSeconds = 0): Promise<Message[]> {
  const out = await b.emulators.sqs.send(new ReceiveMessageCommand({
    QueueUrl: b.emulators.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: waitSeconds, MessageSystemAttributeNames: ['All'],
  }));
  return out.Messages ?? [];
}

const record = (m: Message, receiveCount: number): SQSRecord => ({
  messageId: m.MessageId!, receiptHandle: m.ReceiptHandle!, body: m.Body!,
  attributes: {
    ApproximateReceiveCount: String(receiveCount), SentTimestamp: '0', SenderId: 'test', ApproximateFirstReceiveTimestamp: '0',
    MessageGroupId: m.Attributes?.MessageGroupId,
  },
  messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:ops', awsRegion: 'us-east-1',
});

test('a waiting step hides its message for the wait, then before the last receive sends a fresh copy and acknowledges', async () => {
  const backend = ec2Backend();
  const { message } = await prepare(b.table, backend, 'stop', 'active');
  await sqsOperationQueue(b.emulators.sqs, b.emulators.queueUrl).send(message);
  const handler = createComputeHandler(
    { table: b.table, driver: backend.driver, runLeaseMs: 60_000, claimLeaseMs: 600_000 },
    { resumption: sqsResumption(b.emulators.sqs, b.emulators.queueUrl, t.maxReceiveCount) },
  );

  const [first] = await receive(1);
  // StopInstances is made and EC2 is stopping: the message is reported failed, hidden for the poll.
  expect((await handler({ Records: [record(first!, 1)] })).batchItemFailures).toEqual([{ itemIdentifier: first!.MessageId }]);
  expect(await receive()).toEqual([]);

  // The receive before the one the redrive policy dead-letters at: a copy instead, this one done.
  const late = record(first!, t.maxReceiveCount - 1);
  expect((await handler({ Records: [late] })).batchItemFailures).toEqual([]);
  // As the event source mapping does with a record not reported failed (its group is free then).
  await b.emulators.sqs.send(new DeleteMessageCommand({ QueueUrl: b.emulators.queueUrl, ReceiptHandle: first!.ReceiptHandle! }));
  const [copy] = await receive(1);
  const body = JSON.parse(copy!.Body!) as OperationMessage;
  expect(body).toEqual({ ...message, resumption: 1 });
  expect(copy!.Attributes?.MessageDeduplicationId).toBe(`${message.requestId}.1`);
  expect(copy!.Attributes?.ApproximateReceiveCount).toBe('1');
  expect(backend.outside!.calls.filter((c) => c.action === 'StopInstances')).toHaveLength(1);
});
