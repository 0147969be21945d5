import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { settleDeadLetter } from '../core/compute/deadLetters.js';
import { parseOperationMessage } from '../core/compute/queue.js';
import type { Table } from '../core/shared/table.js';
import { logger } from '../observability/index.js';

/**
 * Each message that failed maxReceiveCount times ends its operation with a fault. A message
 * that is not an operation is reported failed and stays in the dead-letter queue for a person
 * (the queue-depth alarm fires).
 */
export function createDeadLetterHandler(table: Table, now: () => number = Date.now) {
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const failed: string[] = [];
    for (const record of event.Records) {
      try {
        const message = parseOperationMessage(record.body);
        await settleDeadLetter(table, message, Number(record.attributes.ApproximateReceiveCount), now());
      } catch (err) {
        logger.error('dead-lettered message not settled; it stays in the dead-letter queue', { messageId: record.messageId, error: err as Error });
        failed.push(record.messageId);
      }
    }
    return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
  };
}
