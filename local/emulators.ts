import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import {
  CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import { mkdir } from 'node:fs/promises';
import { CreateQueueCommand, GetQueueAttributesCommand, SetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import dynalite from 'dynalite';
import { startFauxqs } from 'fauxqs';
import { TABLE_DEFINITION, type KeyAttribute } from '../functions/core/table.js';

// The embedded backends: dynalite (DynamoDB) and fauxqs (SQS, FIFO included), in-process, or
// any DynamoDB endpoint given by TASKGATE_DYNAMODB_ENDPOINT (DynamoDB Local in CI). In memory,
// or, given a data directory, on disk: dynalite in LevelDB (its `path`), fauxqs in SQLite (its
// `dataDir`, which keeps queued and in-flight messages with their visibility deadlines).

/** The table's name when state is kept on disk: the same on every start, so the data is found. */
export const DURABLE_TABLE_NAME = 'taskgate';

/** The emulators' region and credentials: any value works, every client of them uses these. */
export const REGION = 'us-east-1';
export const CREDENTIALS = { accessKeyId: 'taskgate', secretAccessKey: 'taskgate' };

export interface Emulators {
  readonly dynamodb: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  readonly tableName: string;
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  stop(): Promise<void>;
}

export interface EmulatorOptions {
  /** Use this DynamoDB endpoint instead of starting dynalite. */
  readonly dynamodbEndpoint?: string;
  /** Use this SQS endpoint instead of starting fauxqs (the benchmark runs it on a worker thread). */
  readonly sqsEndpoint?: string;
  readonly tableName?: string;
  /** Seconds a received message stays invisible before it is redelivered. */
  readonly visibilityTimeoutSeconds: number;
  readonly maxReceiveCount: number;
  /** Keep the state in this directory (created if missing) instead of in memory. */
  readonly dataDir?: string;
}

async function startDynalite(path?: string): Promise<{ endpoint: string; server: Server }> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(path ? { path } : {}) }) as Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const keySchema = (partitionKey: KeyAttribute, sortKey: KeyAttribute) => [
  { AttributeName: partitionKey.name, KeyType: 'HASH' as const }, { AttributeName: sortKey.name, KeyType: 'RANGE' as const },
];

/** The table as the CDK stack creates it, from the same definition (TABLE_DEFINITION). */
export async function createTable(dynamodb: DynamoDBClient, tableName: string): Promise<void> {
  const { partitionKey, sortKey, indexes } = TABLE_DEFINITION;
  const attributes = new Map<string, KeyAttribute>();
  for (const key of [partitionKey, sortKey, ...indexes.flatMap((i) => [i.partitionKey, i.sortKey])]) attributes.set(key.name, key);
  try {
    await dynamodb.send(new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [...attributes.values()].map((a) => ({ AttributeName: a.name, AttributeType: a.type })),
      KeySchema: keySchema(partitionKey, sortKey),
      GlobalSecondaryIndexes: indexes.map((i) => ({
        IndexName: i.name, Projection: { ProjectionType: i.projection }, KeySchema: keySchema(i.partitionKey, i.sortKey),
      })),
    }));
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
  }
  for (let i = 0; i < 100; i++) {
    const out = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
    if (out.Table?.TableStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`table ${tableName} did not become ACTIVE`);
}

export async function startEmulators(options: EmulatorOptions): Promise<Emulators> {
  const { dataDir } = options;
  if (dataDir) await mkdir(`${dataDir}/sqs`, { recursive: true });
  const local = options.dynamodbEndpoint ? undefined : await startDynalite(dataDir && `${dataDir}/dynamodb`);
  const dynamodbEndpoint = options.dynamodbEndpoint ?? local!.endpoint;
  const fauxqs = options.sqsEndpoint ? undefined : await startFauxqs({ port: 0, logger: false, ...(dataDir ? { dataDir: `${dataDir}/sqs` } : {}) });
  const sqsEndpoint = options.sqsEndpoint ?? fauxqs!.address;

  const dynamodb = new DynamoDBClient({ endpoint: dynamodbEndpoint, region: REGION, credentials: CREDENTIALS });
  const sqs = new SQSClient({ endpoint: sqsEndpoint, region: REGION, credentials: CREDENTIALS });
  const tableName = options.tableName
    ?? (dataDir ? DURABLE_TABLE_NAME : `taskgate-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`);
  await createTable(dynamodb, tableName);

  const dlq = await sqs.send(new CreateQueueCommand({
    QueueName: 'taskgate-operations-dlq.fifo', Attributes: { FifoQueue: 'true' },
  }));
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({
    QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'],
  }))).Attributes!.QueueArn!;
  const queue = await sqs.send(new CreateQueueCommand({
    QueueName: 'taskgate-operations.fifo',
    Attributes: { FifoQueue: 'true', DeduplicationScope: 'messageGroup', FifoThroughputLimit: 'perMessageGroupId' },
  }));
  // Set apart from the creation: a kept queue takes this start's durations.
  await sqs.send(new SetQueueAttributesCommand({
    QueueUrl: queue.QueueUrl,
    Attributes: {
      VisibilityTimeout: String(options.visibilityTimeoutSeconds),
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: options.maxReceiveCount }),
    },
  }));

  // A kept queue remembers the port of the fauxqs that created it; show the one serving it now.
  const current = (url: string) => Object.assign(new URL(url), { port: new URL(sqsEndpoint).port }).toString();
  return {
    dynamodb, sqs, dynamodbEndpoint, sqsEndpoint, tableName,
    queueUrl: current(queue.QueueUrl!), deadLetterQueueUrl: current(dlq.QueueUrl!),
    async stop() {
      sqs.destroy();
      dynamodb.destroy();
      await fauxqs?.stop();
      if (local) await new Promise<void>((resolve) => local.server.close(() => resolve()));
    },
  };
}
