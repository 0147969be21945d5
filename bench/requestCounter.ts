import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';

// Counts the AWS requests a piece of code makes, by kind, with an SDK middleware on the client:
// the count is what the SDK actually sent (one per attempt, retries included), not what the
// code meant to send.

export type RequestKind = 'read' | 'write' | 'send' | 'receive' | 'delete' | 'other';

const KIND_OF: Record<string, RequestKind> = {
  GetItem: 'read', Query: 'read', Scan: 'read', BatchGetItem: 'read', TransactGetItems: 'read',
  PutItem: 'write', UpdateItem: 'write', DeleteItem: 'write', BatchWriteItem: 'write', TransactWriteItems: 'write',
  SendMessage: 'send', SendMessageBatch: 'send',
  ReceiveMessage: 'receive',
  DeleteMessage: 'delete', DeleteMessageBatch: 'delete',
};

/** The request's operation name, from the SDK's context (e.g. UpdateItemCommand -> UpdateItem). */
export function kindOf(commandName: string): RequestKind {
  return KIND_OF[commandName.replace(/Command$/, '')] ?? 'other';
}

export type Counts = Record<RequestKind, number>;
export const zeroCounts = (): Counts => ({ read: 0, write: 0, send: 0, receive: 0, delete: 0, other: 0 });

/** One tally per path (e.g. 'api', 'compute'); `take` reads and resets. */
export class RequestCounter {
  private readonly tallies = new Map<string, Counts>();
  /** Every request in order, when recording (tests read it to see what was sent). */
  readonly log: { path: string; operation: string }[] = [];
  recording = false;

  count(path: string, operation: string): void {
    const tally = this.tallies.get(path) ?? zeroCounts();
    tally[kindOf(operation)]++;
    this.tallies.set(path, tally);
    if (this.recording) this.log.push({ path, operation: operation.replace(/Command$/, '') });
  }

  peek(path: string): Counts {
    return { ...(this.tallies.get(path) ?? zeroCounts()) };
  }

  take(path: string): Counts {
    const counts = this.peek(path);
    this.tallies.delete(path);
    return counts;
  }

  reset(): void {
    this.tallies.clear();
    this.log.length = 0;
  }
}

type AnyClient = DynamoDBClient | SQSClient;

/**
 * Counts every request `client` sends under `path`. The middleware sits at the finalizeRequest
 * step, after retries are decided, so each attempt on the wire is one count.
 */
export function countRequests<C extends AnyClient>(client: C, counter: RequestCounter, path: string): C {
  (client.middlewareStack as { add: (mw: unknown, opts: unknown) => void }).add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
      counter.count(path, context.commandName ?? 'unknown');
      return next(args);
    },
    { step: 'finalizeRequest', name: `taskgateRequestCounter-${path}`, override: true },
  );
  return client;
}
