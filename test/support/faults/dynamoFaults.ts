import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { FaultLog } from './faultLog.js';
import { currentInvocation, Killed } from './invocation.js';
import type { SeededRandom } from './random.js';

// DynamoDB faults as AWS SDK middleware on a client the test created: throttling (the error
// the SDK gives once its own retries are spent) and "kill the process at the Nth write" of an
// invocation (see invocation.ts). Added outermost, at the initialize step, before the SDK's
// retries, so a throttle reaches the caller as it would after retries ran out.

export const WRITE_COMMANDS = new Set([
  'PutCommand', 'UpdateCommand', 'DeleteCommand', 'PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand',
  'TransactWriteCommand', 'TransactWriteItemsCommand', 'BatchWriteCommand', 'BatchWriteItemCommand',
]);

export interface DynamoFaultOptions {
  readonly random: SeededRandom;
  readonly log: FaultLog;
  /** Chance that a call is throttled; read on every call, so a test can turn it off for quiescence. */
  throttleRate: number;
}

export class ThrottledError extends Error {
  readonly $metadata = { httpStatusCode: 400 };
  constructor() {
    super('Injected: the level of configured provisioned throughput for the table was exceeded');
    this.name = 'ProvisionedThroughputExceededException';
  }
}

export function addDynamoFaults(db: DynamoDBDocumentClient, options: DynamoFaultOptions): void {
  db.middlewareStack.add((next, context) => async (args) => {
    const invocation = currentInvocation();
    if (invocation?.dead) throw new Killed();
    const isWrite = WRITE_COMMANDS.has(context.commandName ?? '');
    if (options.throttleRate > 0 && invocation && invocation.role !== 'harness' && options.random.chance(options.throttleRate)) {
      options.log.note('dynamodb.throttle', { command: context.commandName, role: invocation.role });
      throw new ThrottledError();
    }
    if (!isWrite || !invocation) return next(args);
    const n = ++invocation.writes;
    const kill = invocation.killAt?.write === n ? invocation.killAt : undefined;
    if (kill?.when === 'before') {
      invocation.dead = true;
      options.log.note(invocation.role === 'api' ? 'api.kill' : 'worker.kill', { write: n, when: 'before', command: context.commandName });
      throw new Killed();
    }
    const out = await next(args);
    if (kill?.when === 'after') {
      invocation.dead = true;
      options.log.note(invocation.role === 'api' ? 'api.kill' : 'worker.kill', { write: n, when: 'after', command: context.commandName });
      throw new Killed();
    }
    return out;
  }, { step: 'initialize', priority: 'high', name: 'taskgateFaults' });
}
