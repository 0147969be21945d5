import { IMAGE2 } from '../support/nova.js';

// What the chaos run's clients ask for: every catalogue operation is a kind of request, with its
// weight in the random workload and, for a server action, its body (the harness builds the other
// requests itself: create, delete, resize's flavor, the attachments' volume or port).
// test/unit/catalogueCompleteness.test.ts fails when a catalogue operation is missing here.

export type Kind =
  | 'create' | 'delete' | 'rebuild' | 'resize' | 'confirm_resize' | 'revert_resize' | 'shelve' | 'shelve_offload'
  | 'unshelve' | 'start' | 'stop' | 'reboot_soft' | 'reboot_hard' | 'pause' | 'unpause' | 'suspend' | 'resume'
  | 'attach_volume' | 'detach_volume' | 'attach_interface' | 'detach_interface'
  | 'rescue' | 'unrescue' | 'create_image' | 'create_backup' | 'trigger_crash_dump' | 'change_password'
  | 'migrate' | 'live_migrate' | 'evacuate';

export const WEIGHTS: Record<Kind, number> = {
  create: 3, delete: 2, rebuild: 3, resize: 3, confirm_resize: 3, revert_resize: 2, shelve: 2, shelve_offload: 2,
  unshelve: 3, start: 3, stop: 3, reboot_soft: 2, reboot_hard: 2, pause: 2, unpause: 2, suspend: 2, resume: 2,
  attach_volume: 6, detach_volume: 5, attach_interface: 5, detach_interface: 4,
  rescue: 2, unrescue: 2, create_image: 2, create_backup: 1, trigger_crash_dump: 1, change_password: 1,
  migrate: 1, live_migrate: 1, evacuate: 1,
};

export const ACTION_BODIES: Partial<Record<Kind, unknown>> = {
  rebuild: { rebuild: { imageRef: IMAGE2 } }, confirm_resize: { confirmResize: null }, revert_resize: { revertResize: null },
  shelve: { shelve: null }, shelve_offload: { shelveOffload: null }, unshelve: { unshelve: null },
  start: { 'os-start': null }, stop: { 'os-stop': null }, reboot_soft: { reboot: { type: 'SOFT' } },
  reboot_hard: { reboot: { type: 'HARD' } }, pause: { pause: null }, unpause: { unpause: null },
  suspend: { suspend: null }, resume: { resume: null },
  rescue: { rescue: null }, unrescue: { unrescue: null }, create_image: { createImage: { name: 'chaos-snapshot' } },
  create_backup: { createBackup: { name: 'chaos-backup', backup_type: 'daily', rotation: 1 } },
  // At the client's 2.1 Nova answers 404 (trigger_crash_dump is 2.17's): the run still sends it.
  trigger_crash_dump: { trigger_crash_dump: null }, change_password: { changePassword: { adminPass: 'chaos' } },
  // Administrators' (ADMIN_KINDS: the harness sends them as the project's administrator); evacuate
  // is refused while the server's host is up (Nova's 400), which the run's hosts always are.
  migrate: { migrate: null }, live_migrate: { 'os-migrateLive': { block_migration: false, disk_over_commit: false, host: null } },
  evacuate: { evacuate: { onSharedStorage: false } },
};

/** The kinds only an administrator may send (Nova's default policy): sent with an admin token. */
export const ADMIN_KINDS: ReadonlySet<Kind> = new Set<Kind>(['migrate', 'live_migrate', 'evacuate']);

/** The kinds the harness sends on routes of their own rather than as a server action with a body above. */
export const OWN_ROUTE_KINDS: readonly Kind[] = [
  'create', 'delete', 'resize', 'attach_volume', 'detach_volume', 'attach_interface', 'detach_interface',
];
