import {
  ChangeMessageVisibilityBatchCommand, ChangeMessageVisibilityCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Heartbeat } from '../functions/core/compute/worker.js';
import { logger } from '../functions/observability/index.js';

export type SqsHandler = (event: SQSEvent) => Promise<SQSBatchResponse | void>;

export interface EventSourceMapping {
  stop(): Promise<void>;
}

function toRecord(m: Message, queueArn: string): SQSRecord {
  const a = m.Attributes ?? {};
  return {
    messageId: m.MessageId!, receiptHandle: m.ReceiptHandle!, body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1', SentTimestamp: a.SentTimestamp ?? String(Date.now()),
      SenderId: a.SenderId ?? 'local', ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      MessageGroupId: a.MessageGroupId, MessageDeduplicationId: a.MessageDeduplicationId, SequenceNumber: a.SequenceNumber,
    },
    messageAttributes: {}, md5OfBody: m.MD5OfBody ?? '', eventSource: 'aws:sqs', eventSourceARN: queueArn, awsRegion: 'us-east-1',
  };
}

/**
 * Lambda's SQS event source mapping, locally: `concurrency` pollers receive batches and invoke
 * the handler; what it reports in batchItemFailures (or everything, if it throws) is left for
 * redelivery after the visibility timeout, the rest is deleted. The FIFO queue itself keeps
 * each message group in order and one batch at a time.
 */
export function startEventSourceMapping(opts: {
  sqs: SQSClient; queueUrl: string; handler: SqsHandler; batchSize?: number; concurrency?: number;
  /** Seconds before a failed message is visible again (Lambda: the queue's visibility timeout). */
  retryDelaySeconds?: number;
}): EventSourceMapping {
  const { sqs, queueUrl, handler } = opts;
  const queueArn = `arn:aws:sqs:us-east-1:000000000000:${queueUrl.split('/').pop()}`;
  let running = true;

  const poll = async () => {
    while (running) {
      let messages: Message[] = [];
      try {
        const out = await sqs.send(new ReceiveMessageCommand({
          QueueUrl: queueUrl, MaxNumberOfMessages: opts.batchSize ?? 10, WaitTimeSeconds: 1,
          MessageSystemAttributeNames: ['All'],
        }));
        messages = out.Messages ?? [];
      } catch (err) {
        if (!running) return;
        logger.error('receive failed', { error: err as Error });
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      if (messages.length === 0) continue;
      if (!running) {
        // Received while stopping: hand them straight back, visible at once, to whoever polls next.
        await sqs.send(new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 })),
        })).catch((err) => logger.error('returning messages on stop failed', { error: err as Error }));
        return;
      }
      let failed: Set<string>;
      try {
        const result = await handler({ Records: messages.map((m) => toRecord(m, queueArn)) });
        failed = new Set((result?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
      } catch (err) {
        logger.error('compute handler failed', { error: err as Error });
        failed = new Set(messages.map((m) => m.MessageId!));
      }
      const done = messages.filter((m) => !failed.has(m.MessageId!));
      const retry = messages.filter((m) => failed.has(m.MessageId!));
      if (done.length > 0) {
        await sqs.send(new DeleteMessageBatchCommand({
          QueueUrl: queueUrl, Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
        }));
      }
      if (retry.length > 0 && opts.retryDelaySeconds !== undefined) {
        await sqs.send(new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: retry.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: opts.retryDelaySeconds! })),
        }));
      }
    }
  };

  const pollers = Array.from({ length: opts.concurrency ?? 4 }, () => poll());
  return {
    // Stopping lets each poller's long poll end (at most WaitTimeSeconds) rather than aborting
    // it: an aborted ReceiveMessage is abandoned only by the client, the queue still hands the
    // next message to it, and that message stays invisible for the whole visibility timeout
    // (its FIFO group blocked with it). What such a poll receives is given back at once.
    async stop() {
      running = false;
      await Promise.allSettled(pollers);
    },
  };
}

/**
 * The worker's heartbeat for one received message: makes it invisible for another visibility
 * timeout. A failure is logged, not thrown: at worst the message comes back while its run is
 * alive, and the run lease tells that delivery the work is busy.
 */
export function visibilityHeartbeat(sqs: SQSClient, queueUrl: string, visibilityTimeoutSeconds: number) {
  return (record: SQSRecord): Heartbeat => async () => {
    try {
      await sqs.send(new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrl, ReceiptHandle: record.receiptHandle, VisibilityTimeout: visibilityTimeoutSeconds,
      }));
    } catch (err) {
      logger.error('heartbeat failed', { messageId: record.messageId, error: err as Error });
    }
  };
}
