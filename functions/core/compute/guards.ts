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

/**
 * Evacuate only a server whose host's compute service is down (forced down or disabled), and
 * only while it is still on that host. `down` is the service's state as read just before: the
 * claim's one write carries it, so an evacuation is admitted only if, at that instant, the server
 * was on a host seen down (a host that comes back after it was admitted does not stop it: the
 * move completes elsewhere, as Nova's does). Nova checks it after the state checks, with its 400.
 */
export function onDownHost(host: string | undefined, down: boolean): ClaimGuard {
  return {
    // Up, the condition is a contradiction (DynamoDB compares attributes, not two values): the
    // write is refused, and the refusal says why once the state's checks have passed.
    condition: down ? '#host = :evacuatedHost' : '#host = :evacuatedHost AND attribute_not_exists(#host)',
    names: { '#host': 'host' },
    values: { ':evacuatedHost': host ?? '' },
    refusal: (s) => {
      if (!s.host || s.host !== host) return new Conflict(`Instance ${s.id} is not ready`);
      return down ? undefined : new BadRequest(`Compute service of ${host} is still in use.`);
    },
  };
}
