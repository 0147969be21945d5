import { Logger } from '@aws-lambda-powertools/logger';

// What the Lambda functions tell the outside: structured JSON logs (Powertools Logger, with the
// Lambda and Nova request ids as keys) and CloudWatch metrics as Embedded Metric Format records
// (Powertools Metrics, in metrics.ts). The domain in functions/core logs nothing itself: it throws, and the
// handlers log.

export const SERVICE = 'taskgate';

export const logger = new Logger({ serviceName: SERVICE });

/** The sweeper's count of claims it had to release; the ClaimsReleased alarm watches it. */
export const CLAIMS_RELEASED_METRIC = 'ClaimsReleased';

