import { SQSClient } from '@aws-sdk/client-sqs';
import { EnvReader, authMode, leasesOf, timingsFromEnv } from '../core/config.js';
import { sqsOperationQueue } from '../core/queue.js';
import { tableFromEnv } from '../core/table.js';
import { createApi } from './app.js';
import { NoauthIdentityProvider } from '../core/identity/noauth.js';

// The API Lambda's entry: API Gateway REST proxy events. Endpoints come from the standard
// AWS_ENDPOINT_URL* variables, so the same code runs on AWS, LocalStack and the emulators.

// In Keystone and JWT modes API Gateway's authorizer (functions/authorizer/) identifies the caller;
// only development mode has the API function read the token itself.
const mode = authMode(process.env);

export const handler = createApi({
  table: tableFromEnv(),
  queue: sqsOperationQueue(new SQSClient({}), new EnvReader(process.env).required('QUEUE_URL')),
  claimLeaseMs: leasesOf(timingsFromEnv(process.env)).claimLeaseMs,
}, { identity: mode === 'noauth' ? new NoauthIdentityProvider() : undefined });
