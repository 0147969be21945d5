import { leasesOf, timingsFromEnv } from '../core/config.js';
import { SimulatedDriver, simulatedDriverOptionsFromEnv } from '../core/simulatedDriver.js';
import { tableFromEnv } from '../core/table.js';
import { createComputeHandler } from './batch.js';

// The compute Lambda's entry: SQS FIFO batches from the operations queue. No heartbeat: the
// function's timeout is shorter than the queue's visibility timeout (config.ts checks it).

const table = tableFromEnv();

export const handler = createComputeHandler({
  table,
  driver: new SimulatedDriver(table, simulatedDriverOptionsFromEnv()),
  ...leasesOf(timingsFromEnv(process.env)),
});
