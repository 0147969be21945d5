import type { OperationName } from './catalogue.js';
import type { PowerStateValue, TaskState, VmState } from './states.js';

/** Who is asking: from the auth token, never from the body. */
export interface Caller {
  readonly userId: string;
  readonly projectId: string;
  /** The token's roles (functions/core/policy.ts decides what they allow). */
  readonly roles: readonly string[];
  /** Holds the admin role: sees and acts on every project's servers. */
  readonly isAdmin: boolean;
}

export interface Fault {
  readonly code: number;
  readonly message: string;
  readonly created: string;
  readonly details?: string;
}

/**
 * The claim an operation holds while it runs. Its fencing token is the instance's `version`,
 * which every change of ownership (claim, release, takeover, reset) increments: a write
 * conditioned on `version = token` is refused once the claim has moved on.
 */
export interface Claim {
  readonly requestId: string;
  readonly op: OperationName;
  readonly userId: string;
  readonly projectId: string;
  readonly params: Record<string, unknown>;
  readonly claimedAt: number;
  /** The worker running it now, if one has started (in-progress marker). */
  readonly runner?: string;
  /** When the runner's lease ends: a redelivery after that may take the work over. */
  readonly runUntil?: number;
}

export interface Instance {
  readonly id: string;
  readonly projectId: string;
  readonly userId: string;
  readonly name: string;
  readonly vmState: VmState;
  readonly taskState?: TaskState;
  readonly powerState: PowerStateValue;
  readonly flavorId: string;
  readonly imageId: string;
  /** Kept from resize until confirm (dropped) or revert (restored). */
  readonly oldFlavorId?: string;
  /** The vm_state a resize started from: confirm and revert return to it. */
  readonly preResizeVmState?: VmState;
  readonly locked: boolean;
  readonly lockedBy?: 'owner' | 'admin';
  readonly claim?: Claim;
  /** The claim a delete took over: its reservations are released by the delete worker. */
  readonly preempted?: Claim | null;
  /** Lease expiry of the live claim, epoch ms (sparse: only while claimed). */
  readonly leaseUntil?: number;
  readonly version: number;
  readonly fault?: Fault;
  /** How the last released claim ended: lets a redelivery find its own outcome. */
  readonly lastOutcome?: Outcome;
  readonly deleted?: boolean;
  readonly created: string;
  readonly updated: string;
}

export interface Outcome {
  readonly requestId: string;
  readonly result: 'Success' | 'Error';
  readonly message?: string;
}

/** The instance fields an operation may change when it releases its claim. */
export type InstancePatch = Partial<
  Pick<Instance, 'imageId' | 'flavorId' | 'oldFlavorId' | 'preResizeVmState' | 'powerState' | 'name'>
> & { readonly clear?: readonly ('oldFlavorId' | 'preResizeVmState')[] };

export function isVisibleTo(instance: Instance | undefined, caller: Caller): instance is Instance {
  return !!instance && !instance.deleted && (caller.isAdmin || instance.projectId === caller.projectId);
}
