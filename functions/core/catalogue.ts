import type { TaskState, VmState } from './states.js';

/**
 * What an operation leaves vm_state as:
 * - a VmState: that state;
 * - 'unchanged': the vm_state the operation was admitted in;
 * - 'pre_resize': the vm_state recorded when the resize was admitted;
 * - a map: by the admitted vm_state, unchanged where the map is silent.
 */
export type VmOutcome = VmState | 'unchanged' | 'pre_resize' | Partial<Record<VmState, VmState>>;

export interface OperationRow {
  /** The action name Nova's 409 messages spell ("Cannot 'confirmResize' instance ..."). */
  readonly verb: string;
  /** The instance action Nova records for it (nova/compute/instance_actions.py). */
  readonly action: string;
  /** vm_states admission accepts; 'any' skips the check. */
  readonly allowedVmStates: readonly VmState[] | 'any';
  /** task_state set by the claim, then the ones the worker steps through, in order. */
  readonly taskStates: readonly [TaskState, ...TaskState[]];
  readonly onSuccess: VmOutcome;
  readonly onFailure: VmOutcome;
  /** Takes the claim over from any operation in flight except itself (delete). */
  readonly preempts?: true;
}

const VOLUME_STATES: readonly VmState[] = [
  'active', 'paused', 'stopped', 'resized', 'soft_deleted', 'shelved', 'shelved_offloaded',
];
const INTERFACE_STATES: readonly VmState[] = ['active', 'paused', 'stopped'];

/**
 * The operation catalogue (docs/operations.md explains each row), read by admission (which states may start an
 * operation, which task_state it claims) and by the compute worker (which states it steps
 * through, where it leaves vm_state). Adding an operation is a row here and a driver step.
 */
export const OperationCatalogue = {
  create: {
    verb: 'create', action: 'create', allowedVmStates: ['building'], taskStates: ['scheduling', 'spawning'],
    onSuccess: 'active', onFailure: 'error',
  },
  rebuild: {
    verb: 'rebuild', action: 'rebuild', allowedVmStates: ['active', 'stopped', 'error'], taskStates: ['rebuilding'],
    onSuccess: { error: 'active' }, onFailure: 'error',
  },
  resize: {
    verb: 'resize', action: 'resize', allowedVmStates: ['active', 'stopped'],
    taskStates: ['resize_prep', 'resize_migrating', 'resize_finish'],
    onSuccess: 'resized', onFailure: 'unchanged',
  },
  confirm_resize: {
    verb: 'confirmResize', action: 'confirmResize', allowedVmStates: ['resized'], taskStates: ['resize_confirming'],
    onSuccess: 'pre_resize', onFailure: 'unchanged',
  },
  revert_resize: {
    verb: 'revertResize', action: 'revertResize', allowedVmStates: ['resized'], taskStates: ['resize_reverting'],
    onSuccess: 'pre_resize', onFailure: 'error',
  },
  shelve: {
    verb: 'shelve', action: 'shelve', allowedVmStates: ['active', 'stopped', 'paused', 'suspended'],
    taskStates: ['shelving'], onSuccess: 'shelved', onFailure: 'unchanged',
  },
  shelve_offload: {
    verb: 'shelveOffload', action: 'shelveOffload', allowedVmStates: ['shelved'], taskStates: ['shelving_offloading'],
    onSuccess: 'shelved_offloaded', onFailure: 'shelved',
  },
  unshelve: {
    verb: 'unshelve', action: 'unshelve', allowedVmStates: ['shelved', 'shelved_offloaded'], taskStates: ['unshelving'],
    onSuccess: 'active', onFailure: 'unchanged',
  },
  attach_volume: {
    verb: 'attach_volume', action: 'attach_volume', allowedVmStates: VOLUME_STATES, taskStates: ['attaching_volume'],
    onSuccess: 'unchanged', onFailure: 'unchanged',
  },
  detach_volume: {
    verb: 'detach_volume', action: 'detach_volume', allowedVmStates: VOLUME_STATES, taskStates: ['detaching_volume'],
    onSuccess: 'unchanged', onFailure: 'unchanged',
  },
  attach_interface: {
    verb: 'attach_interface', action: 'attach_interface', allowedVmStates: INTERFACE_STATES, taskStates: ['attaching_interface'],
    onSuccess: 'unchanged', onFailure: 'unchanged',
  },
  detach_interface: {
    verb: 'detach_interface', action: 'detach_interface', allowedVmStates: INTERFACE_STATES, taskStates: ['detaching_interface'],
    onSuccess: 'unchanged', onFailure: 'unchanged',
  },
  start: {
    verb: 'start', action: 'start', allowedVmStates: ['stopped'], taskStates: ['powering-on'],
    onSuccess: 'active', onFailure: 'stopped',
  },
  stop: {
    verb: 'stop', action: 'stop', allowedVmStates: ['active', 'error'], taskStates: ['powering-off'],
    onSuccess: 'stopped', onFailure: 'unchanged',
  },
  reboot_soft: {
    verb: 'reboot', action: 'reboot', allowedVmStates: ['active'], taskStates: ['rebooting'],
    onSuccess: 'active', onFailure: 'active',
  },
  reboot_hard: {
    verb: 'reboot', action: 'reboot', allowedVmStates: ['active', 'stopped', 'paused', 'suspended', 'error'],
    taskStates: ['rebooting_hard'], onSuccess: 'active', onFailure: 'error',
  },
  pause: {
    verb: 'pause', action: 'pause', allowedVmStates: ['active'], taskStates: ['pausing'],
    onSuccess: 'paused', onFailure: 'unchanged',
  },
  unpause: {
    verb: 'unpause', action: 'unpause', allowedVmStates: ['paused'], taskStates: ['unpausing'],
    onSuccess: 'active', onFailure: 'unchanged',
  },
  suspend: {
    verb: 'suspend', action: 'suspend', allowedVmStates: ['active'], taskStates: ['suspending'],
    onSuccess: 'suspended', onFailure: 'unchanged',
  },
  resume: {
    verb: 'resume', action: 'resume', allowedVmStates: ['suspended'], taskStates: ['resuming'],
    onSuccess: 'active', onFailure: 'unchanged',
  },
  delete: {
    verb: 'delete', action: 'delete', allowedVmStates: 'any', taskStates: ['deleting'],
    onSuccess: 'deleted', onFailure: 'error', preempts: true,
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
