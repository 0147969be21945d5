import type { PolicyName } from '../shared/policy.js';
import { TASK_STATES, type TaskState, type VmState } from './states.js';

/**
 * What an operation leaves vm_state as:
 * - a VmState: that state;
 * - 'unchanged': the vm_state the operation was admitted in;
 * - 'pre_resize': the vm_state recorded when the resize was admitted;
 * - a map: by the admitted vm_state, unchanged where the map is silent.
 */
export type VmOutcome = VmState | 'unchanged' | 'pre_resize' | Partial<Record<VmState, VmState>>;

export interface OperationRow {
  /**
   * The instance action Nova records for it (nova/compute/instance_actions.py), which is also the
   * name its 409 messages spell ("Cannot 'confirmResize' instance ...").
   */
  readonly action: string;
  /**
   * The policy (core/shared/policy.ts) a caller needs for it: the one its route declares, checked
   * again by admission, so that no way in to the operation skips it.
   */
  readonly policy: PolicyName;
  /** vm_states admission accepts; 'any' skips the check (Nova's `vm_state=None`). */
  readonly allowedVmStates: readonly VmState[] | 'any';
  /**
   * task_states admission accepts, null meaning idle: Nova's `task_state` argument of
   * @check_instance_state (default `[None]`). A non-null entry means this operation takes the
   * claim over from the one in flight (a new fencing token; the old worker is fenced out).
   */
  readonly allowedTaskStates: readonly (TaskState | null)[];
  /** task_state set by the claim, then the ones the worker steps through, in order. */
  readonly taskStates: readonly [TaskState, ...TaskState[]];
  readonly onSuccess: VmOutcome;
  readonly onFailure: VmOutcome;
  /**
   * Nova's method has no @check_instance_lock: a locked server still takes it from its owner
   * (snapshot and backup: "lock is intended to prevent accidental change/delete", compute/api.py).
   */
  readonly ignoresLock?: true;
}

/** Nova's default for @check_instance_state: only an idle instance. */
const IDLE: readonly (TaskState | null)[] = [null];
/** nova/compute/task_states.py ALLOW_REBOOT, the states of it that taskgate has. */
const ALLOW_REBOOT: readonly (TaskState | null)[] = [
  null, 'rebooting', 'rebooting_hard', 'resuming', 'unpausing', 'pausing', 'suspending',
];
/** Nova's delete has no task_state check; taskgate refuses only a second delete. */
const ANY_BUT_DELETING: readonly (TaskState | null)[] = [null, ...TASK_STATES.filter((t) => t !== 'deleting')];

/** Whether `taskState` (undefined: idle) lets `row` claim the instance. */
export function allowsTaskState(row: OperationRow, taskState: TaskState | undefined): boolean {
  return row.allowedTaskStates.includes(taskState ?? null);
}

/** Whether admitting `row` may take a claim over from an operation in flight. */
export function preempts(row: OperationRow): boolean {
  return row.allowedTaskStates.some((t) => t !== null);
}

const VOLUME_STATES: readonly VmState[] = [
  'active', 'paused', 'stopped', 'resized', 'soft_deleted', 'shelved', 'shelved_offloaded',
];
const INTERFACE_STATES: readonly VmState[] = ['active', 'paused', 'stopped'];
/** compute/api.py snapshot and backup: @check_instance_state(vm_state=[ACTIVE, STOPPED, PAUSED, SUSPENDED]). */
const IMAGE_STATES: readonly VmState[] = ['active', 'stopped', 'paused', 'suspended'];

/**
 * The operation catalogue (docs/operations.md explains each row), read by admission (which
 * states may start an operation, which task_state it claims) and by the compute worker (which
 * states it steps through, where it leaves vm_state). Adding an operation is a row here and a driver step.
 */
export const OperationCatalogue = {
  create: {
    action: 'create', policy: 'os_compute_api:servers:create',
    allowedVmStates: ['building'], allowedTaskStates: IDLE, taskStates: ['scheduling', 'spawning'],
    onSuccess: 'active', onFailure: 'error',
  },
  rebuild: {
    action: 'rebuild', policy: 'os_compute_api:servers:action',
    allowedVmStates: ['active', 'stopped', 'error'], allowedTaskStates: IDLE, taskStates: ['rebuilding'],
    onSuccess: { error: 'active' }, onFailure: 'error',
  },
  resize: {
    action: 'resize', policy: 'os_compute_api:servers:action',
    allowedVmStates: ['active', 'stopped'], allowedTaskStates: IDLE,
    taskStates: ['resize_prep', 'resize_migrating', 'resize_finish'],
    onSuccess: 'resized', onFailure: 'unchanged',
  },
  confirm_resize: {
    action: 'confirmResize', policy: 'os_compute_api:servers:action',
    allowedVmStates: ['resized'], allowedTaskStates: IDLE, taskStates: ['resize_confirming'],
    onSuccess: 'pre_resize', onFailure: 'unchanged',
  },
  revert_resize: {
    action: 'revertResize', policy: 'os_compute_api:servers:action',
    allowedVmStates: ['resized'], allowedTaskStates: IDLE, taskStates: ['resize_reverting'],
    onSuccess: 'pre_resize', onFailure: 'error',
  },
  shelve: {
    action: 'shelve', policy: 'os_compute_api:servers:action',
    allowedVmStates: ['active', 'stopped', 'paused', 'suspended'], allowedTaskStates: IDLE,
    taskStates: ['shelving'], onSuccess: 'shelved', onFailure: 'unchanged',
  },
  shelve_offload: {
    action: 'shelveOffload', policy: 'os_compute_api:servers:action',
    allowedVmStates: ['shelved'], allowedTaskStates: IDLE, taskStates: ['shelving_offloading'],
    onSuccess: 'shelved_offloaded', onFailure: 'shelved',
  },
  unshelve: {
    action: 'unshelve', policy: 'os_compute_api:servers:action',
    allowedVmStates: ['shelved', 'shelved_offloaded'], allowedTaskStates: IDLE, taskStates: ['unshelving'],
    onSuccess: 'active', onFailure: 'unchanged',
  },
  attach_volume: {
    action: 'attach_volume', policy: 'os_compute_api:os-volumes-attachments:create',
    allowedVmStates: VOLUME_STATES, allowedTaskStates: IDLE, taskStates: ['attaching_volume'],
    onSuccess: 'unchanged', onFailure: 'unchanged',
  },
  detach_volume: {
    action: 'detach_volume', policy: 'os_compute_api:os-volumes-attachments:delete',
    allowedVmStates: VOLUME_STATES, allowedTaskStates: IDLE, taskStates: ['detaching_volume'],
    onSuccess: 'unchanged', onFailure: 'unchanged',
  },
  attach_interface: {
    action: 'attach_interface', policy: 'os_compute_api:os-attach-interfaces:create',
    allowedVmStates: INTERFACE_STATES, allowedTaskStates: IDLE, taskStates: ['attaching_interface'],
    onSuccess: 'unchanged', onFailure: 'unchanged',
  },
  detach_interface: {
    action: 'detach_interface', policy: 'os_compute_api:os-attach-interfaces:delete',
    allowedVmStates: INTERFACE_STATES, allowedTaskStates: IDLE, taskStates: ['detaching_interface'],
    onSuccess: 'unchanged', onFailure: 'unchanged',
  },
  start: {
    action: 'start', policy: 'os_compute_api:servers:action',
    allowedVmStates: ['stopped'], allowedTaskStates: IDLE, taskStates: ['powering-on'],
    onSuccess: 'active', onFailure: 'stopped',
  },
  stop: {
    action: 'stop', policy: 'os_compute_api:servers:action',
    allowedVmStates: ['active', 'error'], allowedTaskStates: IDLE, taskStates: ['powering-off'],
    onSuccess: 'stopped', onFailure: 'unchanged',
  },
  reboot_soft: {
    action: 'reboot', policy: 'os_compute_api:servers:action',
    allowedVmStates: ['active'], allowedTaskStates: IDLE, taskStates: ['rebooting'],
    onSuccess: 'active', onFailure: 'active',
  },
  reboot_hard: {
    action: 'reboot', policy: 'os_compute_api:servers:action',
    allowedVmStates: ['active', 'stopped', 'paused', 'suspended', 'error'],
    allowedTaskStates: ALLOW_REBOOT,
    taskStates: ['rebooting_hard'], onSuccess: 'active', onFailure: 'error',
  },
  pause: {
    action: 'pause', policy: 'os_compute_api:servers:action',
    allowedVmStates: ['active'], allowedTaskStates: IDLE, taskStates: ['pausing'],
    onSuccess: 'paused', onFailure: 'unchanged',
  },
  unpause: {
    action: 'unpause', policy: 'os_compute_api:servers:action',
    allowedVmStates: ['paused'], allowedTaskStates: IDLE, taskStates: ['unpausing'],
    onSuccess: 'active', onFailure: 'unchanged',
  },
  suspend: {
    action: 'suspend', policy: 'os_compute_api:servers:action',
    allowedVmStates: ['active'], allowedTaskStates: IDLE, taskStates: ['suspending'],
    onSuccess: 'suspended', onFailure: 'unchanged',
  },
  resume: {
    action: 'resume', policy: 'os_compute_api:servers:action',
    allowedVmStates: ['suspended'], allowedTaskStates: IDLE, taskStates: ['resuming'],
    onSuccess: 'active', onFailure: 'unchanged',
  },
  // nova/compute/api.py rescue: @check_instance_lock, vm_state [ACTIVE, STOPPED, ERROR]; the
  // compute manager leaves RESCUED, or ERROR when the driver fails (_set_instance_obj_error_state).
  rescue: {
    action: 'rescue', policy: 'os_compute_api:servers:action', allowedVmStates: ['active', 'stopped', 'error'], allowedTaskStates: IDLE, taskStates: ['rescuing'],
    onSuccess: 'rescued', onFailure: 'error',
  },
  // unrescue: @check_instance_lock, vm_state [RESCUED]; a failure is ERROR (_error_out_instance_on_exception).
  unrescue: {
    action: 'unrescue', policy: 'os_compute_api:servers:action', allowedVmStates: ['rescued'], allowedTaskStates: IDLE, taskStates: ['unrescuing'],
    onSuccess: 'active', onFailure: 'error',
  },
  // snapshot: no lock check, IMAGE_STATES; the API claims image_snapshot_pending, the compute
  // manager image_snapshot, the driver image_pending_upload and image_uploading; a failure only
  // reverts task_state (@reverts_task_state) and deletes the image (@delete_image_on_error).
  create_image: {
    action: 'createImage', policy: 'os_compute_api:servers:action', allowedVmStates: IMAGE_STATES, allowedTaskStates: IDLE, ignoresLock: true,
    taskStates: ['image_snapshot_pending', 'image_snapshot', 'image_pending_upload', 'image_uploading'],
    onSuccess: 'unchanged', onFailure: 'unchanged',
  },
  // backup: as snapshot, from image_backup; then the oldest backups beyond `rotation` go (_rotate_backups).
  create_backup: {
    action: 'createBackup', policy: 'os_compute_api:servers:action', allowedVmStates: IMAGE_STATES, allowedTaskStates: IDLE, ignoresLock: true,
    taskStates: ['image_backup', 'image_pending_upload', 'image_uploading'],
    onSuccess: 'unchanged', onFailure: 'unchanged',
  },
  // trigger_crash_dump (2.17): @check_instance_lock, vm_states.ALLOW_TRIGGER_CRASH_DUMP. Nova sets
  // no task_state ("the effect of a trigger depends on user's configuration"); taskgate claims
  // triggering_crash_dump, as it does for the attachments, so that nothing else runs meanwhile.
  trigger_crash_dump: {
    action: 'trigger_crash_dump', policy: 'os_compute_api:servers:action', allowedVmStates: ['active', 'paused', 'rescued', 'resized', 'error'], allowedTaskStates: IDLE,
    taskStates: ['triggering_crash_dump'], onSuccess: 'unchanged', onFailure: 'unchanged',
  },
  // set_admin_password: @check_instance_lock, vm_state [ACTIVE]; a failure (InstancePasswordSetFailed)
  // only clears task_state.
  change_password: {
    action: 'changePassword', policy: 'os_compute_api:servers:action', allowedVmStates: ['active'], allowedTaskStates: IDLE, taskStates: ['updating_password'],
    onSuccess: 'unchanged', onFailure: 'unchanged',
  },
  // Moving servers (docs/placement.md). migrate is Nova's resize without a new flavor:
  // compute/api.py resize: @check_instance_lock, @check_instance_state(vm_state=[ACTIVE, STOPPED])
  // (task_state [None]); it ends in VERIFY_RESIZE (resized) on the other host, for
  // confirmResize or revertResize; a failure leaves the server where and as it was.
  migrate: {
    action: 'migrate', policy: 'os_compute_api:os-migrate-server:migrate', allowedVmStates: ['active', 'stopped'], allowedTaskStates: IDLE,
    taskStates: ['resize_prep', 'resize_migrating', 'resize_finish'], onSuccess: 'resized', onFailure: 'unchanged',
  },
  // live_migrate: @check_instance_lock, @check_instance_state(vm_state=[ACTIVE, PAUSED]); task_state
  // MIGRATING; the server keeps its vm_state, on the new host; a failure (or an abort) rolls back
  // to the source in the same vm_state (_rollback_live_migration).
  live_migrate: {
    action: 'live-migration', policy: 'os_compute_api:os-migrate-server:migrate_live', allowedVmStates: ['active', 'paused'], allowedTaskStates: IDLE,
    taskStates: ['migrating'], onSuccess: 'unchanged', onFailure: 'unchanged',
  },
  // evacuate: no @check_instance_lock; @check_instance_state(vm_state=[ACTIVE, STOPPED, ERROR],
  // task_state=None); task_state REBUILDING; rebuilt on another host as rebuild leaves it (a
  // stopped server stays stopped, an ERROR one comes back ACTIVE); a failure is ERROR.
  evacuate: {
    action: 'evacuate', policy: 'os_compute_api:os-evacuate', allowedVmStates: ['active', 'stopped', 'error'], allowedTaskStates: IDLE, ignoresLock: true,
    taskStates: ['rebuilding'], onSuccess: { error: 'active' }, onFailure: 'error',
  },
  delete: {
    action: 'delete', policy: 'os_compute_api:servers:delete',
    allowedVmStates: 'any', allowedTaskStates: ANY_BUT_DELETING,
    taskStates: ['deleting'], onSuccess: 'deleted', onFailure: 'error',
  },
} as const satisfies Record<string, OperationRow>;

export type OperationName = keyof typeof OperationCatalogue;

export function operationRow(op: OperationName): OperationRow {
  return OperationCatalogue[op];
}

export function isOperationName(value: unknown): value is OperationName {
  return typeof value === 'string' && Object.hasOwn(OperationCatalogue, value);
}

/** The vm_state an operation leaves behind, given where it started. */
export function resolveVmOutcome(
  outcome: VmOutcome,
  admittedIn: VmState,
  preResize: VmState | undefined,
): VmState {
  if (outcome === 'unchanged') return admittedIn;
  if (outcome === 'pre_resize') return preResize ?? 'active';
  if (typeof outcome === 'string') return outcome;
  return outcome[admittedIn] ?? admittedIn;
}
