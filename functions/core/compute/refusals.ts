import { allowsTaskState, operationRow, preempts, type OperationName } from './catalogue.js';
import type { ClaimRequest } from './claimInstance.js';
import { Conflict, NotFound, type DomainError } from '../shared/errors.js';
import { isVisibleTo, type Caller, type Instance } from './instance.js';

// Why an admission is refused, in Nova's words and in Nova's order. Admission's write states the
// same rules as its condition (claimInstance.ts); these explain a failed write from the old item.

/**
 * The refusal of an operation that is already running (a second delete while deleting): Nova
 * accepts it again (204) but taskgate takes no second claim.
 */
export class AlreadyInProgress extends Conflict {}

/** Nova's 409 text for an operation refused by state (nova/exception.py InstanceInvalidState). */
export function invalidStateMessage(action: string, instanceId: string, attr: 'task_state' | 'vm_state', value: string) {
  return `Cannot '${action}' instance ${instanceId} while it is in ${attr} ${value}`;
}

/**
 * Why `op` may not claim `instance` now, or undefined if it may. The order is Nova's: existence
 * and ownership, then the lock (@check_instance_lock wraps @check_instance_state), then
 * vm_state, then task_state (check_instance_state tests them in that order). The same catalogue
 * row builds the claim's condition in claimInstance.
 */
export function refusalFor(
  op: OperationName, instanceId: string, caller: Caller, instance: Instance | undefined,
): DomainError | undefined {
  if (!isVisibleTo(instance, caller)) return new NotFound(`Instance ${instanceId} could not be found.`);
  const row = operationRow(op);
  if (instance.locked && !caller.isAdmin && !row.ignoresLock) return new Conflict(`Instance ${instanceId} is locked`);
  if (row.allowedVmStates !== 'any' && !row.allowedVmStates.includes(instance.vmState)) {
    return new Conflict(invalidStateMessage(row.action, instanceId, 'vm_state', instance.vmState));
  }
  if (!allowsTaskState(row, instance.taskState)) {
    // A second delete of a server being deleted: Nova's delete has no task_state check and
    // answers 204 again; taskgate takes no second claim (the route answers 204 for this).
    if (preempts(row) && instance.taskState === row.taskStates[0]) {
      return new AlreadyInProgress(invalidStateMessage(row.action, instanceId, 'task_state', instance.taskState));
    }
    return new Conflict(invalidStateMessage(row.action, instanceId, 'task_state', String(instance.taskState ?? 'None')));
  }
  return undefined;
}

/** The refusal for a failed claim, each guard's in Nova's place among the state checks. */
export function claimRefusal(req: ClaimRequest, current: Instance | undefined): DomainError | undefined {
  const guards = req.guards ?? [];
  if (isVisibleTo(current, req.caller)) {
    for (const guard of guards) {
      const early = guard.beforeState && guard.refusal(current);
      if (early) return early;
    }
  }
  const byState = refusalFor(req.op, req.instanceId, req.caller, current);
  if (byState || !current) return byState;
  for (const guard of guards) {
    const late = guard.refusal(current);
    if (late) return late;
  }
  return undefined;
}
