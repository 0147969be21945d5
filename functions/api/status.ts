import type { TaskState, VmState } from '../core/states.js';

// Nova's server status, derived from vm_state and task_state (nova/api/openstack/common.py).

type StateMap = { readonly default: string } & Partial<Record<TaskState, string>>;

const RESIZING: Partial<Record<TaskState, string>> = {
  resize_prep: 'RESIZE', resize_migrating: 'RESIZE', resize_finish: 'RESIZE',
};

const STATUS: Record<VmState, StateMap> = {
  active: {
    default: 'ACTIVE', rebooting: 'REBOOT', rebooting_hard: 'HARD_REBOOT', rebuilding: 'REBUILD', ...RESIZING,
  },
  building: { default: 'BUILD' },
  stopped: { default: 'SHUTOFF', rebuilding: 'REBUILD', ...RESIZING },
  resized: { default: 'VERIFY_RESIZE', resize_reverting: 'REVERT_RESIZE' },
  paused: { default: 'PAUSED' },
  suspended: { default: 'SUSPENDED' },
  rescued: { default: 'RESCUE' },
  error: { default: 'ERROR', rebuilding: 'REBUILD' },
  deleted: { default: 'DELETED' },
  soft_deleted: { default: 'SOFT_DELETED' },
  shelved: { default: 'SHELVED' },
  shelved_offloaded: { default: 'SHELVED_OFFLOADED' },
};

export function serverStatus(vmState: VmState, taskState: TaskState | undefined): string {
  const map = STATUS[vmState];
  return (taskState && map[taskState]) || map.default;
}

/** The vm_states behind a status filter, for `GET /servers?status=...`. */
export function vmStatesForStatus(status: string): VmState[] {
  const wanted = status.toUpperCase();
  return (Object.keys(STATUS) as VmState[]).filter((vm) =>
    Object.values(STATUS[vm]).includes(wanted));
}
