import type { Server } from 'node:http';
import type { APIGatewayProxyEvent, APIGatewayRequestAuthorizerEvent, Context } from 'aws-lambda';
import { createApi } from '../functions/api/app.js';
import { authorizeRequest } from '../functions/authorizer/authorize.js';
import type { IdentityProvider } from '../functions/core/identity/identity.js';
import { NoauthIdentityProvider } from '../functions/core/identity/noauth.js';
import { createComputeHandler } from '../functions/compute/batch.js';
import { sweepExpiredClaims } from '../functions/core/sweeper.js';
import { createDeadLetterHandler } from '../functions/dlq/batch.js';
import { sqsOperationQueue } from '../functions/core/queue.js';
import { SimulatedDriver, type SimulatedDriverOptions } from '../functions/core/simulatedDriver.js';
import { makeTable, type Table } from '../functions/core/table.js';
import { serveApi, type ProxyHandler } from './apiGateway.js';
import { startEmulators, type Emulators } from './emulators.js';
import { startEventSourceMapping } from './eventSourceMapping.js';

export interface RuntimeOptions {
  /** API port; 0 picks a free one. */
  readonly port: number;
  readonly host?: string;
  readonly driver: SimulatedDriverOptions;
  readonly dynamodbEndpoint?: string;
  readonly claimLeaseMs?: number;
  readonly runLeaseMs?: number;
  readonly sweepIntervalMs?: number;
  readonly computeConcurrency?: number;
  /** Seconds before a message the worker failed is delivered again. */
  readonly visibilityTimeoutSeconds?: number;
  /** Deliveries before a message goes to the dead-letter queue. */
  readonly maxReceiveCount?: number;
  /**
   * How callers are identified. Keystone and JWT providers run as API Gateway's authorizer would,
   * before the API function; development mode (noauth, the default for tests and `npm start`)
   * has no authorizer and the API function reads `<user>:<project>` itself.
   */
  readonly identity?: IdentityProvider;
}

export interface Runtime {
  readonly apiUrl: string;
  readonly emulators: Emulators;
  readonly table: Table;
  readonly driver: SimulatedDriver;
  stop(): Promise<void>;
}

/**
 * taskgate on its embedded default: the real handlers behind an API Gateway-like HTTP server,
 * the compute and dead-letter handlers fed by event source mappings, the sweeper on a timer.
 */
export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  const emulators = await startEmulators({
    dynamodbEndpoint: options.dynamodbEndpoint,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
    maxReceiveCount: options.maxReceiveCount,
  });
  const table = makeTable(emulators.tableName, emulators.dynamodb);
  const driver = new SimulatedDriver(table, options.driver);

  const identity = options.identity ?? new NoauthIdentityProvider();
  const api = createApi({
    table, queue: sqsOperationQueue(emulators.sqs, emulators.queueUrl),
    claimLeaseMs: options.claimLeaseMs ?? 15 * 60_000,
  }, { identity: identity.mode === 'noauth' ? identity : undefined });
  const authorizer = identity.mode === 'noauth' ? undefined : (e: APIGatewayRequestAuthorizerEvent) => authorizeRequest(identity, e);
  let server: Server | undefined;
  const served = await serveApi(
    ((event: APIGatewayProxyEvent, context: Context) => api(event as never, context as never)) as ProxyHandler,
    options.port, options.host, authorizer,
  );
  server = served.server;

  const compute = startEventSourceMapping({
    sqs: emulators.sqs, queueUrl: emulators.queueUrl, concurrency: options.computeConcurrency ?? 4,
    handler: createComputeHandler({ table, driver, runLeaseMs: options.runLeaseMs ?? 120_000 }),
  });
  const deadLetters = startEventSourceMapping({
    sqs: emulators.sqs, queueUrl: emulators.deadLetterQueueUrl, concurrency: 1,
    handler: createDeadLetterHandler(table),
  });
  const sweeper = setInterval(() => {
    sweepExpiredClaims(table, Date.now())
      .then((released) => { if (released > 0) console.log(`sweeper released ${released} expired claim(s)`); })
      .catch((err) => console.error('sweep failed', (err as Error).message));
  }, options.sweepIntervalMs ?? 60_000);

  return {
    apiUrl: `${served.url}/v2.1`, emulators, table, driver,
    async stop() {
      clearInterval(sweeper);
      await new Promise<void>((resolve) => server!.close(() => resolve()));
      server.closeAllConnections?.();
      await Promise.all([compute.stop(), deadLetters.stop()]);
      await emulators.stop();
    },
  };
}
