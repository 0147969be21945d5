import { Metrics } from '@aws-lambda-powertools/metrics';
import { SERVICE } from './index.js';

// Powertools Metrics in a module of its own: only the sweeper emits a metric, and a function that
// imports the logger does not load and construct Metrics at its cold start (docs/costs.md).

/** Every metric carries the default dimension `service`. */
export const metrics = new Metrics({ namespace: SERVICE, serviceName: SERVICE });
