import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';

// When each AWS request of a path started and ended, and whether it failed: what the contention
// profile (contentionProfile.ts) lays along an operation's critical path. A middleware on the
// benchmark's own clients, recording only while `recording`.

export interface TimedRequest {
  readonly path: string;
  /** The operation (UpdateItem, SendMessage...). */
  readonly operation: string;
  readonly start: number;
  readonly end: number;
  /** It answered with an error (a failed condition, for a refused claim). */
  readonly failed: boolean;
}

export class RequestTimeline {
  readonly requests: TimedRequest[] = [];
  recording = false;

  /** Times every request `client` sends under `path`, from the SDK's send to its answer. */
  time<C extends DynamoDBClient | SQSClient>(client: C, path: string): C {
    (client.middlewareStack as { add: (mw: unknown, opts: unknown) => void }).add(
      (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
        if (!this.recording) return next(args);
        const operation = (context.commandName ?? 'unknown').replace(/Command$/, '');
        const start = performance.now();
        let failed = true;
        try {
          const out = await next(args);
          failed = false;
          return out;
        } finally {
          this.requests.push({ path, operation, start, end: performance.now(), failed });
        }
      },
      { step: 'initialize', name: `taskgateRequestTimeline-${path}`, override: true },
    );
    return client;
  }
}
