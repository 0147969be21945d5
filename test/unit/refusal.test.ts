import { invalidStateMessage, refusalFor } from '../../functions/core/compute/refusals.js';
import { Conflict, NotFound } from '../../functions/core/shared/errors.js';
import type { Instance } from '../../functions/core/compute/instance.js';

const alice = { userId: 'alice', projectId: 'demo', roles: ['member', 'reader'], isAdmin: false };
const admin = { userId: 'admin', projectId: 'admin', roles: ['admin', 'member', 'reader'], isAdmin: true };
const base: Instance = {
  id: 'i-1', projectId: 'demo', userId: 'alice', name: 'x', vmState: 'active', powerState: 1,
  flavorId: '1', imageId: 'img', locked: false, version: 3, created: '', updated: '',
};

describe('refusalFor: why a claim was refused, in Nova\'s order', () => {
  it('admits an idle instance in an allowed state', () => {
    expect(refusalFor('rebuild', 'i-1', alice, base)).toBeUndefined();
  });

  it('hides missing, deleted and other projects\' instances behind 404', () => {
    expect(refusalFor('rebuild', 'i-1', alice, undefined)).toBeInstanceOf(NotFound);
    expect(refusalFor('rebuild', 'i-1', alice, { ...base, deleted: true })).toBeInstanceOf(NotFound);
    expect(refusalFor('rebuild', 'i-1', alice, { ...base, projectId: 'other' })).toBeInstanceOf(NotFound);
    expect(refusalFor('rebuild', 'i-1', admin, { ...base, projectId: 'other' })).toBeUndefined();
  });

  it('reports the lock before any state, except to an admin', () => {
    const locked = { ...base, locked: true, taskState: 'rebuilding' as const };
    expect(refusalFor('stop', 'i-1', alice, locked)?.message).toBe('Instance i-1 is locked');
    expect(refusalFor('stop', 'i-1', admin, locked)?.message).toBe(invalidStateMessage('stop', 'i-1', 'task_state', 'rebuilding'));
  });

  it('names the vm_state before the task_state, as check_instance_state tests them', () => {
    const err = refusalFor('rebuild', 'i-1', alice, { ...base, vmState: 'paused', taskState: 'detaching_volume' });
    expect(err).toBeInstanceOf(Conflict);
    expect(err?.message).toBe("Cannot 'rebuild' instance i-1 while it is in vm_state paused");
    expect(refusalFor('rebuild', 'i-1', alice, { ...base, taskState: 'detaching_volume' })?.message)
      .toBe("Cannot 'rebuild' instance i-1 while it is in task_state detaching_volume");
  });

  it('lets a hard reboot through while a soft reboot is in flight, as Nova does, but not a soft one', () => {
    expect(refusalFor('reboot_hard', 'i-1', alice, { ...base, taskState: 'rebooting' })).toBeUndefined();
    expect(refusalFor('reboot_soft', 'i-1', alice, { ...base, taskState: 'rebooting' })?.message)
      .toBe("Cannot 'reboot' instance i-1 while it is in task_state rebooting");
    expect(refusalFor('reboot_hard', 'i-1', alice, { ...base, taskState: 'rebuilding' })?.message)
      .toBe("Cannot 'reboot' instance i-1 while it is in task_state rebuilding");
  });

  it('names the vm_state when idle in a state the operation does not allow', () => {
    expect(refusalFor('rebuild', 'i-1', alice, { ...base, vmState: 'paused' })?.message)
      .toBe("Cannot 'rebuild' instance i-1 while it is in vm_state paused");
  });

  it('lets delete take over any task_state but its own', () => {
    expect(refusalFor('delete', 'i-1', alice, { ...base, taskState: 'rebuilding' })).toBeUndefined();
    expect(refusalFor('delete', 'i-1', alice, { ...base, taskState: 'deleting' })?.message)
      .toBe("Cannot 'delete' instance i-1 while it is in task_state deleting");
  });
});
