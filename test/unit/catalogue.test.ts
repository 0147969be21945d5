import { OperationCatalogue, resolveVmOutcome, type OperationName } from '../../functions/core/compute/catalogue.js';
import { TASK_STATES, VM_STATES } from '../../functions/core/compute/states.js';

describe('the operation catalogue', () => {
  it('speaks only Nova states', () => {
    for (const [op, row] of Object.entries(OperationCatalogue)) {
      for (const ts of row.taskStates) expect([op, TASK_STATES.includes(ts)]).toEqual([op, true]);
      if (row.allowedVmStates !== 'any') {
        for (const vm of row.allowedVmStates) expect([op, VM_STATES.includes(vm)]).toEqual([op, true]);
      }
    }
  });

  it('gives every guarded operation its own first task_state, so a 409 names what runs, but where Nova shares one', () => {
    const first = new Map<string, OperationName[]>();
    for (const [op, row] of Object.entries(OperationCatalogue) as [OperationName, { taskStates: readonly string[] }][]) {
      first.set(row.taskStates[0]!, [...(first.get(row.taskStates[0]!) ?? []), op]);
    }
    const shared = [...first].filter(([, ops]) => ops.length > 1);
    // Nova's evacuate sets task_states.REBUILDING, as rebuild does, and a cold migration is its
    // resize without a new flavor, through RESIZE_PREP (compute/api.py), so their 409s name the
    // same states as Nova's; none of them takes a claim over, so none is confused with another.
    expect(shared).toEqual([['rebuilding', ['rebuild', 'evacuate']], ['resize_prep', ['resize', 'migrate']]]);
  });

  // The rows of the walking skeleton, written out from docs/operations.md.
  it.each([
    ['rebuild', ['active', 'stopped', 'error'], 'rebuilding'],
    ['attach_volume', ['active', 'paused', 'stopped', 'resized', 'soft_deleted', 'shelved', 'shelved_offloaded'], 'attaching_volume'],
    ['detach_volume', ['active', 'paused', 'stopped', 'resized', 'soft_deleted', 'shelved', 'shelved_offloaded'], 'detaching_volume'],
    // nova/compute/api.py's @check_instance_state for each, and the task_state its API sets.
    ['rescue', ['active', 'stopped', 'error'], 'rescuing'],
    ['unrescue', ['rescued'], 'unrescuing'],
    ['create_image', ['active', 'stopped', 'paused', 'suspended'], 'image_snapshot_pending'],
    ['create_backup', ['active', 'stopped', 'paused', 'suspended'], 'image_backup'],
    ['trigger_crash_dump', ['active', 'paused', 'rescued', 'resized', 'error'], 'triggering_crash_dump'],
    ['change_password', ['active'], 'updating_password'],
  ] as const)('%s is allowed from %j and runs as %s', (op, allowed, taskState) => {
    const row = OperationCatalogue[op];
    expect([...row.allowedVmStates as readonly string[]].sort()).toEqual([...allowed].sort());
    expect(row.taskStates[0]).toBe(taskState);
  });

  // Nova's snapshot and backup have no @check_instance_lock ("lock is intended to prevent
  // accidental change/delete of instances"); every other operation has it.
  it('lets only createImage, createBackup and evacuate through a lock (Nova\'s, without @check_instance_lock)', () => {
    const ignoring = Object.entries(OperationCatalogue).filter(([, row]) => (row as { ignoresLock?: true }).ignoresLock).map(([op]) => op);
    expect(ignoring.sort()).toEqual(['create_backup', 'create_image', 'evacuate']);
  });

  it('snapshots through Nova\'s image task_states, in order', () => {
    expect(OperationCatalogue.create_image.taskStates).toEqual(['image_snapshot_pending', 'image_snapshot', 'image_pending_upload', 'image_uploading']);
    expect(OperationCatalogue.create_backup.taskStates).toEqual(['image_backup', 'image_pending_upload', 'image_uploading']);
  });

  it('creates through scheduling then spawning', () => {
    expect(OperationCatalogue.create.taskStates).toEqual(['scheduling', 'spawning']);
  });
});

describe('resolveVmOutcome', () => {
  it('keeps the admitted state for unchanged', () => {
    expect(resolveVmOutcome('unchanged', 'paused', undefined)).toBe('paused');
  });
  it('maps by admitted state, unchanged where the map is silent (rebuild: error becomes active)', () => {
    expect(resolveVmOutcome({ error: 'active' }, 'error', undefined)).toBe('active');
    expect(resolveVmOutcome({ error: 'active' }, 'stopped', undefined)).toBe('stopped');
  });
  it('returns to the pre-resize state', () => {
    expect(resolveVmOutcome('pre_resize', 'resized', 'stopped')).toBe('stopped');
  });
  it('takes a fixed state as it is', () => {
    expect(resolveVmOutcome('error', 'active', undefined)).toBe('error');
  });
});
