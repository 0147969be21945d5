import type { Server } from 'node:http';
import type { APIGatewayProxyEvent, APIGatewayRequestAuthorizerEvent, Context } from 'aws-lambda';
import { createApi } from '../functions/api/app.js';
import { authorizeRequest } from '../functions/authorizer/authorize.js';
import type { IdentityProvider } from '../functions/core/identity/identity.js';
import { NoauthIdentityProvider } from '../functions/core/identity/noauth.js';
import { createComputeHandler } from '../functions/compute/batch.js';
import { leasesOf, timings as defaultTimings, type IdempotencySettings, type Timings } from '../functions/core/shared/config.js';
import { sweepExpiredClaims } from '../functions/core/compute/sweeper.js';
import { createDeadLetterHandler } from '../functions/dlq/batch.js';
import { sqsOperationQueue } from '../functions/core/compute/queue.js';
import type { ComputeDriver } from '../functions/core/compute/driver.js';
import { createDriver } from '../functions/core/compute/drivers.js';
import type { SimulatedDriverOptions } from '../functions/core/compute/simulatedDriver.js';
import { makeTable, type Table } from '../functions/core/shared/table.js';
import type { ProjectSpreads } from '../functions/core/shared/projectSpread.js';
import { logger } from '../functions/observability/index.js';
import { serveApi, type ProxyHandler } from './apiGateway.js';
import { startEmulators, type Emulators } from './emulators.js';
import { startEventSourceMapping, visibilityHeartbeat } from './eventSourceMapping.js';

/** Links on the local runtime: plain HTTP, on the address the local front listens on. */
export const LOCAL_PUBLIC_URL = 'http://{domainName}';

export interface RuntimeOptions {
  /** API port; 0 picks a free one. */
  readonly port: number;
  readonly host?: string;
  /** The simulated driver's step time, and where a test or TASKGATE_DRIVER_FAIL_AT injects faults. */
  readonly driver: SimulatedDriverOptions;
  readonly dynamodbEndpoint?: string;
  /** Every duration, as the stack deploys them; default: the deployed defaults. */
  readonly timings?: Timings;
  /** Keep state on disk here (durable across restarts); default: in memory. */
  readonly dataDir?: string;
  readonly computeConcurrency?: number;
  /**
   * The base URL clients use (TASKGATE_PUBLIC_URL); by default the address it listens on, as
   * the local API Gateway front reports it (`http://{domainName}`).
   */
  readonly publicUrl?: string;
  /**
   * How callers are identified. Keystone and JWT providers run as API Gateway's authorizer would,
   * before the API function; development mode (noauth, the default for tests and `npm start`)
   * has no authorizer and the API function reads `<user>:<project>` itself.
   */
  readonly identity?: IdentityProvider;
  /** Idempotency-Key records (TASKGATE_IDEMPOTENCY_*); default: the deployed defaults. */
  readonly idempotency?: IdempotencySettings;
  /** The projects whose writes are spread over more keys (TASKGATE_PROJECT_SPREAD); default: none. */
  readonly projectSpreads?: ProjectSpreads;
}

export interface Runtime {
  readonly apiUrl: string;
  readonly emulators: Emulators;
  readonly table: Table;
  readonly driver: ComputeDriver;
  readonly timings: Timings;
  /**
   * Stops taking requests, lets the ones in flight answer, stops polling, then stops the
   * backends. With `graceMs`, work still running after it is abandoned (its message comes back
   * after the visibility timeout, as after a Lambda timeout) instead of awaited.
   */
  stop(options?: { graceMs?: number }): Promise<void>;
}

const within = (ms: number | undefined, work: Promise<unknown>) =>
  ms === undefined ? work : Promise.race([work, new Promise((resolve) => setTimeout(resolve, ms).unref())]);

/**
 * taskgate on its embedded default: the real handlers behind an API Gateway-like HTTP server,
 * the compute and dead-letter handlers fed by event source mappings, the sweeper on a timer.
 */
export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  const timings = options.timings ?? defaultTimings();
  const leases = leasesOf(timings);
  const emulators = await startEmulators({
    dynamodbEndpoint: options.dynamodbEndpoint, dataDir: options.dataDir,
    visibilityTimeoutSeconds: timings.visibilityTimeoutSeconds, maxReceiveCount: timings.maxReceiveCount,
  });
  const table = makeTable(emulators.tableName, emulators.dynamodb, options.projectSpreads);
  const driver = createDriver(table, { driver: 'simulated', stepMs: options.driver.stepMs }, options.driver.beforeStep);

  const identity = options.identity ?? new NoauthIdentityProvider();
  const api = createApi({
    table, queue: sqsOperationQueue(emulators.sqs, emulators.queueUrl),
    claimLeaseMs: leases.claimLeaseMs, reservationLeaseMs: leases.reservationLeaseMs, idempotency: options.idempotency,
  }, { links: { publicUrl: options.publicUrl ?? LOCAL_PUBLIC_URL }, identity: identity.mode === 'noauth' ? identity : undefined });
  const authorizer = identity.mode === 'noauth' ? undefined : (e: APIGatewayRequestAuthorizerEvent) => authorizeRequest(identity, e);
  const served = await serveApi(
    ((event: APIGatewayProxyEvent, context: Context) => api(event as never, context as never)) as ProxyHandler,
    options.port, options.host, authorizer,
  ).catch(async (err: unknown) => {
    // The port is taken, say: let the data directory go (and its pid file) before saying so.
    await emulators.stop();
    throw err;
  });
  const server: Server = served.server;

  // No function timeout bounds a local run, so the worker keeps its message invisible at each
  // checkpoint, or a long operation would be redelivered (and dead-lettered) while it runs.
  const heartbeatFor = visibilityHeartbeat(emulators.sqs, emulators.queueUrl, timings.visibilityTimeoutSeconds);
  const compute = startEventSourceMapping({
    sqs: emulators.sqs, queueUrl: emulators.queueUrl, concurrency: options.computeConcurrency ?? 4,
    handler: createComputeHandler({ table, driver, ...leases }, { heartbeatFor }),
  });
  const deadLetters = startEventSourceMapping({
    sqs: emulators.sqs, queueUrl: emulators.deadLetterQueueUrl, concurrency: 1,
    handler: createDeadLetterHandler(table),
  });
  // One sweep at a time, as the scheduled sweeper function runs on AWS: a sweep reads every
  // lease partition, and sweeps started while the last is still running would pile up and take
  // every connection the API and the worker need.
  let sweeping = false;
  const sweeper = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    sweepExpiredClaims(table, Date.now())
      .then((released) => { if (released > 0) logger.warn('released expired claims or reservations', { released }); })
      .catch((err) => logger.error('sweep failed', { error: err as Error }))
      .finally(() => { sweeping = false; });
  }, timings.sweepIntervalSeconds * 1000);

  return {
    apiUrl: `${served.url}/v2.1`, emulators, table, driver, timings,
    async stop({ graceMs } = {}) {
      clearInterval(sweeper);
      // close() stops accepting and waits for open connections; idle keep-alive ones are closed
      // now, busy ones as soon as their response is written (Node closes them after it).
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await within(graceMs, closed);
      server.closeAllConnections();
      await within(graceMs, Promise.all([compute.stop(), deadLetters.stop()]));
      await emulators.stop();
    },
  };
}
