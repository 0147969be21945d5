import { AsyncLocalStorage } from 'node:async_hooks';

// Who is running: each API request, worker delivery, sweep or dead-letter batch a test drives
// runs inside an invocation, so the SDK middlewares (faults, history) know whose call they see
// without any production code knowing about them. A killed invocation is a dead process: every
// call it makes afterwards fails, and nothing it would have cleaned up is cleaned up.

export type Role = 'api' | 'worker' | 'sweeper' | 'dlq' | 'harness';

export interface Invocation {
  readonly role: Role;
  readonly id: string;
  /** The operation a worker delivery runs (from its message). */
  readonly requestId?: string;
  readonly instanceId?: string;
  readonly token?: number;
  /** Inside the driver's own call (its writes are the operation's side effects). */
  driver?: boolean;
  /** Writes sent so far. */
  writes: number;
  /** Kill the process at this write: 'before' it is sent, or 'after' it landed, before the answer. */
  killAt?: { readonly write: number; readonly when: 'before' | 'after' };
  dead?: boolean;
}

export const invocations = new AsyncLocalStorage<Invocation>();

export const currentInvocation = (): Invocation | undefined => invocations.getStore();

let counter = 0;
export function runAs<T>(fields: Omit<Invocation, 'writes' | 'id'> & { id?: string }, fn: () => Promise<T>): Promise<T> {
  return invocations.run({ ...fields, id: fields.id ?? `${fields.role}-${++counter}`, writes: 0 }, fn);
}

/** Thrown into a killed invocation: the process is gone. */
export class Killed extends Error {
  constructor(message = 'process killed by fault injection') {
    super(message);
    this.name = 'Killed';
  }
}
