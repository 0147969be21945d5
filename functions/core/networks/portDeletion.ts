import { requestOperation, type AdmissionDeps } from '../compute/admission.js';
import { readInstance } from '../compute/readInstance.js';
import type { Caller } from '../compute/instance.js';
import { DomainError } from '../shared/errors.js';
import { portInUse, portNotFound, type Asker } from './model.js';
import { doomPort, readPort, removePort } from './ports.js';

// Neutron's delete of a port. An unbound port goes at once (one conditional write begins its
// removal). A port a server holds is the server's to let go of, under the server's claim like
// every change of its interfaces: Nova's detach is requested (as Nova does on Neutron's
// network-vif-deleted event), and the port is marked so that whoever lets go of it (that detach,
// or the server's deletion) removes it rather than making it available. A server busy with
// another operation refuses the detach: the delete is then Neutron's 409 PortInUse, nothing changed.

export async function deletePortOfNeutron(
  deps: AdmissionDeps, asker: Asker,
  req: { caller: Caller; requestId: string; globalRequestId?: string; portId: string; now: number },
): Promise<void> {
  for (let attempt = 0; attempt < 4; attempt++) {
    const port = await readPort(deps.table, req.portId);
    if (!port || !(asker.isAdmin || port.projectId === asker.projectId)) throw portNotFound(req.portId);
    const instanceId = port.instanceId;
    if (!instanceId) {
      const removed = await removePort(deps.table, port.id, {
        now: req.now, condition: { expression: 'attribute_not_exists(#instance)', names: { '#instance': 'instanceId' }, values: {} },
      });
      if (removed) return;
      continue;
    }
    if (!await leaving(deps, instanceId)) {
      try {
        await requestOperation(deps, {
          instanceId, op: 'detach_interface', caller: req.caller, requestId: req.requestId, globalRequestId: req.globalRequestId,
          params: { portId: port.id },
        });
      } catch (err) {
        if (!(err instanceof DomainError) || err.kind === 'serviceUnavailable') throw err;
        // Refused because a deletion of the server claimed it meanwhile: that deletion lets go of the port.
        if (!await leaving(deps, instanceId)) throw portInUse(port.id, port.networkId, instanceId);
      }
    }
    if (await doomPort(deps.table, port.id, instanceId)) return;
    // Let go of meanwhile (its detach already ran): an unbound port now, removed on the next pass.
  }
  throw portInUse(req.portId, '', '');
}

/** A server being deleted (or gone) lets go of its ports with its deletion: marked, a port goes then. */
async function leaving(deps: AdmissionDeps, instanceId: string): Promise<boolean> {
  const server = await readInstance(deps.table, instanceId);
  return !server || !!server.deleted || server.taskState === 'deleting';
}
