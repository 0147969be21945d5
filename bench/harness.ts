import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, DeleteMessageBatchCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, SQSEvent } from 'aws-lambda';
import { createApi } from '../functions/api/app.js';
import { createComputeHandler } from '../functions/compute/batch.js';
import type { ComputeDriver, OperationContext } from '../functions/core/compute/driver.js';
import type { OperationName } from '../functions/core/compute/catalogue.js';
import { NoauthIdentityProvider } from '../functions/core/identity/noauth.js';
import { sqsOperationQueue } from '../functions/core/compute/queue.js';
import { SimulatedDriver } from '../functions/core/compute/simulatedDriver.js';
import { makeTable, TABLE_DEFINITION, type Table } from '../functions/core/shared/table.js';
import type { ProjectSpreads } from '../functions/core/shared/projectSpread.js';
import { CREDENTIALS, REGION, startEmulators, type Emulators } from '../local/emulators.js';
import { startEventSourceMapping, type EventSourceMapping } from '../local/eventSourceMapping.js';
import { lambdaContext } from '../local/lambdaContext.js';
import { CapacityMeter } from './capacityMeter.js';
import { History } from './history.js';
import { LambdaMeter } from './lambdaMeter.js';
import { countRequests, RequestCounter } from './requestCounter.js';
import { RequestTimeline } from './requestTimeline.js';

// taskgate's real handlers on the embedded emulators, in this process, with every AWS request
// counted by path: 'api' (the API Lambda's clients), 'compute' (the compute Lambda's), 'esm'
// (the event source mapping's receive and delete, which Lambda's service makes), 'peer' and
// 'floor' (the benchmark's own clients).

export interface Harness {
  readonly emulators: Emulators;
  readonly counter: RequestCounter;
  /** When each request started and ended, by path, while `timeline.recording` (contentionProfile.ts). */
  readonly timeline: RequestTimeline;
  readonly history: History;
  /** What AWS bills for the requests each path makes, while `meter.measuring` (capacityMeter.ts). */
  readonly meter: CapacityMeter;
  /** The API and compute functions' invocations and durations ('api', 'compute'). */
  readonly lambda: LambdaMeter;
  /** The worker thread serving the emulators, when they are on one (startHarness's emulatorThread). */
  readonly emulatorThreadId?: number;
  /** A DynamoDB client and table whose requests count under `path`. */
  table(path: string): Table;
  sqs(path: string): SQSClient;
  /** The API Lambda's handler, invoked in-process as Lambda would. */
  api(method: string, path: string, body?: unknown): Promise<APIGatewayProxyResult>;
  apiAs(token: string, method: string, path: string, body?: unknown): Promise<APIGatewayProxyResult>;
  /** Runs whatever is queued through the compute handler, one receive at a time, until empty. */
  drain(): Promise<number>;
  /** The compute handler fed by event source mapping pollers, as `npm start` runs it. */
  startCompute(concurrency?: number): EventSourceMapping;
  stop(): Promise<void>;
}

export const BENCH_CALLER = 'bench:bench';

async function startEmulatorThread() {
  const worker = new Worker(new URL('./emulatorThread.mjs', import.meta.url));
  const [endpoints] = await once(worker, 'message') as [{ dynamodbEndpoint: string; sqsEndpoint: string }];
  return {
    ...endpoints, threadId: worker.threadId,
    async stop() {
      worker.postMessage('stop');
      await once(worker, 'message');
      await worker.terminate();
    },
  };
}

/** The simulated driver, with every operation's run recorded in the history. */
function recordingDriver(inner: ComputeDriver, history: History): ComputeDriver {
  return Object.fromEntries((Object.keys(inner) as OperationName[]).map((op) => [op,
    (ctx: OperationContext) => history.record(ctx.instance.id, ctx.requestId, () => inner[op](ctx))])) as unknown as ComputeDriver;
}

export async function startHarness(opts: {
  workMs: number;
  /** Another DynamoDB endpoint (DynamoDB Local in CI) instead of the embedded dynalite. */
  dynamodbEndpoint?: string;
  /** Serve dynalite and fauxqs from a worker thread (bench/emulatorThread.mjs) rather than this event loop. */
  emulatorThread?: boolean;
  /** Given every DynamoDB client the harness makes, before use (a test's write meter). */
  dynamodbClient?: (client: DynamoDBClient) => void;
  /** The projects whose writes are spread (TASKGATE_PROJECT_SPREAD): none by default. */
  projectSpreads?: ProjectSpreads;
}): Promise<Harness> {
  const thread = opts.emulatorThread ? await startEmulatorThread() : undefined;
  const started = await startEmulators({
    dynamodbEndpoint: thread?.dynamodbEndpoint ?? opts.dynamodbEndpoint, sqsEndpoint: thread?.sqsEndpoint,
    visibilityTimeoutSeconds: 30, maxReceiveCount: 5,
  });
  const emulators: Emulators = thread ? { ...started, stop: async () => { await started.stop(); await thread.stop(); } } : started;
  const counter = new RequestCounter();
  const timeline = new RequestTimeline();
  const history = new History();
  const images = new DynamoDBClient({ endpoint: emulators.dynamodbEndpoint, region: REGION, credentials: CREDENTIALS });
  const meter = new CapacityMeter(TABLE_DEFINITION, images);
  const lambda = new LambdaMeter();
  const clients: (DynamoDBClient | SQSClient)[] = [images];
  const table = (path: string) => {
    const client = timeline.time(meter.meterDynamoDB(countRequests(new DynamoDBClient({ endpoint: emulators.dynamodbEndpoint, region: REGION, credentials: CREDENTIALS }), counter, path), path), path);
    clients.push(client);
    opts.dynamodbClient?.(client);
    return makeTable(emulators.tableName, client, opts.projectSpreads);
  };
  const sqs = (path: string) => {
    const client = timeline.time(meter.meterSqs(countRequests(new SQSClient({ endpoint: emulators.sqsEndpoint, region: REGION, credentials: CREDENTIALS }), counter, path), path), path);
    clients.push(client);
    return client;
  };

  // Development mode's identity (tokens "user:project"): the benchmark measures taskgate, not Keystone.
  const api = createApi(
    { table: table('api'), queue: sqsOperationQueue(sqs('api'), emulators.queueUrl), claimLeaseMs: 15 * 60_000 },
    { identity: new NoauthIdentityProvider() },
  );
  const computeTable = table('compute');
  const driver = recordingDriver(new SimulatedDriver(computeTable, { stepMs: opts.workMs }), history);
  const compute = createComputeHandler({ table: computeTable, driver, runLeaseMs: 120_000, claimLeaseMs: 900_000 });
  const esmSqs = sqs('esm');

  const toEvent = (messages: Message[]): SQSEvent => ({
    Records: messages.map((m) => ({
      messageId: m.MessageId!, receiptHandle: m.ReceiptHandle!, body: m.Body ?? '',
      attributes: { MessageGroupId: m.Attributes?.MessageGroupId, ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1' },
    })) as never,
  });

  const apiAs: Harness['apiAs'] = async (token, method, fullPath, body) => {
      const [path, query] = fullPath.split('?') as [string, string | undefined];
      const params = query ? Object.fromEntries(new URLSearchParams(query)) : null;
      const event = {
        resource: '/{proxy+}', path: `/v2.1${path}`, httpMethod: method,
        headers: { 'x-auth-token': token, 'content-type': 'application/json', host: 'bench', 'x-forwarded-proto': 'http' },
        multiValueHeaders: {}, queryStringParameters: params,
        multiValueQueryStringParameters: params && Object.fromEntries(Object.entries(params).map(([k, v]) => [k, [v]])),
        pathParameters: { proxy: `v2.1${path}` }, stageVariables: null,
        body: body === undefined ? null : JSON.stringify(body), isBase64Encoded: false,
        requestContext: { requestId: randomUUID(), stage: '$default', httpMethod: method, path: `/v2.1${path}` },
      } as unknown as APIGatewayProxyEvent;
      return (await lambda.time('api', () => api(event as never, lambdaContext('api', 30_000) as never))) as APIGatewayProxyResult;
  };

  return {
    emulators, counter, timeline, history, meter, lambda, table, sqs, apiAs, emulatorThreadId: thread?.threadId,
    api: (method, path, body) => apiAs(BENCH_CALLER, method, path, body),
    async drain() {
      let ran = 0;
      for (;;) {
        const out = await esmSqs.send(new ReceiveMessageCommand({
          QueueUrl: emulators.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['All'],
        }));
        const messages = out.Messages ?? [];
        if (messages.length === 0) return ran;
        const result = await lambda.time('compute', () => compute(toEvent(messages)));
        const failed = new Set((result.batchItemFailures ?? []).map((f) => f.itemIdentifier));
        const done = messages.filter((m) => !failed.has(m.MessageId!));
        if (done.length > 0) {
          await esmSqs.send(new DeleteMessageBatchCommand({
            QueueUrl: emulators.queueUrl, Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
          }));
        }
        ran += done.length;
      }
    },
    startCompute(concurrency = 4) {
      return startEventSourceMapping({ sqs: esmSqs, queueUrl: emulators.queueUrl, handler: compute, concurrency });
    },
    async stop() {
      for (const c of clients) c.destroy();
      await emulators.stop();
    },
  };
}
