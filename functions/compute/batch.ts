import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { parseOperationMessage, type OperationMessage } from '../core/queue.js';
import { runOperation, type Heartbeat, type WorkerDeps } from '../core/worker.js';

/**
 * The compute Lambda's batch: a FIFO batch may hold several message groups (instances). Groups
 * run in parallel, each group's messages in order; once one fails, the rest of its group is
 * reported failed without running, so the group's order holds on redelivery.
 */
export interface ComputeConsumer {
  /** The heartbeat that keeps one record's message invisible while it is worked on (local runtime). */
  readonly heartbeatFor?: (record: SQSRecord) => Heartbeat;
}

export function createComputeHandler(deps: WorkerDeps, consumer: ComputeConsumer = {}) {
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const groups = new Map<string, SQSRecord[]>();
    for (const record of event.Records) {
      const group = record.attributes.MessageGroupId ?? record.messageId;
      groups.set(group, [...(groups.get(group) ?? []), record]);
    }
    const failed: string[] = [];
    await Promise.all([...groups.values()].map(async (records) => {
      for (const [i, record] of records.entries()) {
        if (!await runRecord(deps, record, consumer.heartbeatFor?.(record))) {
          failed.push(...records.slice(i).map((r) => r.messageId));
          return;
        }
      }
    }));
    return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
  };
}

/** True when the message is finished with (done, or stale and dropped). */
async function runRecord(deps: WorkerDeps, record: SQSRecord, heartbeat?: Heartbeat): Promise<boolean> {
  let message: OperationMessage | undefined;
  try {
    message = parseOperationMessage(record.body);
    return (await runOperation(deps, message, heartbeat)) !== 'retry';
  } catch (err) {
    // Not the operation's failure (that is recorded and acknowledged) but a crash: retry it.
    console.error(JSON.stringify({
      messageId: record.messageId, requestId: message?.requestId, globalRequestId: message?.globalRequestId,
      error: (err as Error).name, message: (err as Error).message,
    }));
    return false;
  }
}
