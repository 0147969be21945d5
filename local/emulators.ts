import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import {
  CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { CreateQueueCommand, GetQueueAttributesCommand, SetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import dynalite from 'dynalite';
import { startFauxqs } from 'fauxqs';
import { TABLE_DEFINITION, type KeyAttribute } from '../functions/core/shared/table.js';
import { logger } from '../functions/observability/index.js';

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

/** Why `npm start` cannot start, in one line (bin/local.ts prints it and exits 1). */
export class LocalStartError extends Error {}

// dynalite's own store (node_modules/dynalite/db/index.js): its LevelDB and key layout, for the
// start-up repair below. The part used here:
interface LevelEntries { [Symbol.asyncIterator](): AsyncIterator<[string, unknown]> }
interface DynaliteStore {
  readonly db: {
    open(): Promise<void>;
    close(): Promise<void>;
    get(key: string): Promise<unknown>;
    batch(ops: ({ type: 'put'; key: string; value: unknown } | { type: 'del'; key: string })[]): Promise<void>;
    iterator(range: { gte: string; lt: string }): LevelEntries;
  };
  readonly tableDb: { readonly prefix: string };
  getItemDb(table: string): { readonly prefix: string };
  getIndexDb(type: 'Local' | 'Global', table: string, index: string): { readonly prefix: string };
}
interface DynaliteIndex {
  IndexName: string;
  KeySchema?: { AttributeName: string; KeyType: string }[];
  Projection?: { ProjectionType: string };
}
interface DynaliteTable {
  TableName: string;
  AttributeDefinitions?: { AttributeName: string; AttributeType: string }[];
  LocalSecondaryIndexes?: DynaliteIndex[];
  GlobalSecondaryIndexes?: DynaliteIndex[];
}
const dynaliteDb = createRequire(import.meta.url)('dynalite/db/index.js') as {
  create(options: { path: string }): DynaliteStore;
  getIndexActions(indexes: unknown[], existingItem: unknown, item: unknown, table: DynaliteTable): {
    puts: { index: string; key: string; item: unknown }[];
  };
};

/** The pid file of the process that holds a data directory, removed when it stops cleanly. */
const pidFile = (dataDir: string) => `${dataDir}/taskgate.pid`;

/** The live process, other than this one, that the data directory's pid file names. */
async function holderOf(dataDir: string): Promise<number | undefined> {
  const pid = Number((await readFile(pidFile(dataDir), 'utf8').catch(() => '')).trim());
  if (!(pid > 0) || pid === process.pid) return undefined;
  try {
    return process.kill(pid, 0) ? pid : undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

const inUse = (dataDir: string, pid: number | undefined) => new LocalStartError(
  `the data directory ${dataDir} is in use by ${pid ? `another taskgate (pid ${pid})` : 'another process'}: `
  + 'stop it first, or set TASKGATE_DATA_DIR to another directory (or to memory)');

/** Opens dynalite's store on a data directory, or says who holds it (LevelDB allows one process). */
async function openStore(dataDir: string): Promise<DynaliteStore> {
  const store = dynaliteDb.create({ path: `${dataDir}/dynamodb` });
  try {
    await store.db.open();
    return store;
  } catch (err) {
    const { code, cause } = err as { code?: string; cause?: { code?: string } };
    if (code !== 'LEVEL_LOCKED' && cause?.code !== 'LEVEL_LOCKED') throw err;
    throw inUse(dataDir, await holderOf(dataDir));
  }
}

/**
 * Throws LocalStartError when another process holds the data directory (before `--fresh` empties
 * it, and at every start): the live taskgate its pid file names (the only guard when DynamoDB is
 * another endpoint, as fauxqs's SQLite takes no lock), or dynalite's LevelDB lock.
 */
export async function checkDataDirFree(dataDir: string): Promise<void> {
  const holder = await holderOf(dataDir);
  if (holder) throw inUse(dataDir, holder);
  if (!existsSync(`${dataDir}/dynamodb`)) return;
  await (await openStore(dataDir)).db.close();
}

/**
 * Start-up repair of a data directory an older dynalite tore. It wrote an item's index entries
 * and the item as separate LevelDB writes, so a process killed between them (SIGKILL mid-create)
 * left index entries without their item, or at keys the item no longer has: servers a listing
 * showed and GET answered 404, forever. dynalite is patched now (one batch per item,
 * patches/dynalite+4.0.0.patch); directories torn before are put right here, on dynalite's
 * LevelDB through its own store, before its server opens it: the DynamoDB API cannot remove an
 * index entry alone. An index holds exactly what its items give (dynalite's getIndexActions,
 * as it writes them), so each index is compared with that and what differs is written in one
 * batch: entries no item gives are removed, missing or stale ones written. Returns how many.
 */
async function repairIndexes(dataDir: string, tableName: string): Promise<number> {
  const store = await openStore(dataDir);
  try {
    const table = await store.db.get(store.tableDb.prefix + tableName).catch(() => undefined) as DynaliteTable | undefined;
    if (!table?.TableName) return 0;
    if (redefineIndexes(table)) {
      await store.db.batch([{ type: 'put', key: store.tableDb.prefix + tableName, value: table }]);
      logger.warn('indexes redefined as the table definition now has them; their entries are rebuilt', { dataDir });
    }
    // Every key that starts with the prefix (each ends with '~'; '\x7f' is the byte after it).
    const range = (prefix: string) => ({ gte: prefix, lt: `${prefix.slice(0, -1)}\x7f` });
    const indexes = (['Local', 'Global'] as const).flatMap((type) =>
      (table[`${type}SecondaryIndexes`] ?? []).map((index) => ({ index, prefix: store.getIndexDb(type, tableName, index.IndexName).prefix })));
    const expected = new Map<string, string>();
    for await (const [, item] of store.db.iterator(range(store.getItemDb(tableName).prefix))) {
      for (const { index, prefix } of indexes) {
        for (const put of dynaliteDb.getIndexActions([index], null, item, table).puts) expected.set(prefix + put.key, JSON.stringify(put.item));
      }
    }
    const ops: Parameters<DynaliteStore['db']['batch']>[0] = [];
    for (const { prefix } of indexes) {
      for await (const [key, entry] of store.db.iterator(range(prefix))) {
        const want = expected.get(key);
        if (want === undefined) ops.push({ type: 'del', key });
        else if (want !== JSON.stringify(entry)) ops.push({ type: 'put', key, value: JSON.parse(want) });
        expected.delete(key);
      }
    }
    for (const [key, want] of expected) ops.push({ type: 'put', key, value: JSON.parse(want) });
    if (ops.length > 0) await store.db.batch(ops);
    return ops.length;
  } finally {
    await store.db.close();
  }
}

async function startDynalite(path?: string): Promise<{ endpoint: string; server: Server }> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(path ? { path } : {}) }) as Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const keySchema = (partitionKey: KeyAttribute, sortKey: KeyAttribute) => [
  { AttributeName: partitionKey.name, KeyType: 'HASH' as const }, { AttributeName: sortKey.name, KeyType: 'RANGE' as const },
];

/**
 * A data directory made by an earlier version keeps the indexes as that version defined them
 * (the all-servers index sorted on gsi2sk, which servers no longer carry; the listing indexes
 * projecting whole items). Each global index whose keys or projection differ from the definition
 * is redefined in place, in dynalite's stored description, before the repair below rebuilds its
 * entries from the items: what a stack update does on AWS by replacing the index
 * (docs/write-units.md). Returns whether any was.
 */
function redefineIndexes(table: DynaliteTable): boolean {
  let changed = false;
  for (const index of table.GlobalSecondaryIndexes ?? []) {
    const want = TABLE_DEFINITION.indexes.find((i) => i.name === index.IndexName);
    if (!want) continue;
    const keys = keySchema(want.partitionKey, want.sortKey);
    if (JSON.stringify(index.KeySchema) === JSON.stringify(keys) && index.Projection?.ProjectionType === want.projection) continue;
    index.KeySchema = keys;
    index.Projection = { ProjectionType: want.projection };
    for (const key of [want.partitionKey, want.sortKey]) {
      if (!table.AttributeDefinitions?.some((a) => a.AttributeName === key.name)) {
        (table.AttributeDefinitions ??= []).push({ AttributeName: key.name, AttributeType: key.type });
      }
    }
    changed = true;
  }
  return changed;
}

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
  if (dataDir) {
    const holder = await holderOf(dataDir);
    if (holder) throw inUse(dataDir, holder);
    await mkdir(`${dataDir}/sqs`, { recursive: true });
  }
  const tableName = options.tableName
    ?? (dataDir ? DURABLE_TABLE_NAME : `taskgate-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`);
  const repaired = dataDir && !options.dynamodbEndpoint ? await repairIndexes(dataDir, tableName) : 0;
  if (repaired > 0) logger.warn('index entries that did not match their items (torn by a crash) put right', { dataDir, repaired });
  // Loopback only, every emulator: they take any credentials.
  const local = options.dynamodbEndpoint ? undefined : await startDynalite(dataDir && `${dataDir}/dynamodb`);
  const dynamodbEndpoint = options.dynamodbEndpoint ?? local!.endpoint;
  const fauxqs = options.sqsEndpoint ? undefined : await startFauxqs({
    port: 0, listenHost: '127.0.0.1', logger: false, ...(dataDir ? { dataDir: `${dataDir}/sqs` } : {}),
  });
  const sqsEndpoint = options.sqsEndpoint ?? fauxqs!.address;

  const dynamodb = new DynamoDBClient({ endpoint: dynamodbEndpoint, region: REGION, credentials: CREDENTIALS });
  const sqs = new SQSClient({ endpoint: sqsEndpoint, region: REGION, credentials: CREDENTIALS });
  await createTable(dynamodb, tableName);
  // Named when a second start finds the data directory locked (openStore).
  if (dataDir) await writeFile(pidFile(dataDir), `${process.pid}\n`);

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
      // The servers first: a request still being served finishes before its store closes (a
      // client destroyed first drops its sockets, the server sees no connection left and closes
      // the database under the request, which then throws out of dynalite: exit code 1).
      await fauxqs?.stop();
      if (local) await new Promise<void>((resolve) => local.server.close(() => resolve()));
      sqs.destroy();
      dynamodb.destroy();
      if (dataDir) await rm(pidFile(dataDir), { force: true });
    },
  };
}
