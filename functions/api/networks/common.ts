import { Forbidden } from '../../core/shared/errors.js';
import { allows, refusal, type PolicyName } from '../../core/shared/policy.js';
import type { Asker } from '../../core/networks/model.js';
import type { AdmissionDeps } from '../../core/compute/admission.js';
import type { ApiContext } from '../http.js';

// What every Neutron route needs: who asks, as Neutron's policies see it, and Neutron's refusal
// of a rule the caller's roles do not pass (neutron/conf/policies/*.py; the route's own rule is
// checked before the route runs, functions/api/middleware/routePolicy.ts).

export const V2 = '/network/v2.0';

export const askerOf = (ctx: ApiContext): Asker => ({ projectId: ctx.caller.projectId, isAdmin: ctx.caller.isAdmin });

export function neutronAuthorize(ctx: ApiContext, policy: PolicyName): void {
  if (!allows(ctx.caller, policy)) throw new Forbidden(refusal(policy), { type: 'PolicyNotAuthorized' });
}

/** A sub-rule that also passes for the network's owner (Neutron's NET_OWNER_MEMBER). */
export function ownerOrAuthorize(ctx: ApiContext, policy: PolicyName, networkProjectId: string): void {
  if (ctx.caller.projectId === networkProjectId && allows(ctx.caller, 'create_port')) return;
  neutronAuthorize(ctx, policy);
}

export const nowOf = (deps: Pick<AdmissionDeps, 'now'>) => (deps.now ?? Date.now)();
