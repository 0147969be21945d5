import type { Context, SQSEvent } from 'aws-lambda';
import type { ComputeDriver } from '../core/compute/driver.js';
import { sqsResumption } from '../core/compute/resumption.js';
import { EnvReader, leasesOf, timingsFromEnv } from '../core/shared/config.js';
import { tableFromEnv, type Table } from '../core/shared/table.js';
import { logger } from '../observability/index.js';
import { createComputeHandler } from './batch.js';

/**
 * A compute Lambda's entry, given its driver: SQS FIFO batches from the operations queue. Log
 * lines carry the invocation's Lambda request id. No heartbeat: the function's timeout is
 * shorter than the queue's visibility timeout (config.ts checks it). Each driver has an entry of
 * its own (functions/compute, functions/computeEc2), so a bundle carries only its driver's SDK.
 */
export function computeLambda(driverFor: (table: Table) => ComputeDriver) {
  const table = tableFromEnv();
  const timings = timingsFromEnv(process.env);
  const queueUrl = new EnvReader(process.env).string('QUEUE_URL');
  const compute = createComputeHandler({ table, driver: driverFor(table), ...leasesOf(timings) }, {
    // A driver that waits on its backend (EC2) has its message come back after the wait.
    ...(queueUrl ? { resumption: sqsResumption(async () => new (await import('@aws-sdk/client-sqs')).SQSClient({}), queueUrl, timings.maxReceiveCount) } : {}),
  });
  return (event: SQSEvent, context: Context) => {
    logger.addContext(context);
    return compute(event);
  };
}
