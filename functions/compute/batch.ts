import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { parseOperationMessage, type OperationMessage } from '../core/queue.js';
import { runOperation, type WorkerDeps } from '../core/worker.js';
import { logger } from '../observability/index.js';

/** Thrown for a message whose operation is running under another delivery: it comes back later. */
class RetryLater extends Error {
  override readonly name = 'RetryLater';
}

/**
 * The compute Lambda's batch: a FIFO batch may hold several message groups (instances).
 * Powertools' FIFO processor runs the records in order; once a record fails, the rest of its group
 * is reported failed without running (skipGroupOnError), so the group's order holds on
 * redelivery, and the other groups go on.
 */
export function createComputeHandler(deps: WorkerDeps) {
  // A processor keeps the batch it works on: one per invocation (the local runtime runs several at once).
  return async (event: SQSEvent): Promise<SQSBatchResponse> =>
    processPartialResponse(event, (record: SQSRecord) => runRecord(deps, record), new SqsFifoPartialProcessorAsync(), {
      skipGroupOnError: true,
      // Every record failed: report them all (retried after the visibility timeout), do not throw.
      throwOnFullBatchFailure: false,
    });
}

/** Resolves once the message is finished with (done, or stale and dropped); throws to retry it. */
async function runRecord(deps: WorkerDeps, record: SQSRecord): Promise<void> {
  let message: OperationMessage | undefined;
  try {
    message = parseOperationMessage(record.body);
    if (await runOperation(deps, message) === 'retry') throw new RetryLater(`${message.op} ${message.requestId} runs under another delivery`);
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
