import { SimulatedDriver, simulatedDriverOptionsFromEnv } from '../core/simulatedDriver.js';
import { tableFromEnv } from '../core/table.js';
import { createComputeHandler } from './batch.js';

// The compute Lambda's entry: SQS FIFO batches from the operations queue.

const table = tableFromEnv();

export const handler = createComputeHandler({
  table,
  driver: new SimulatedDriver(table, simulatedDriverOptionsFromEnv()),
  runLeaseMs: Number(process.env.TASKGATE_RUN_LEASE_SECONDS ?? 120) * 1000,
});
