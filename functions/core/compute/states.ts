// Nova's spelling of states (nova/compute/vm_states.py, task_states.py, power_state.py).
// Task states marked NEW are the blueprint's point: Nova ran these operations with no task_state.

export const VM_STATES = [
  'active', 'building', 'paused', 'suspended', 'stopped', 'rescued', 'resized',
  'soft_deleted', 'deleted', 'error', 'shelved', 'shelved_offloaded',
] as const;
export type VmState = (typeof VM_STATES)[number];

export const TASK_STATES = [
  'scheduling', 'spawning',
  'rebuilding',
  'resize_prep', 'resize_migrating', 'resize_finish', 'resize_confirming', 'resize_reverting',
  'migrating',
  'shelving', 'shelving_offloading', 'unshelving',
  'attaching_volume', 'detaching_volume', // NEW
  'attaching_interface', 'detaching_interface', // NEW
  'rescuing', 'unrescuing',
  'image_snapshot_pending', 'image_snapshot', 'image_backup', 'image_pending_upload', 'image_uploading',
  'updating_password',
  'triggering_crash_dump', // NEW
  'powering-on', 'powering-off',
  'rebooting', 'rebooting_hard',
  'pausing', 'unpausing', 'suspending', 'resuming',
  'deleting',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const PowerState = {
  NOSTATE: 0,
  RUNNING: 1,
  PAUSED: 3,
  SHUTDOWN: 4,
  CRASHED: 6,
  SUSPENDED: 7,
} as const;
export type PowerStateValue = (typeof PowerState)[keyof typeof PowerState];
