import type { SQSClient } from '@aws-sdk/client-sqs';
import type { OperationName } from '../../../functions/core/compute/catalogue.js';
import type { ComputeDriver, OperationContext } from '../../../functions/core/compute/driver.js';
import type { Table } from '../../../functions/core/shared/table.js';

// Minimal fault injection for the lease and failure-path tests, all outside production code:
// a driver wrapper, an SDK middleware on a test-made client, a table wrapper.

/** A gate a test opens: what waits on it stays held until then. */
export function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => { open = resolve; });
  return { opened, open };
}

/**
 * The first run of `op` dies hard inside its first step: after the checkpoint it never writes
 * again (no release, no yield, no heartbeat), as a Lambda killed by its timeout or out of memory.
 * `bury` ends the dead run (it throws) so the test can stop its consumers.
 */
export function dyingOnce(inner: ComputeDriver, op: OperationName) {
  let died = false;
  const grave = gate();
  const driver = new Proxy(inner, {
    get(target, name, receiver) {
      const real = Reflect.get(target, name, receiver);
      if (name !== op) return real;
      return async (ctx: OperationContext) => {
        if (died) return real(ctx);
        died = true;
        await ctx.checkpoint();
        await grave.opened;
        throw new Error('killed');
      };
    },
  });
  return { driver, bury: grave.open, died: () => died };
}

/** Every run of `op` crashes (not a DriverError: the message is retried, then dead-lettered). */
export function alwaysCrashing(inner: ComputeDriver, op: OperationName): ComputeDriver {
  return new Proxy(inner, {
    get(target, name, receiver) {
      const real = Reflect.get(target, name, receiver);
      if (name !== op) return real;
      return async (ctx: OperationContext) => {
        await ctx.checkpoint();
        throw new Error(`crash in ${op}`);
      };
    },
  });
}

/** Makes every SendMessage (and batch) on this test-made client fail as SQS would, with `detail`. */
export function failSendMessage(sqs: SQSClient, detail: string): void {
  sqs.middlewareStack.add((next, context) => async (args) => {
    if (/SendMessage/.test(String(context.commandName))) {
      throw Object.assign(new Error(`InternalError: ${detail}`), { name: 'InternalError', $fault: 'server' });
    }
    return next(args);
  }, { step: 'initialize', name: 'failSendMessage' });
}

/** A table whose next UpdateItem first lets `meanwhile` run: a write that lands between a read and a write. */
export function beforeNextUpdate(table: Table, meanwhile: () => Promise<void>): Table {
  let armed = true;
  const db = new Proxy(table.db, {
    get(target, name, receiver) {
      if (name !== 'send') return Reflect.get(target, name, receiver);
      return async (command: { constructor: { name: string } }, ...rest: unknown[]) => {
        if (armed && command.constructor.name === 'UpdateCommand') {
          armed = false;
          await meanwhile();
        }
        return (target.send as (...a: unknown[]) => unknown)(command, ...rest);
      };
    },
  });
  return { ...table, db };
}
