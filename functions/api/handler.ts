import { SQSClient } from '@aws-sdk/client-sqs';
import { idempotencySettings } from '../core/config.js';
import { sqsOperationQueue } from '../core/queue.js';
import { tableFromEnv } from '../core/table.js';
import { createApi } from './app.js';

// The API Lambda's entry: API Gateway REST proxy events. Endpoints come from the standard
// AWS_ENDPOINT_URL* variables, so the same code runs on AWS, LocalStack and the emulators.

const queueUrl = process.env.QUEUE_URL;
if (!queueUrl) throw new Error('QUEUE_URL is not set');

export const handler = createApi({
  table: tableFromEnv(),
  queue: sqsOperationQueue(new SQSClient({}), queueUrl),
  claimLeaseMs: Number(process.env.TASKGATE_CLAIM_LEASE_SECONDS ?? 900) * 1000,
  idempotency: idempotencySettings(),
});
