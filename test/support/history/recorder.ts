import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { currentInvocation } from '../faults/invocation.js';
import type { StepEvent } from '../faults/driverFaults.js';
import type { Actor, HistoryEvent, RequestEvent } from './events.js';

// Records a history as it happens: writes through AWS SDK middleware on the clients a test
// builds (innermost of the test's middlewares, so it sees what reached DynamoDB), requests from
// the workload, steps from the driver wrapper, faults from the fault log.

type Clock = () => number;
type Distribute<T> = T extends unknown ? Omit<T, 'seq'> : never;

const COMMANDS: Record<string, 'Put' | 'Update' | 'Delete'> = {
  PutCommand: 'Put', UpdateCommand: 'Update', DeleteCommand: 'Delete',
  PutItemCommand: 'Put', UpdateItemCommand: 'Update', DeleteItemCommand: 'Delete',
};

export class HistoryRecorder {
  readonly events: HistoryEvent[] = [];
  private seq = 0;
  constructor(readonly now: Clock) {}

  add(event: Distribute<HistoryEvent>): void {
    this.events.push({ ...event, seq: ++this.seq } as HistoryEvent);
  }

  request(e: Omit<RequestEvent, 'kind' | 'seq'>): void { this.add({ kind: 'request', ...e }); }

  step(e: StepEvent): void {
    this.add({ kind: 'step', at: this.now(), actor: actorOf(), ...e });
  }

  fault(fault: string, detail: Record<string, unknown>): void {
    this.add({ kind: 'fault', at: this.now(), fault, detail });
  }

  /**
   * Records every write the client makes. Updates without ReturnValues are asked for the new
   * item (the code that sent them reads no Attributes); one that asks for the old item keeps it.
   */
  attach(db: DynamoDBDocumentClient): void {
    db.middlewareStack.add((next, context) => async (args) => {
      // The document client's TransactWriteCommand reaches its stack as TransactWriteItemsCommand.
      if (context.commandName === 'TransactWriteCommand' || context.commandName === 'TransactWriteItemsCommand') return this.transaction(next, args, db);
      const command = COMMANDS[context.commandName ?? ''];
      if (!command) return next(args);
      const input = args.input as Record<string, any>;
      if (command === 'Update' && input.ReturnValues === undefined) input.ReturnValues = 'ALL_NEW';
      const actor = actorOf();
      const start = this.now();
      const key = input.Key ?? { pk: input.Item?.pk, sk: input.Item?.sk };
      const base = { kind: 'write' as const, actor, command, pk: String(key.pk), sk: String(key.sk), values: input.ExpressionAttributeValues };
      try {
        const out = await next(args);
        const output = out.output as Record<string, any>;
        const after = command === 'Put' ? input.Item : input.ReturnValues === 'ALL_NEW' ? output.Attributes : undefined;
        this.add({ ...base, start, end: this.now(), ok: true, after });
        return out;
      } catch (err) {
        if ((err as Error).name === 'ConditionalCheckFailedException') this.add({ ...base, start, end: this.now(), ok: false });
        else this.add({ ...base, start, end: this.now(), ok: false, values: { ...base.values, error: (err as Error).name } });
        throw err;
      }
    }, { step: 'initialize', priority: 'low', name: 'taskgateHistory' });
  }

  /**
   * A transaction (fencedPut.ts, the quota's charges): each member that writes is recorded as a
   * write of its item, all at the transaction's time, changed only if the whole transaction was (a
   * ConditionCheck changes nothing and is not recorded). A transaction returns no item: an
   * Update's is read just after, consistently, so it is a state the item was in at or after
   * this write (a quota's counters are checked on it), or none if that read fails.
   */
  private async transaction<T>(next: (args: any) => Promise<T>, args: { input: unknown }, db: DynamoDBDocumentClient): Promise<T> {
    const members = ((args.input as Record<string, any>).TransactItems ?? []) as Record<string, any>[];
    const actor = actorOf();
    const start = this.now();
    const written = members.flatMap((member) => (['Put', 'Update', 'Delete'] as const)
      .filter((command) => member[command])
      .map((command) => {
        const input = member[command];
        const key = input.Key ?? { pk: input.Item?.pk, sk: input.Item?.sk };
        return { kind: 'write' as const, actor, command, pk: String(key.pk), sk: String(key.sk), values: input.ExpressionAttributeValues, item: input.Item, table: input.TableName as string };
      }));
    try {
      const out = await next(args);
      const end = this.now();
      for (const { item, table, ...w } of written) {
        const after = w.command === 'Put' ? item : w.command === 'Update' ? await this.readBack(db, table, w.pk, w.sk) : undefined;
        this.add({ ...w, start, end, ok: true, after });
      }
      return out;
    } catch (err) {
      const name = (err as Error).name;
      for (const { item: _item, table: _table, ...w } of written) {
        this.add(name === 'TransactionCanceledException'
          ? { ...w, start, end: this.now(), ok: false }
          : { ...w, start, end: this.now(), ok: false, values: { ...w.values, error: name } });
      }
      throw err;
    }
  }

  private async readBack(db: DynamoDBDocumentClient, table: string, pk: string, sk: string): Promise<Record<string, any> | undefined> {
    try {
      return (await db.send(new GetCommand({ TableName: table, Key: { pk, sk }, ConsistentRead: true }))).Item;
    } catch {
      return undefined;
    }
  }
}

function actorOf(): Actor {
  const i = currentInvocation();
  if (!i) return { role: 'harness', id: 'harness' };
  return { role: i.role, id: i.id, requestId: i.requestId, instanceId: i.instanceId, token: i.token, driver: i.driver || undefined };
}
