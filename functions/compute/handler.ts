import type { Context, SQSEvent } from 'aws-lambda';
import { driverSettings } from '../core/config.js';
import { createDriver } from '../core/drivers.js';
import { tableFromEnv } from '../core/table.js';
import { logger } from '../observability/index.js';
import { createComputeHandler } from './batch.js';

// The compute Lambda's entry: SQS FIFO batches from the operations queue, run by the driver the
// configuration names. Log lines carry the invocation's Lambda request id.

const table = tableFromEnv();

const compute = createComputeHandler({
  table,
  driver: createDriver(table, driverSettings(process.env)),
  runLeaseMs: Number(process.env.TASKGATE_RUN_LEASE_SECONDS ?? 120) * 1000,
});

export const handler = (event: SQSEvent, context: Context) => {
  logger.addContext(context);
  return compute(event);
};
