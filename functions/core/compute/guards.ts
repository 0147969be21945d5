import type { ClaimGuard } from './claimInstance.js';
import { BadRequest, Conflict } from '../shared/errors.js';
import { invalidStateMessage } from './refusals.js';

// Conditions of a request beyond its operation's catalogue row, each stated once with the refusal
// it stands for. Admission's write checks them with the row (claimInstance.ts), so a refused
// request is still one failed conditional write; the routes only choose which apply.

/** A resize must change the flavor (Nova: 400, checked inside its resize method, after the state checks). */
export function changesFlavor(flavorRef: string): ClaimGuard {
  return {
    condition: '#flavor <> :newFlavor',
    names: { '#flavor': 'flavorId' },
    values: { ':newFlavor': flavorRef },
    refusal: (instance) => instance.flavorId === flavorRef
      ? new BadRequest('When resizing, instances must change flavor!') : undefined,
  };
}

/**
 * Before microversion 2.20 Nova refuses to attach or detach a volume of a shelved (or offloaded)
 * server, with @check_instance_state's 409 for the operation `action`.
 */
export function notShelved(action: string): ClaimGuard {
  return {
    condition: 'NOT #vm IN (:shelved, :offloaded)',
    names: { '#vm': 'vmState' },
    values: { ':shelved': 'shelved', ':offloaded': 'shelved_offloaded' },
    refusal: (s) => (s.vmState === 'shelved' || s.vmState === 'shelved_offloaded'
      ? new Conflict(invalidStateMessage(action, s.id, 'vm_state', s.vmState)) : undefined),
  };
}
