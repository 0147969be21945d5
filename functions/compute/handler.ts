import type { Context, SQSEvent } from 'aws-lambda';
import { SQSClient } from '@aws-sdk/client-sqs';
import { driverSettings, EnvReader, leasesOf, timingsFromEnv } from '../core/shared/config.js';
import { sqsResumption } from '../core/compute/resumption.js';
import { createDriver } from '../core/compute/drivers.js';
import { tableFromEnv } from '../core/shared/table.js';
import { logger } from '../observability/index.js';
import { createComputeHandler } from './batch.js';

// The compute Lambda's entry: SQS FIFO batches from the operations queue, run by the driver the
// configuration names. Log lines carry the invocation's Lambda request id. No heartbeat: the
// function's timeout is shorter than the queue's visibility timeout (config.ts checks it).

const table = tableFromEnv();
const timings = timingsFromEnv(process.env);
const queueUrl = new EnvReader(process.env).string('QUEUE_URL');

const compute = createComputeHandler({
  table,
  driver: createDriver(table, driverSettings(process.env)),
  ...leasesOf(timings),
}, {
  // A driver that waits on its backend (EC2) has its message come back after the wait.
  ...(queueUrl ? { resumption: sqsResumption(new SQSClient({}), queueUrl, timings.maxReceiveCount) } : {}),
});

export const handler = (event: SQSEvent, context: Context) => {
  logger.addContext(context);
  return compute(event);
};
