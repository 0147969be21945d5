import { onFirstUse } from '../shared/onFirstUse.js';
import { sqsOperationQueue, type OperationMessage, type SqsClientSource } from './queue.js';

/**
 * How a message the worker left waiting (WorkOutcome ResumeLater) comes back later. An SQS FIFO
 * queue has no per-message delay, so the received message itself is hidden for the delay and
 * reported failed. Each such return counts as a receive, though, and the queue dead-letters a
 * message at maxReceiveCount: before that, the message is sent again as a fresh copy (its own
 * deduplication id, receive count 1) and the received one acknowledged. The copy is delivered at
 * once, the driver finds EC2 still busy, and from then on it waits by visibility again.
 */
export type Resumption = (
  received: { readonly receiptHandle: string; readonly receiveCount: number },
  message: OperationMessage,
  afterSeconds: number,
) => Promise<'hidden' | 'sent again'>;

/** SQS's longest visibility timeout is 12 hours. */
const MAX_VISIBILITY_SECONDS = 43_200;

export function sqsResumption(sqs: SqsClientSource, queueUrl: string, maxReceiveCount: number): Resumption {
  // Made once, on the first wait: the simulated driver never waits, so its compute function never
  // loads the SQS client (docs/costs.md, cold start).
  const client = onFirstUse(async () => (typeof sqs === 'function' ? sqs() : sqs));
  const queue = sqsOperationQueue(client, queueUrl);
  return async (received, message, afterSeconds) => {
    // The receive after this one must not be the last the redrive policy allows: a crash then
    // would dead-letter an operation that only waited.
    if (received.receiveCount + 2 > maxReceiveCount) {
      await queue.send({ ...message, resumption: (message.resumption ?? 0) + 1 });
      return 'sent again';
    }
    const [ready, { ChangeMessageVisibilityCommand }] = await Promise.all([client(), import('@aws-sdk/client-sqs')]);
    await ready.send(new ChangeMessageVisibilityCommand({
      QueueUrl: queueUrl, ReceiptHandle: received.receiptHandle,
      VisibilityTimeout: Math.min(Math.max(0, Math.ceil(afterSeconds)), MAX_VISIBILITY_SECONDS),
    }));
    return 'hidden';
  };
}
