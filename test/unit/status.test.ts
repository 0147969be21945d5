import { serverStatus, statusFilter } from '../../functions/api/status.js';

describe('server status, as Nova derives it', () => {
  it.each([
    ['active', undefined, 'ACTIVE'], ['building', 'scheduling', 'BUILD'], ['active', 'rebuilding', 'REBUILD'],
    ['stopped', 'rebuilding', 'REBUILD'], ['active', 'resize_prep', 'RESIZE'], ['resized', undefined, 'VERIFY_RESIZE'],
    ['resized', 'resize_reverting', 'REVERT_RESIZE'], ['stopped', undefined, 'SHUTOFF'], ['paused', undefined, 'PAUSED'],
    ['suspended', undefined, 'SUSPENDED'], ['shelved', undefined, 'SHELVED'], ['shelved_offloaded', undefined, 'SHELVED_OFFLOADED'],
    ['active', 'rebooting', 'REBOOT'], ['active', 'rebooting_hard', 'HARD_REBOOT'], ['error', undefined, 'ERROR'],
    ['deleted', undefined, 'DELETED'], ['active', 'attaching_volume', 'ACTIVE'], ['active', 'deleting', 'ACTIVE'],
  ] as const)('%s + %s is %s', (vm, ts, status) => {
    expect(serverStatus(vm, ts)).toBe(status);
  });
});

describe('the status filter, as Nova applies it', () => {
  it('matches a vm_state default whatever the task_state, and a task status only with its task_state', () => {
    const active = statusFilter(['ACTIVE']);
    expect(active('active', undefined)).toBe(true);
    expect(active('active', 'rebooting')).toBe(true);
    expect(active('stopped', undefined)).toBe(false);
    const rebuild = statusFilter(['rebuild']);
    expect(rebuild('active', 'rebuilding')).toBe(true);
    expect(rebuild('stopped', 'rebuilding')).toBe(true);
    expect(rebuild('active', undefined)).toBe(false);
    const either = statusFilter(['SHUTOFF', 'PAUSED']);
    expect([either('stopped', undefined), either('paused', undefined), either('active', undefined)]).toEqual([true, true, false]);
    expect(statusFilter(['NOSUCH'])('active', undefined)).toBe(false);
  });
});
