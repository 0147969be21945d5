import type { OperationName } from './catalogue.js';
import type { Claim, Instance, InstancePatch } from './instance.js';
import type { TaskState } from './states.js';
import type { ClaimFence } from '../shared/fencedPut.js';

// The virt driver idea from Nova: the worker does an operation through this interface. The
// project ships a simulated driver; a real one plugs in behind the same methods.

export interface OperationContext {
  readonly op: OperationName;
  readonly requestId: string;
  /** The instance as the worker took it up (vm_state is the one the operation was admitted in). */
  readonly instance: Instance;
  readonly params: Record<string, unknown>;
  /**
   * The claims this operation took over (a delete, a hard reboot), oldest first. The domain ends
   * them and gives back what they reserved (settle.ts); a driver may need to know what it stops.
   */
  readonly takenOver: readonly Claim[];
  /**
   * Between steps: proves the claim is still ours (renewing its lease) and may move to the next
   * task_state. Throws FencedOut once the claim was superseded: the driver must then stop.
   */
  checkpoint(taskState?: TaskState): Promise<void>;
  /**
   * The claim the operation runs under, for a write the driver makes on another item (an image's
   * upload): fencedPut.ts puts it only while the claim holds, else throws FencedOut.
   */
  readonly fence: ClaimFence;
  /** A live migration's record (migrations.ts); absent for every other operation. */
  readonly migration?: MigrationSteps;
}

/**
 * How a live migration's driver reports its progress: each status one conditional write on the
 * record (an abort is the same kind of write on it, so exactly one of them wins). `advance`
 * throws the operation's failure when the migration was aborted first; `forcedComplete` says
 * whether force_complete was asked for (the copy then ends without another iteration).
 */
export interface MigrationSteps {
  advance(to: 'running' | 'post-migrating'): Promise<void>;
  forcedComplete(): Promise<boolean>;
}

/** One method per catalogue row; resolves to the instance fields to set on release. */
export type ComputeDriver = {
  readonly [op in OperationName]: (ctx: OperationContext) => Promise<InstancePatch>;
};

/**
 * What a driver cannot carry out, declared by the driver: admission refuses those operations
 * before it writes anything, as Nova's API answers an operation its virt driver does not
 * implement (NotImplementedError: 501 "The requested functionality is not supported."), rather
 * than accepting it and leaving the server in the operation's failure state.
 */
export interface DriverCapabilities {
  readonly unsupported: ReadonlySet<OperationName>;
}

/** A driver that carries out every catalogue operation. */
export const EVERY_OPERATION: DriverCapabilities = { unsupported: new Set() };

/**
 * A driver's answer "not finished: look again in `afterSeconds`", for a backend whose changes
 * take longer than an invocation should (EC2). The worker gives the run back with the claim
 * kept, and the queue's consumer makes the message come back after the delay: waiting costs no
 * compute. The next delivery starts the driver again, which reads the backend's state first.
 */
export class NotYet extends Error {
  override readonly name = 'NotYet';
  constructor(readonly afterSeconds: number, readonly reason: string) {
    super(`not yet: ${reason}; again in ${afterSeconds} s`);
  }
}
