import { sweepExpiredClaims } from '../core/sweeper.js';
import { tableFromEnv } from '../core/table.js';

// The sweeper Lambda's entry, on an EventBridge schedule. It reports what it released as an
// Embedded Metric Format record, so CloudWatch can alarm on it without an API call.

const table = tableFromEnv();

export const handler = async (): Promise<{ released: number }> => {
  const released = await sweepExpiredClaims(table, Date.now());
  // Straight to stdout, not console.log: with Lambda's JSON log format, console.log wraps the line
  // in {"timestamp","level","message":"..."}, and CloudWatch extracts EMF only from a top-level `_aws`.
  process.stdout.write(`${JSON.stringify({
    _aws: {
      Timestamp: Date.now(),
      CloudWatchMetrics: [{ Namespace: 'taskgate', Dimensions: [['Service']], Metrics: [{ Name: 'ClaimsReleased', Unit: 'Count' }] }],
    },
    Service: 'taskgate',
    ClaimsReleased: released,
  })}\n`);
  return { released };
};
