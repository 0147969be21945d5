import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { sweepExpiredClaims } from '../core/compute/sweeper.js';
import { tableFromEnv } from '../core/shared/table.js';
import { CLAIMS_RELEASED_METRIC, logger } from '../observability/index.js';
import { metrics } from '../observability/metrics.js';

// The sweeper Lambda's entry, on an EventBridge schedule. It reports what it released as the
// ClaimsReleased metric (an Embedded Metric Format record, written by Powertools Metrics straight
// to stdout), so CloudWatch can alarm on it without an API call.

const table = tableFromEnv();

export const handler = async (): Promise<{ released: number }> => {
  const released = await sweepExpiredClaims(table, Date.now());
  metrics.addMetric(CLAIMS_RELEASED_METRIC, MetricUnit.Count, released);
  metrics.publishStoredMetrics();
  if (released > 0) logger.warn('released expired claims or reservations', { released });
  return { released };
};
