import { tableFromEnv } from '../core/shared/table.js';
import { createDeadLetterHandler } from './batch.js';

// The dead-letter Lambda's entry: batches from the operations queue's FIFO dead-letter queue.

export const handler = createDeadLetterHandler(tableFromEnv());
