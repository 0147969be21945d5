import { allowsTaskState, operationRow, type OperationName } from './catalogue.js';
import { getServer } from './instanceStore.js';
import type { Caller, Instance } from './instance.js';
import { isUp, readHost } from '../placement/hosts.js';
import { BadRequest, NotFound } from '../shared/errors.js';
import type { Table } from '../shared/table.js';

// What Nova's API checks of a move before it casts it (migrate_server.py, evacuate.py,
// compute/api.py resize's _validate_host_for_cold_migrate): the host asked for exists and is not
// the server's own. Nova runs them after @check_instance_state, so a server its state refuses
// is answered with that 409 (by the claim's write) rather than with these 400s.

export type MoveKind = Extract<OperationName, 'migrate' | 'live_migrate' | 'evacuate'>;

const SAME_HOST: Record<MoveKind, (id: string, host: string) => string> = {
  migrate: () => 'Cannot migrate to the host where the server exists.',
  live_migrate: (id, host) => `Unable to migrate instance (${id}) to current host (${host}).`,
  evacuate: () => 'The target host can\'t be the same one.',
};

/** Whether the claim's state checks would let the operation through (then the host checks answer first). */
const stateAdmits = (op: MoveKind, s: Instance) => {
  const row = operationRow(op);
  return (row.allowedVmStates === 'any' || row.allowedVmStates.includes(s.vmState)) && allowsTaskState(row, s.taskState);
};

/**
 * The server (Nova's 404 first) and, for a host asked for, Nova's refusals: unknown (migrate and
 * live migration 400, evacuate 404) or the server's own (400). Returns the server and whether its
 * host's compute service is down (evacuate's condition, onDownHost).
 */
export async function checkMove(
  table: Table, caller: Caller, instanceId: string, op: MoveKind, host: string | undefined,
): Promise<{ instance: Instance; sourceDown: boolean }> {
  const instance = await getServer(table, caller, instanceId);
  if (host !== undefined) {
    const target = await readHost(table, host);
    if (!target) {
      if (op === 'evacuate') throw new NotFound(`Compute host ${host} not found.`);
      if (stateAdmits(op, instance)) throw new BadRequest(`Compute host ${host} could not be found.`);
    }
    if (host === instance.host && (op === 'evacuate' || stateAdmits(op, instance))) throw new BadRequest(SAME_HOST[op](instance.id, host));
  }
  const source = op === 'evacuate' && instance.host ? await readHost(table, instance.host) : undefined;
  return { instance, sourceDown: !!source && !isUp(source) };
}
