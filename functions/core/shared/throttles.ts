// AWS's answers that mean "slow down and try again": the throttling and transient server errors
// of the services taskgate calls (DynamoDB, SQS, EC2), by the error name their SDK clients give.
// One list, read by the retries of the writes that must land (compute/settle.ts retryThrottled)
// and by the API's answer to a request that met one (a 503 with Retry-After, never a 500).
export const THROTTLE_ERROR_NAMES: ReadonlySet<string> = new Set([
  // DynamoDB
  'ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded', 'LimitExceededException',
  'TransactionInProgressException', 'InternalServerError',
  // SQS
  'RequestThrottled', 'KmsThrottled', 'ServiceUnavailable',
  // EC2 (RequestLimitExceeded above too)
  'EC2ThrottledException',
]);

/** Whether `err` is AWS telling the caller to slow down and try again. */
export const isThrottle = (err: unknown): boolean => err instanceof Error && THROTTLE_ERROR_NAMES.has(err.name);
