import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { marshall } from '@aws-sdk/util-dynamodb';
import { isConditionFailure } from '../functions/core/shared/table.js';
import { indexKeyWrites, refusedWriteUnits, writeUnits, type IndexKeyWrite, type Item, type TableShape, type WriteUnits } from './billing.js';

// What AWS would bill for the requests a piece of code makes, by path (as RequestCounter counts
// them): a middleware the bench adds to its own clients, never production code's. While
// `measuring`, each DynamoDB request asks for ReturnConsumedCapacity INDEXES; each write's item is
// read before and after (on a client of the meter's own, neither counted nor metered) so that its
// units come from AWS's rules (billing.ts) and not from the emulator, which reports no index units;
// the emulator's own table figure is kept beside it, to check the two agree. Reads take the
// emulator's figure. SQS requests count in 64 KB chunks. Measure one request at a time: an item
// written by someone else between the two reads would be billed to this write.

export interface Bill {
  /** DynamoDB write units: the table's, and each index's. */
  tableWriteUnits: number;
  indexWriteUnits: Record<string, number>;
  /** The same index units by the index partition key they land on (`<index> <key>`). */
  indexKeyWriteUnits: Record<string, number>;
  /** The table units by the table partition key they land on. */
  tableKeyWriteUnits: Record<string, number>;
  readUnits: number;
  /** SQS requests as billed (64 KB chunks). */
  sqsRequests: number;
  writes: number;
  /** The emulator's table units for the successful writes, and this meter's for the same writes. */
  emulatorTableWriteUnits: number;
  calculatedTableWriteUnits: number;
  /** Index units the emulator reported (dynalite reports none; DynamoDB Local does). */
  emulatorIndexWriteUnits: number;
  /** Writes this meter cannot bill (batch writes): none on taskgate's paths. */
  unmetered: number;
}

export const emptyBill = (): Bill => ({
  tableWriteUnits: 0, indexWriteUnits: {}, indexKeyWriteUnits: {}, tableKeyWriteUnits: {}, readUnits: 0, sqsRequests: 0, writes: 0,
  emulatorTableWriteUnits: 0, calculatedTableWriteUnits: 0, emulatorIndexWriteUnits: 0, unmetered: 0,
});

export const writeUnitsOf = (b: Bill) => b.tableWriteUnits + Object.values(b.indexWriteUnits).reduce((a, v) => a + v, 0);

const SINGLE_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem']);
const READS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem', 'TransactGetItems']);
const MULTI_WRITES = new Set(['BatchWriteItem', 'TransactWriteItems']);
const CHUNK = 64 * 1024;

interface ConsumedCapacity {
  CapacityUnits?: number;
  Table?: { CapacityUnits?: number };
  GlobalSecondaryIndexes?: Record<string, { CapacityUnits?: number }>;
}

/** A key as the document client takes it ({pk: 'x'}) or as the low-level one does ({pk: {S: 'x'}}). */
function marshalledKey(key: Record<string, unknown>): Item {
  const plain = Object.values(key).every((v) => typeof v === 'string' || typeof v === 'number');
  return (plain ? marshall(key) : key) as Item;
}

export class CapacityMeter {
  measuring = false;
  private readonly bills = new Map<string, Bill>();

  /** `images` reads items before and after each write; `shape` is the table's keys and indexes. */
  constructor(private readonly shape: TableShape, private readonly images: DynamoDBClient) {}

  private bill(path: string): Bill {
    let b = this.bills.get(path);
    if (!b) this.bills.set(path, b = emptyBill());
    return b;
  }

  take(path: string): Bill {
    const b = this.bills.get(path) ?? emptyBill();
    this.bills.delete(path);
    return b;
  }

  private async image(tableName: string, key: Item): Promise<Item | undefined> {
    const out = await this.images.send(new GetItemCommand({ TableName: tableName, Key: key, ConsistentRead: true }));
    return out.Item as Item | undefined;
  }

  private addWrite(path: string, units: WriteUnits, reported?: ConsumedCapacity, keyWrites: readonly IndexKeyWrite[] = [], key?: Item) {
    const b = this.bill(path);
    b.writes++;
    b.tableWriteUnits += units.table;
    const pk = key?.[this.shape.partitionKey.name]?.S;
    if (pk !== undefined) b.tableKeyWriteUnits[pk] = (b.tableKeyWriteUnits[pk] ?? 0) + units.table;
    for (const [name, u] of Object.entries(units.indexes)) b.indexWriteUnits[name] = (b.indexWriteUnits[name] ?? 0) + u;
    for (const w of keyWrites) b.indexKeyWriteUnits[`${w.index} ${w.key}`] = (b.indexKeyWriteUnits[`${w.index} ${w.key}`] ?? 0) + w.units;
    if (reported) {
      b.calculatedTableWriteUnits += units.table;
      b.emulatorTableWriteUnits += reported.Table?.CapacityUnits ?? reported.CapacityUnits ?? 0;
      b.emulatorIndexWriteUnits += Object.values(reported.GlobalSecondaryIndexes ?? {}).reduce((a, i) => a + (i.CapacityUnits ?? 0), 0);
    }
  }

  /**
   * A TransactWriteItems: DynamoDB writes every item in it twice (prepare and commit), a
   * ConditionCheck's item too, and bills them even when the transaction is cancelled
   * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html,
   * "Capacity management for transactions"): each member is billed as its write would be, twice.
   */
  private async transaction<T>(path: string, input: Record<string, unknown>, send: () => Promise<T>): Promise<T> {
    type Member = { Put?: { TableName: string; Item: Record<string, unknown> }; Update?: Keyed; Delete?: Keyed; ConditionCheck?: Keyed };
    type Keyed = { TableName: string; Key: Record<string, unknown> };
    const members = ((input.TransactItems ?? []) as Member[]).map((m) => {
      const write = m.Put ?? m.Update ?? m.Delete;
      const target = write ?? m.ConditionCheck!;
      const source = ('Item' in target ? target.Item : target.Key) as Record<string, unknown>;
      const key = marshalledKey({ [this.shape.partitionKey.name]: source[this.shape.partitionKey.name], [this.shape.sortKey.name]: source[this.shape.sortKey.name] });
      return { tableName: target.TableName, key, writes: !!write };
    });
    const before = await Promise.all(members.map((m) => this.image(m.tableName, m.key)));
    const twice = (u: WriteUnits): WriteUnits => ({ table: 2 * u.table, indexes: Object.fromEntries(Object.entries(u.indexes).map(([n, v]) => [n, 2 * v])) });
    let out: T;
    try {
      out = await send();
    } catch (err) {
      if (err instanceof Error && err.name === 'TransactionCanceledException') before.forEach((b, i) => this.addWrite(path, twice(refusedWriteUnits(b)), undefined, [], members[i]!.key));
      throw err;
    }
    const after = await Promise.all(members.map((m) => this.image(m.tableName, m.key)));
    members.forEach((m, i) => this.addWrite(
      path, twice(m.writes ? writeUnits(this.shape, before[i], after[i]) : refusedWriteUnits(before[i])), undefined,
      m.writes ? indexKeyWrites(this.shape, before[i], after[i]).map((w) => ({ ...w, units: 2 * w.units })) : [], m.key,
    ));
    return out;
  }

  meterDynamoDB<C extends DynamoDBClient>(client: C, path: string): C {
    client.middlewareStack.add((next, context) => async (args) => {
      const operation = (context.commandName ?? '').replace(/Command$/, '');
      if (!this.measuring) return next(args);
      const input = args.input as Record<string, unknown> & { TableName?: string };
      if (operation === 'TransactWriteItems') return this.transaction(path, input, () => next(args));
      if (MULTI_WRITES.has(operation)) {
        this.bill(path).unmetered++;
        return next(args);
      }
      if (READS.has(operation)) {
        input.ReturnConsumedCapacity = 'INDEXES';
        const out = await next(args);
        const consumed = (out.output as { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] }).ConsumedCapacity;
        for (const c of [consumed ?? []].flat()) this.bill(path).readUnits += c.CapacityUnits ?? 0;
        return out;
      }
      if (!SINGLE_WRITES.has(operation)) return next(args);
      input.ReturnConsumedCapacity = 'INDEXES';
      const source = (input.Key ?? input.Item) as Record<string, unknown>;
      const key = marshalledKey({ [this.shape.partitionKey.name]: source[this.shape.partitionKey.name], [this.shape.sortKey.name]: source[this.shape.sortKey.name] });
      const before = await this.image(input.TableName!, key);
      let out;
      try {
        out = await next(args);
      } catch (err) {
        if (isConditionFailure(err)) this.addWrite(path, refusedWriteUnits(before), undefined, [], key);
        throw err;
      }
      const after = await this.image(input.TableName!, key);
      this.addWrite(path, writeUnits(this.shape, before, after), (out.output as { ConsumedCapacity?: ConsumedCapacity }).ConsumedCapacity ?? {}, indexKeyWrites(this.shape, before, after), key);
      return out;
    }, { step: 'initialize', name: `taskgateCapacityMeter-${path}`, override: true });
    return client;
  }

  meterSqs<C extends SQSClient>(client: C, path: string): C {
    (client.middlewareStack as { add: (mw: unknown, opts: unknown) => void }).add(
      (next: (args: unknown) => Promise<{ output: Record<string, unknown> }>, context: { commandName?: string }) => async (args: { input: Record<string, unknown> }) => {
        const out = await next(args);
        if (this.measuring) this.bill(path).sqsRequests += sqsRequestsOf((context.commandName ?? '').replace(/Command$/, ''), args.input, out.output);
        return out;
      },
      { step: 'initialize', name: `taskgateSqsMeter-${path}`, override: true },
    );
    return client;
  }
}

type SqsAttributes = Record<string, { DataType?: string; StringValue?: string; BinaryValue?: Uint8Array }> | undefined;

/** A message's billed payload: its body and its attributes (names, types, values). */
function payloadBytes(body: unknown, attributes: SqsAttributes): number {
  let n = Buffer.byteLength(String(body ?? ''), 'utf8');
  for (const [name, a] of Object.entries(attributes ?? {})) {
    n += Buffer.byteLength(name) + Buffer.byteLength(a.DataType ?? '') + Buffer.byteLength(a.StringValue ?? '') + (a.BinaryValue?.byteLength ?? 0);
  }
  return n;
}

/** SQS bills each 64 KB chunk of a request's payload as a request (a batch's entries together). */
export function sqsRequestsOf(operation: string, input: Record<string, unknown>, output: Record<string, unknown>): number {
  const chunks = (bytes: number) => Math.max(1, Math.ceil(bytes / CHUNK));
  if (operation === 'SendMessage') return chunks(payloadBytes(input.MessageBody, input.MessageAttributes as SqsAttributes));
  if (operation === 'SendMessageBatch') {
    const entries = (input.Entries ?? []) as { MessageBody?: string; MessageAttributes?: SqsAttributes }[];
    return chunks(entries.reduce((a, e) => a + payloadBytes(e.MessageBody, e.MessageAttributes), 0));
  }
  if (operation === 'ReceiveMessage') {
    const messages = (output.Messages ?? []) as { Body?: string; MessageAttributes?: SqsAttributes }[];
    return chunks(messages.reduce((a, m) => a + payloadBytes(m.Body, m.MessageAttributes), 0));
  }
  return 1;
}
