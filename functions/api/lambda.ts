import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { EnvReader, authMode, driverName, idempotencySettings, leasesOf, publicUrlSettings, timingsFromEnv } from '../core/shared/config.js';
import { driverCapabilities } from '../core/compute/capabilities.js';
import type { ConsoleReader } from '../core/compute/consoleLog.js';
import { sqsOperationQueue } from '../core/compute/queue.js';
import { tableFromEnv } from '../core/shared/table.js';
import { logger } from '../observability/index.js';
import { createApi } from './app.js';
import { NoauthIdentityProvider } from '../core/identity/noauth.js';

/**
 * The API Lambda, given what its compute driver reads for it (the guest console): API Gateway
 * REST proxy events. Each driver has an entry of its own (functions/api, functions/apiEc2), so
 * only the EC2 one bundles the EC2 client. Endpoints come from the standard AWS_ENDPOINT_URL*
 * variables, so the same code runs on AWS, LocalStack and the emulators. Log lines carry the
 * invocation's Lambda request id (and each names Nova's request id itself).
 */
export function apiLambda(driverReads: { readonly consoleReader?: ConsoleReader } = {}) {
  // In Keystone and JWT modes API Gateway's authorizer (functions/authorizer/) identifies the
  // caller; only development mode has the API function read the token itself.
  const mode = authMode(process.env);
  const leases = leasesOf(timingsFromEnv(process.env));
  return createApi({
    table: tableFromEnv(),
    queue: sqsOperationQueue(async () => new (await import('@aws-sdk/client-sqs')).SQSClient({}), new EnvReader(process.env).required('QUEUE_URL')),
    claimLeaseMs: leases.claimLeaseMs,
    reservationLeaseMs: leases.reservationLeaseMs,
    // The stack gives the API the compute function's TASKGATE_DRIVER: what it cannot do is refused here.
    capabilities: driverCapabilities(driverName(process.env)),
    ...driverReads,
    idempotency: idempotencySettings(),
  }, {
    links: publicUrlSettings(new EnvReader(process.env)),
    identity: mode === 'noauth' ? new NoauthIdentityProvider() : undefined,
  }).use(injectLambdaContext(logger, { resetKeys: true }));
}
