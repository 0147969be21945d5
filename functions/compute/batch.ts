import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { parseOperationMessage, type OperationMessage } from '../core/compute/queue.js';
import type { Resumption } from '../core/compute/resumption.js';
import { runOperation, type Heartbeat, type WorkerDeps } from '../core/compute/worker.js';
import { logger } from '../observability/index.js';

/** Thrown for a message whose operation is running under another delivery: it comes back later. */
class RetryLater extends Error {
  override readonly name = 'RetryLater';
}

/**
 * The compute Lambda's batch: a FIFO batch may hold several message groups (instances).
 * Powertools' FIFO processor runs records in order; once a record fails, the rest of its group is
 * reported failed without running (skipGroupOnError), so the group's order holds on redelivery,
 * and the other groups go on. It runs a whole batch one record after another, though, and groups
 * are independent (one per instance): so each group gets a processor of its own, and the groups
 * of a batch run at once.
 */
export interface ComputeConsumer {
  /** The heartbeat that keeps one record's message invisible while it is worked on (local runtime). */
  readonly heartbeatFor?: (record: SQSRecord) => Heartbeat;
  /**
   * How a message whose driver waits on its backend comes back after the delay. Without one it is
   * reported failed and comes back after the queue's visibility timeout.
   */
  readonly resumption?: Resumption;
}

export function createComputeHandler(deps: WorkerDeps, consumer: ComputeConsumer = {}) {
  const run = (record: SQSRecord) => runRecord(deps, record, consumer.heartbeatFor?.(record), consumer.resumption);
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const groups = new Map<string, SQSRecord[]>();
    for (const r of event.Records) {
      const group = r.attributes.MessageGroupId ?? r.messageId;
      groups.set(group, [...(groups.get(group) ?? []), r]);
    }
    // A processor keeps the records it works on: one per group and invocation.
    const responses = await Promise.all([...groups.values()].map((records) =>
      processPartialResponse({ Records: records }, run, new SqsFifoPartialProcessorAsync(), {
        skipGroupOnError: true,
        // Every record failed: report them all (retried after the visibility timeout), do not throw.
        throwOnFullBatchFailure: false,
      })));
    return { batchItemFailures: responses.flatMap((r) => r.batchItemFailures) };
  };
}

/** Resolves once the message is finished with (done, or stale and dropped); throws to retry it. */
async function runRecord(deps: WorkerDeps, record: SQSRecord, heartbeat?: Heartbeat, resumption?: Resumption): Promise<void> {
  let message: OperationMessage | undefined;
  try {
    message = parseOperationMessage(record.body);
    const outcome = await runOperation(deps, message, heartbeat);
    if (outcome === 'retry') throw new RetryLater(`${message.op} ${message.requestId} runs under another delivery`);
    if (typeof outcome === 'object') {
      const receiveCount = Number(record.attributes.ApproximateReceiveCount) || 1;
      const how = resumption
        ? await resumption({ receiptHandle: record.receiptHandle, receiveCount }, message, outcome.resumeAfterSeconds)
        : 'hidden';
      if (how === 'hidden') throw new RetryLater(`${message.op} ${message.requestId} waits ${outcome.resumeAfterSeconds} s on its backend`);
    }
  } catch (err) {
    if (err instanceof RetryLater) throw err;
    // Not the operation's failure (that is recorded and acknowledged) but a crash: retry it.
    logger.error('operation crashed; its message will be delivered again', {
      messageId: record.messageId, requestId: message?.requestId, globalRequestId: message?.globalRequestId,
      instanceId: message?.instanceId, op: message?.op, error: err as Error,
    });
    throw err;
  }
}
