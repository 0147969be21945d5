import { alice, type ApiOnly } from './emulators.js';
import { IMAGE2, type NovaResponse } from './nova.js';
import { seedVolume } from './volumes.js';
import { seedPort } from './networks.js';

// The catalogue matrix's expectations (test/integration/catalogueMatrix.test.ts), written out by
// hand from docs/operations.md and nova/compute/api.py's @check_instance_state decorators: they
// deliberately do not read OperationCatalogue, so a wrong row in the code cannot make its own
// test pass. test/unit/catalogueCompleteness.test.ts fails when a catalogue operation has no row here.

export const VM_STATES = [
  'active', 'building', 'paused', 'suspended', 'stopped', 'rescued',
  'resized', 'soft_deleted', 'deleted', 'error', 'shelved', 'shelved_offloaded',
] as const;
export type Vm = (typeof VM_STATES)[number];

export const TASK_STATES = [
  'scheduling', 'spawning', 'rebuilding', 'resize_prep', 'resize_migrating', 'resize_finish',
  'resize_confirming', 'resize_reverting', 'shelving', 'shelving_offloading', 'unshelving',
  'attaching_volume', 'detaching_volume', 'attaching_interface', 'detaching_interface',
  'powering-on', 'powering-off', 'rebooting', 'rebooting_hard',
  'pausing', 'unpausing', 'suspending', 'resuming', 'deleting',
  'rescuing', 'unrescuing', 'image_snapshot_pending', 'image_snapshot', 'image_backup', 'image_pending_upload',
  'image_uploading', 'updating_password', 'triggering_crash_dump', 'migrating',
] as const;

/**
 * Idle admission, one column per vm_state above (Y admitted, . refused with 409 naming vm_state).
 * The `deleted` column is always 404: a deleted server is gone for the API.
 *                        act bld pau sus stp rsc rsz sdl del err shv sho
 */
export const IDLE_MATRIX: Record<string, string> = {
  rebuild:               'Y   .   .   .   Y   .   .   .   -   Y   .   .',
  resize:                'Y   .   .   .   Y   .   .   .   -   .   .   .',
  confirm_resize:        '.   .   .   .   .   .   Y   .   -   .   .   .',
  revert_resize:         '.   .   .   .   .   .   Y   .   -   .   .   .',
  shelve:                'Y   .   Y   Y   Y   .   .   .   -   .   .   .',
  shelve_offload:        '.   .   .   .   .   .   .   .   -   .   Y   .',
  unshelve:              '.   .   .   .   .   .   .   .   -   .   Y   Y',
  attach_volume:         'Y   .   Y   .   Y   .   Y   Y   -   .   Y   Y',
  detach_volume:         'Y   .   Y   .   Y   .   Y   Y   -   .   Y   Y',
  attach_interface:      'Y   .   Y   .   Y   .   .   .   -   .   .   .',
  detach_interface:      'Y   .   Y   .   Y   .   .   .   -   .   .   .',
  start:                 '.   .   .   .   Y   .   .   .   -   .   .   .',
  stop:                  'Y   .   .   .   .   .   .   .   -   Y   .   .',
  reboot_soft:           'Y   .   .   .   .   .   .   .   -   .   .   .',
  reboot_hard:           'Y   .   Y   Y   Y   .   .   .   -   Y   .   .',
  pause:                 'Y   .   .   .   .   .   .   .   -   .   .   .',
  unpause:               '.   .   Y   .   .   .   .   .   -   .   .   .',
  suspend:               'Y   .   .   .   .   .   .   .   -   .   .   .',
  resume:                '.   .   .   Y   .   .   .   .   -   .   .   .',
  delete:                'Y   Y   Y   Y   Y   Y   Y   Y   -   Y   Y   Y',
  // nova/compute/api.py: rescue [ACTIVE, STOPPED, ERROR]; unrescue [RESCUED]; snapshot and backup
  // [ACTIVE, STOPPED, PAUSED, SUSPENDED]; trigger_crash_dump ALLOW_TRIGGER_CRASH_DUMP; set_admin_password [ACTIVE].
  rescue:                'Y   .   .   .   Y   .   .   .   -   Y   .   .',
  unrescue:              '.   .   .   .   .   Y   .   .   -   .   .   .',
  create_image:          'Y   .   Y   Y   Y   .   .   .   -   .   .   .',
  create_backup:         'Y   .   Y   Y   Y   .   .   .   -   .   .   .',
  trigger_crash_dump:    'Y   .   Y   .   .   Y   Y   .   -   Y   .   .',
  change_password:       'Y   .   .   .   .   .   .   .   -   .   .   .',
  // resize (migrate is a resize without a flavor) [ACTIVE, STOPPED]; live_migrate [ACTIVE, PAUSED];
  // evacuate [ACTIVE, STOPPED, ERROR] (its server's host is down in the matrix: catalogueMatrix.test.ts).
  migrate:               'Y   .   .   .   Y   .   .   .   -   .   .   .',
  live_migrate:          'Y   .   Y   .   .   .   .   .   -   .   .   .',
  evacuate:              'Y   .   .   .   Y   .   .   .   -   Y   .   .',
};

/**
 * The task_states in flight that Nova lets an operation through (its `task_state` argument; the
 * default `[None]` lets nothing through). Written out from nova/compute/api.py:
 * - _hard_reboot: task_state=task_states.ALLOW_REBOOT = [None, REBOOTING, REBOOT_PENDING,
 *   REBOOT_STARTED, RESUMING, REBOOTING_HARD, UNPAUSING, PAUSING, SUSPENDING] (the PENDING and
 *   STARTED ones are compute-side states taskgate does not have);
 * - delete: task_state=None, no check at all; taskgate refuses only a second delete (its claim
 *   is a fencing token: two deletes would take it from each other).
 */
export const BUSY_ADMITS: Record<string, readonly string[]> = {
  reboot_hard: ['rebooting', 'resuming', 'rebooting_hard', 'unpausing', 'pausing', 'suspending'],
  delete: TASK_STATES.filter((t) => t !== 'deleting'),
};

export interface Op {
  /** The action name Nova's 409 text spells (servers.py: 'confirmResize', 'shelveOffload', ...). */
  readonly verb: string;
  /** The task_state an admitted request leaves on the instance. */
  readonly claims: string;
  /** The request, as a Nova client sends it, and the status Nova answers on success. */
  readonly send: (api: ApiOnly, id: string, held: Held) => Promise<NovaResponse>;
  readonly accepted: number;
}

export interface Held { readonly volumeId: string; readonly portId: string }

const action = (body: unknown) => (api: ApiOnly, id: string) => api.nova.action(id, body);

export const OPS: Record<string, Op> = {
  rebuild: { verb: 'rebuild', claims: 'rebuilding', accepted: 202, send: action({ rebuild: { imageRef: IMAGE2 } }) },
  resize: { verb: 'resize', claims: 'resize_prep', accepted: 202, send: action({ resize: { flavorRef: '2' } }) },
  confirm_resize: { verb: 'confirmResize', claims: 'resize_confirming', accepted: 204, send: action({ confirmResize: null }) },
  revert_resize: { verb: 'revertResize', claims: 'resize_reverting', accepted: 202, send: action({ revertResize: null }) },
  shelve: { verb: 'shelve', claims: 'shelving', accepted: 202, send: action({ shelve: null }) },
  shelve_offload: { verb: 'shelveOffload', claims: 'shelving_offloading', accepted: 202, send: action({ shelveOffload: null }) },
  unshelve: { verb: 'unshelve', claims: 'unshelving', accepted: 202, send: action({ unshelve: null }) },
  attach_volume: {
    verb: 'attach_volume', claims: 'attaching_volume', accepted: 200,
    // At 2.20 and later, as operations.md's table (before 2.20 Nova refuses shelved servers' volumes).
    send: async (api, id) => api.nova.atVersion('2.20').post(`/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId: await seedVolume(api.table) } }),
  },
  detach_volume: {
    verb: 'detach_volume', claims: 'detaching_volume', accepted: 202,
    send: (api, id, held) => api.nova.atVersion('2.20').delete(`/servers/${id}/os-volume_attachments/${held.volumeId}`),
  },
  attach_interface: {
    verb: 'attach_interface', claims: 'attaching_interface', accepted: 200,
    // A port is Neutron's: made first, as the server's project's.
    send: async (api, id) => api.nova.post(`/servers/${id}/os-interface`, { interfaceAttachment: { port_id: await seedPort(api.table, alice.projectId) } }),
  },
  detach_interface: {
    verb: 'detach_interface', claims: 'detaching_interface', accepted: 202,
    send: (api, id, held) => api.nova.delete(`/servers/${id}/os-interface/${held.portId}`),
  },
  start: { verb: 'start', claims: 'powering-on', accepted: 202, send: action({ 'os-start': null }) },
  stop: { verb: 'stop', claims: 'powering-off', accepted: 202, send: action({ 'os-stop': null }) },
  reboot_soft: { verb: 'reboot', claims: 'rebooting', accepted: 202, send: action({ reboot: { type: 'SOFT' } }) },
  reboot_hard: { verb: 'reboot', claims: 'rebooting_hard', accepted: 202, send: action({ reboot: { type: 'HARD' } }) },
  pause: { verb: 'pause', claims: 'pausing', accepted: 202, send: action({ pause: null }) },
  unpause: { verb: 'unpause', claims: 'unpausing', accepted: 202, send: action({ unpause: null }) },
  suspend: { verb: 'suspend', claims: 'suspending', accepted: 202, send: action({ suspend: null }) },
  resume: { verb: 'resume', claims: 'resuming', accepted: 202, send: action({ resume: null }) },
  delete: { verb: 'delete', claims: 'deleting', accepted: 204, send: (api, id) => api.nova.delete(`/servers/${id}`) },
  // Nova answers a rescue 200 with the rescue password; a snapshot or backup before 2.45 202 with the image's address.
  rescue: { verb: 'rescue', claims: 'rescuing', accepted: 200, send: action({ rescue: null }) },
  unrescue: { verb: 'unrescue', claims: 'unrescuing', accepted: 202, send: action({ unrescue: null }) },
  create_image: { verb: 'createImage', claims: 'image_snapshot_pending', accepted: 202, send: action({ createImage: { name: 'snap' } }) },
  create_backup: {
    verb: 'createBackup', claims: 'image_backup', accepted: 202,
    send: action({ createBackup: { name: 'backup', backup_type: 'daily', rotation: 1 } }),
  },
  trigger_crash_dump: {
    verb: 'trigger_crash_dump', claims: 'triggering_crash_dump', accepted: 202,
    send: (api, id) => api.nova.atVersion('2.17').action(id, { trigger_crash_dump: null }),
  },
  change_password: { verb: 'changePassword', claims: 'updating_password', accepted: 202, send: action({ changePassword: { adminPass: 'secret' } }) },
  // An administrator's (Nova's policies); the 409 spells the instance action's name.
  migrate: { verb: 'migrate', claims: 'resize_prep', accepted: 202, send: (api, id) => api.nova.as('admin:admin').action(id, { migrate: null }) },
  live_migrate: {
    verb: 'live-migration', claims: 'migrating', accepted: 202,
    send: (api, id) => api.nova.as('admin:admin').atVersion('2.25').action(id, { 'os-migrateLive': { block_migration: 'auto', host: null } }),
  },
  evacuate: {
    verb: 'evacuate', claims: 'rebuilding', accepted: 200,
    send: (api, id) => api.nova.as('admin:admin').atVersion('2.14').action(id, { evacuate: {} }),
  },
};
