import { serverStatus, vmStatesForStatus } from '../../functions/api/status.js';

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

  it('finds the vm_states behind a status filter', () => {
    expect(vmStatesForStatus('shutoff')).toEqual(['stopped']);
    expect(vmStatesForStatus('ACTIVE')).toEqual(['active']);
  });
});
