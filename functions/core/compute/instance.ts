import type { OperationName } from './catalogue.js';
import type { Allocation } from '../placement/hosts.js';
import type { MigrationStatus } from './migrations.js';
import type { PowerStateValue, TaskState, VmState } from './states.js';

/** Who is asking: from the auth token, never from the body. */
export interface Caller {
  readonly userId: string;
  readonly projectId: string;
  /** The token's roles (functions/core/shared/policy.ts decides what they allow). */
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
  /**
   * The requester's project, kept only when it is not the server's own (an administrator's
   * request): a member's claim is conditioned on the server's project, so it would repeat it, and
   * those bytes decide whether a claimed server item passes 1 KB (docs/write-units.md).
   */
  readonly projectId?: string;
  readonly params: Record<string, unknown>;
  /** When admission claimed it: the instance action's start time. */
  readonly claimedAt: number;
  /** The worker running it now, if one has started (in-progress marker). */
  readonly runner?: string;
  /** When a worker first took it up: the start of its compute event (ISO 8601). */
  readonly eventStart?: string;
  /** When the runner's lease ends: a redelivery after that may take the work over. */
  readonly runUntil?: number;
}

/** A stored claim as the request it stands for: its requester's project is the server's unless kept. */
export const requestOf = (claim: Claim, instance: Pick<Instance, 'projectId'>): Claim & { readonly projectId: string } =>
  ({ ...claim, projectId: claim.projectId ?? instance.projectId });

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
  /**
   * The live claim, stored once. Every claim a takeover (a delete, a hard reboot) takes since the
   * instance was last released is kept beside it, whole, under an attribute of its own named
   * after the request that took it over (TAKEN_OVER_PREFIX): the operation that holds the
   * instance ends them all, and gives back what they reserved, before its own release removes
   * them. Read through takenOverClaims().
   */
  readonly claim?: Claim;
  /**
   * Written by the previous version beside every claim (a copy of it as a one-element list, so a
   * takeover could append it to `takenOver`); no longer written, cleared by a release.
   */
  readonly claimAsList?: readonly Claim[];
  /** The previous version's record of the claims taken over, oldest first; read, and cleared by a release. */
  readonly takenOver?: readonly Claim[];
  /** The claim the latest takeover took, as versions before that one recorded it; read, and cleared by a release. */
  readonly preempted?: Claim | null;
  /**
   * Lease expiry of the live claim as admitted, epoch ms (sparse: only while claimed): the lease
   * index's sort key, so it is never moved while the claim holds (a moved key is billed twice in
   * the index, a delete and a put). Renewals go to leaseRenewedUntil; claimLeaseEnd() is the lease.
   */
  readonly leaseUntil?: number;
  /** The live claim's lease as its last take-up or checkpoint renewed it, epoch ms. */
  readonly leaseRenewedUntil?: number;
  readonly version: number;
  readonly fault?: Fault;
  /** How the last released claim ended: lets a redelivery find its own outcome. */
  readonly lastOutcome?: Outcome;
  /**
   * The server's volumes and ports by id: on the item, an entry each (the volume's device, or true
   * for a port), so that admission's checks and device choice read nothing else; their details
   * are items of their own beside it (attachmentItems.ts), joined in by the readers that show them.
   * Written only by a fenced release, so they change under the claim like everything else. Items
   * the previous version wrote hold the whole attachment in the entry.
   */
  readonly volumes?: Readonly<Record<string, AttachmentEntry>>;
  readonly ports?: Readonly<Record<string, AttachmentEntry>>;
  /**
   * Written by a delete's release, which empties `volumes` and `ports`: the ids they held, which
   * are freed only after that release (reservations.ts), and again by a redelivery if the worker
   * died in between.
   */
  readonly heldWhenDeleted?: { readonly volumes: readonly string[]; readonly ports: readonly string[] };
  readonly deleted?: boolean;
  readonly created: string;
  readonly updated: string;
  // What the user asked for and Nova keeps on the instance (absent on items written before them).
  readonly metadata?: Record<string, string>;
  readonly tags?: readonly string[];
  /** Security group names (only Neutron's `default` exists here); absent on older items: default. */
  readonly securityGroups?: readonly string[];
  readonly accessIPv4?: string;
  readonly accessIPv6?: string;
  /** OS-DCF:diskConfig: 'AUTO' or 'MANUAL'. */
  readonly diskConfig?: string;
  readonly description?: string | null;
  readonly keyName?: string | null;
  readonly userData?: string | null;
  readonly lockedReason?: string | null;
  readonly hostname?: string;
  readonly reservationId?: string;
  readonly launchIndex?: number;
  readonly trustedCerts?: readonly string[] | null;
  readonly availabilityZone?: string | null;
  /** The host Placement chose (functions/core/placement/scheduler.ts) and its hypervisor; absent until placed. */
  readonly host?: string;
  readonly node?: string;
  /** The server group named by the create's `group` scheduler hint. */
  readonly serverGroupId?: string;
  /** What the create asked of the scheduler: an availability zone, an administrator's host. */
  readonly requestedZone?: string;
  readonly requestedHost?: string;
  /**
   * The share of its host Placement allocated it, as written there, its identity (`at`) included:
   * its give-back needs no read. Without the marks the host's entry keeps (placement/allocations.ts
   * recordedAllocation); items of the previous version may carry them, and `previous` while a
   * resize waits for its confirm or revert.
   */
  readonly allocation?: Allocation;
  /**
   * A resize or cold migration waiting for its confirm or revert: its migration's uuid as 16
   * bytes (pendingMove.ts), the rest on that record; items of the previous version hold the whole
   * move (PendingMove).
   */
  readonly pendingMove?: PendingMove | Uint8Array;
  /** Only on items of the previous version: what its last move's release left to do (settled and taken off by the next release). */
  readonly moveEnding?: MoveEnding;
  readonly configDrive?: boolean;
  /** Counts metadata and tag changes: their compare-and-set (never the fencing token). */
  readonly fieldsVersion?: number;
}

/** A resize or cold migration in VERIFY_RESIZE as the previous version kept it: its migration record and, for a migration, the source it left (its allocation kept there). */
export interface PendingMove {
  readonly migration: string;
  readonly source?: { readonly host: string; readonly node: string; readonly availabilityZone?: string | null; readonly allocation: Allocation };
}

/**
 * What a move's release leaves to do after it, settled once (every write conditioned) by the
 * release's settle (reservations.ts): its migration's last status, and the allocation it no
 * longer needs (a confirmed migration's source, a reverted one's target, a live migration's or an
 * evacuation's source). Its worker holds it; a redelivery rebuilds it from the migration record
 * (placing.ts recordedEnding). The previous version kept it on the server's item.
 */
export interface MoveEnding {
  readonly migration: string;
  readonly from: readonly MigrationStatus[];
  readonly to: MigrationStatus;
  readonly giveBack?: { readonly host: string; readonly allocation: Allocation };
}

/** The user-settable fields create, rebuild and update write on the instance item. */
export type InstanceFields = Partial<Pick<Instance,
  'name' | 'imageId' | 'metadata' | 'tags' | 'accessIPv4' | 'accessIPv6' | 'diskConfig' | 'description'
  | 'keyName' | 'userData' | 'hostname' | 'trustedCerts' | 'securityGroups' | 'serverGroupId' | 'requestedZone' | 'requestedHost'>>;

/**
 * How the last released claim ended: what a redelivery needs to find its own outcome (settle.ts
 * abandonSuperseded), and what shows the action between the release and its record
 * (instanceActions.ts): the requester only when it is not the server's owner. Event start and
 * finish time are written only by the previous version, which kept the whole action here.
 */
export interface Outcome {
  readonly requestId: string;
  readonly result: 'Success' | 'Error';
  readonly message?: string;
  readonly op?: OperationName;
  readonly userId?: string;
  readonly projectId?: string;
  readonly claimedAt?: number;
  readonly eventStart?: string;
  readonly finishedAt?: string;
}

/** A volume's block-device mapping or a port's virtual interface on one instance. */
export interface Attachment {
  readonly id: string;
  readonly instanceId: string;
  /** The request that attached it, and when (absent only when its details could not be read). */
  readonly requestId?: string;
  readonly created?: string;
  /** Volumes: the device name in the guest. */
  readonly device?: string;
  /** Ports: MAC address, network and fixed IP. */
  readonly macAddress?: string;
  readonly netId?: string;
  /** Ports: the network's name (the label of the server's addresses) and every address with its subnet. */
  readonly netName?: string;
  readonly fixedIps?: readonly { readonly subnetId: string; readonly ipAddress: string }[];
  readonly fixedIp?: string;
  readonly touched?: string;
  /** Volumes from 2.79: deleted with the server. */
  readonly deleteOnTermination?: boolean;
  /** The device tag (2.49), shown from 2.70. */
  readonly tag?: string | null;
}

export type AttachmentMap = 'volumes' | 'ports';

/** An attachment as the instance item holds it: the volume's device, true for a port, or (written by the previous version) all of it. */
export type AttachmentEntry = Attachment | string | true;

/** The instance fields an operation may change when it releases its claim. */
export type InstancePatch = Partial<
  Pick<Instance, 'imageId' | 'flavorId' | 'oldFlavorId' | 'preResizeVmState' | 'powerState' | 'name' | 'volumes' | 'ports' | 'heldWhenDeleted'
    | 'host' | 'node' | 'availabilityZone' | 'allocation' | 'pendingMove' | 'moveEnding'>
> & {
  readonly clear?: readonly ('oldFlavorId' | 'preResizeVmState' | 'pendingMove')[];
  /** An attachment this operation made: lands on the instance item with the release. */
  readonly attach?: { readonly map: AttachmentMap; readonly attachment: Attachment };
  /** An attachment this operation removed. */
  readonly detach?: { readonly map: AttachmentMap; readonly id: string };
};

/**
 * When the live claim's lease ends: as admitted or as last renewed, whichever is later. The
 * sweeper finds a claim by its admitted lease (the index) and ends it only past this.
 */
export function claimLeaseEnd(instance: Pick<Instance, 'leaseUntil' | 'leaseRenewedUntil'> | undefined): number | undefined {
  if (instance?.leaseUntil === undefined && instance?.leaseRenewedUntil === undefined) return undefined;
  return Math.max(instance.leaseUntil ?? 0, instance.leaseRenewedUntil ?? 0);
}

/**
 * The server's reservation id (Nova's, shared by a multiple create's servers). A single create's is
 * derived from its server's id (admission.ts reservationIdFor) and not stored.
 */
export const reservationIdOf = (s: Pick<Instance, 'id' | 'reservationId'>): string => s.reservationId ?? `r-${s.id.slice(-8)}`;

/** The one security group there is: Neutron's per-project `default` (functions/core/compute/serverSecurityGroups.ts). */
export const DEFAULT_SECURITY_GROUP = 'default';

/** The server's security groups (items written before groups were kept have the default one). */
export const securityGroupsOf = (s: Instance): readonly string[] => s.securityGroups ?? [DEFAULT_SECURITY_GROUP];

export function isVisibleTo(instance: Instance | undefined, caller: Caller): instance is Instance {
  return !!instance && !instance.deleted && (caller.isAdmin || instance.projectId === caller.projectId);
}

/**
 * The attribute a takeover by `requestId` keeps the claim it took in (null when the instance was
 * not claimed): a name of its own, since an update expression can copy a map into a new
 * attribute but cannot add it to a list (the previous version wrote the claim twice for that).
 */
export const TAKEN_OVER_PREFIX = 'takenOver#';
export const takenOverAttribute = (requestId: string) => `${TAKEN_OVER_PREFIX}${requestId}`;

/** The names of the attributes holding claims taken over (a release removes them). */
export function takenOverAttributes(instance: Instance | undefined): string[] {
  return Object.keys(instance ?? {}).filter((name) => name.startsWith(TAKEN_OVER_PREFIX));
}

/**
 * Every claim taken over on this instance and not yet ended, oldest first, each request once:
 * those kept under attributes of their own, and on items the previous versions wrote, their
 * `takenOver` list and `preempted` map (the latest, whole).
 */
export function takenOverClaims(instance: Instance | undefined): (Claim & { readonly projectId: string })[] {
  const byRequest = new Map<string, Claim>();
  for (const claim of instance?.takenOver ?? []) byRequest.set(claim.requestId, claim);
  const latest = instance?.preempted;
  if (latest) byRequest.set(latest.requestId, { ...byRequest.get(latest.requestId), ...latest });
  const own = takenOverAttributes(instance)
    .map((name) => (instance as unknown as Record<string, Claim | null>)[name])
    .filter((claim): claim is Claim => !!claim)
    .sort((a, b) => a.claimedAt - b.claimedAt);
  for (const claim of own) byRequest.set(claim.requestId, claim);
  return [...byRequest.values()].map((claim) => requestOf(claim, instance!));
}
