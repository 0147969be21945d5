import { finishAction } from './actions.js';
import { operationRow, resolveVmOutcome, type OperationName } from './catalogue.js';
import { releaseClaim } from './claims.js';
import type { Instance, InstancePatch } from './instance.js';
import { undoReservation } from './reservations.js';
import type { Table } from './table.js';

export type Result =
  | { readonly ok: true; readonly patch: InstancePatch }
  | { readonly ok: false; readonly message: string; readonly code?: number };

export const eventName = (op: OperationName) => `compute_${op}`;

/**
 * Ends an operation: its outcome from the catalogue, in ONE fenced release, then its one
 * terminal action record. Used by the worker, the sweeper and the dead-letter handler alike.
 * Returns false when the claim had moved on: then this request changed nothing on the instance,
 * and whatever it had reserved is given back.
 */
export async function settleOperation(
  table: Table,
  s: {
    instance: Instance; token: number; op: OperationName; requestId: string; result: Result; now: number;
    onlyIfLeaseBefore?: number;
  },
): Promise<boolean> {
  const row = operationRow(s.op);
  const { instance, result } = s;
  const vmState = resolveVmOutcome(result.ok ? row.onSuccess : row.onFailure, instance.vmState, instance.preResizeVmState);
  if (!result.ok) await undoReservation(table, instance.id, instance.claim);
  const released = await releaseClaim(table, {
    instanceId: instance.id, token: s.token, vmState, now: s.now,
    patch: result.ok ? result.patch : undefined,
    fault: result.ok ? undefined : { code: result.code ?? 500, message: result.message, created: new Date(s.now).toISOString() },
    outcome: { requestId: s.requestId, result: result.ok ? 'Success' : 'Error', ...(result.ok ? {} : { message: result.message }) },
    onlyIfLeaseBefore: s.onlyIfLeaseBefore,
  });
  if (!released) {
    await undoReservation(table, instance.id, instance.claim);
    await finishSuperseded(table, instance.id, s.requestId, s.op, s.now, undefined);
    return false;
  }
  await finishAction(table, {
    instanceId: instance.id, requestId: s.requestId, event: eventName(s.op),
    result: result.ok ? 'Success' : 'Error', traceback: result.ok ? undefined : result.message, now: s.now,
  });
  return true;
}

/**
 * The action of a request whose claim is gone. If the instance records that this very request
 * released it (we crashed between release and the action record), that is its outcome;
 * otherwise it was superseded (delete, reset-state, lease expiry) and ends in Error.
 */
export async function finishSuperseded(
  table: Table, instanceId: string, requestId: string, op: OperationName, now: number, current: Instance | undefined,
): Promise<void> {
  const own = current?.lastOutcome?.requestId === requestId ? current.lastOutcome : undefined;
  await finishAction(table, {
    instanceId, requestId, event: eventName(op), now,
    result: own?.result ?? 'Error',
    traceback: own ? own.message : 'Superseded: the claim on the instance was taken over before this operation finished',
  });
}
