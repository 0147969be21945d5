import type { AdmissionDeps } from '../../core/compute/admission.js';
import { deliverExternalEvents, type ExternalEvent } from '../../core/compute/externalEvents.js';
import { json } from '../http.js';
import type { RouteHandler } from '../routesOnFirstUse.js';
import { checkBody } from '../serverSchemas.js';

// POST /os-server-external-events: what Neutron, Cinder or Ironic report about servers
// (functions/core/compute/externalEvents.ts); 200, or 207 when an event failed.

/** The handlers of externalEventRoutes.ts's declarations, loaded on first use. */
export function externalEventHandlers(deps: AdmissionDeps): RouteHandler[] {
  return [{
    method: 'POST', path: '/v2.1/os-server-external-events',
    handler: async (event, ctx) => {
      const body = checkBody<{ events: ExternalEvent[] }>('externalEvents', ctx.apiVersion, event.body);
      const out = await deliverExternalEvents(deps.table, ctx.caller, ctx.requestId, body.events, (deps.now ?? Date.now)());
      return json(out.code, { events: out.events });
    },
  }];
}
