import type { TaskState, VmState } from '../core/compute/states.js';

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

/**
 * Nova's `?status=` filter (common.task_and_vm_state_from_status): the vm_states and task_states
 * that map to any of the statuses; the task_state counts only when no status is a vm_state's
 * default (so status=ACTIVE also lists an active server that is rebooting, as in Nova).
 */
export function statusFilter(statuses: readonly string[]): (vm: VmState, ts: TaskState | undefined) => boolean {
  const wanted = new Set(statuses.map((s) => s.trim().toUpperCase()));
  const vms = new Set<VmState>();
  const tasks = new Set<string>();
  for (const vm of Object.keys(STATUS) as VmState[]) {
    for (const [task, mapped] of Object.entries(STATUS[vm])) {
      if (wanted.has(mapped)) { vms.add(vm); tasks.add(task); }
    }
  }
  const anyTask = tasks.has('default');
  return (vm, ts) => vms.has(vm) && (anyTask || (ts !== undefined && tasks.has(ts)));
}
