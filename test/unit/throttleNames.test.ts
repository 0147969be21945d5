import * as dynamodb from '@aws-sdk/client-dynamodb';
import * as sqs from '@aws-sdk/client-sqs';
import { isThrottlingError } from '@smithy/core/retry';
import { isThrottle, THROTTLE_ERROR_NAMES } from '../../functions/core/shared/throttles.js';

// The one list of AWS's "slow down" answers (core/shared/throttles.ts), read by settle's retries
// and by the API's 503: every throttling error the DynamoDB and SQS clients define is in it, as
// the SDK's own exception, and the generic ones the SDK's retry strategy treats as throttling.

type ExceptionClass = new (opts: { message: string; $metadata: object }) => Error;
const sdkThrottles: [string, ExceptionClass][] = [
  ['DynamoDB ProvisionedThroughputExceededException', dynamodb.ProvisionedThroughputExceededException],
  ['DynamoDB ThrottlingException', dynamodb.ThrottlingException],
  ['DynamoDB RequestLimitExceeded', dynamodb.RequestLimitExceeded],
  ['DynamoDB LimitExceededException', dynamodb.LimitExceededException],
  ['DynamoDB TransactionInProgressException', dynamodb.TransactionInProgressException],
  ['DynamoDB InternalServerError', dynamodb.InternalServerError],
  ['SQS RequestThrottled', sqs.RequestThrottled],
  ['SQS KmsThrottled', sqs.KmsThrottled],
];

it.each(sdkThrottles)('counts %s as a throttle', (_label, Exception) => {
  expect(isThrottle(new Exception({ message: 'Rate exceeded', $metadata: {} }))).toBe(true);
});

it('counts every name the SDK retries as throttling, among those DynamoDB, SQS and EC2 answer', () => {
  for (const name of ['ThrottlingException', 'ProvisionedThroughputExceededException', 'RequestLimitExceeded',
    'RequestThrottled', 'LimitExceededException', 'TransactionInProgressException', 'EC2ThrottledException']) {
    expect([name, isThrottlingError({ name, $metadata: {} } as never)]).toEqual([name, true]);
    expect([name, THROTTLE_ERROR_NAMES.has(name)]).toEqual([name, true]);
  }
});

it('does not count a refusal as a throttle: a failed condition or a missing table is no reason to retry', () => {
  expect(isThrottle(new dynamodb.ConditionalCheckFailedException({ message: 'failed', $metadata: {} }))).toBe(false);
  expect(isThrottle(new dynamodb.ResourceNotFoundException({ message: 'no table', $metadata: {} }))).toBe(false);
  expect(isThrottle({ name: 'ThrottlingException' })).toBe(false);
});
