import { SQSClient } from '@aws-sdk/client-sqs';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { EnvReader, idempotencySettings, leasesOf, publicUrlSettings, timingsFromEnv } from '../core/config.js';
import { sqsOperationQueue } from '../core/queue.js';
import { tableFromEnv } from '../core/table.js';
import { logger } from '../observability/index.js';
import { createApi } from './app.js';

// The API Lambda's entry: API Gateway REST proxy events. Endpoints come from the standard
// AWS_ENDPOINT_URL* variables, so the same code runs on AWS, LocalStack and the emulators. Log
// lines carry the invocation's Lambda request id (and each names Nova's request id itself).

export const handler = createApi({
  table: tableFromEnv(),
  queue: sqsOperationQueue(new SQSClient({}), new EnvReader(process.env).required('QUEUE_URL')),
  claimLeaseMs: leasesOf(timingsFromEnv(process.env)).claimLeaseMs,
  idempotency: idempotencySettings(),
}, { links: publicUrlSettings(new EnvReader(process.env)) }).use(injectLambdaContext(logger, { resetKeys: true }));
