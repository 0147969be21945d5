import type { AdmissionDeps } from '../../core/compute/admission.js';
import { deliverExternalEvents, type ExternalEvent } from '../../core/compute/externalEvents.js';
import { json, type ApiRoute } from '../http.js';
import { checkBody, requestSchemas } from '../serverSchemas.js';
import { MAX_VERSION } from '../apiVersion.js';

// POST /os-server-external-events: what Neutron, Cinder or Ironic report about servers
// (functions/core/compute/externalEvents.ts); 200, or 207 when an event failed.

export function externalEventRoutes(deps: AdmissionDeps): ApiRoute[] {
  return [{
    method: 'POST', path: '/v2.1/os-server-external-events', policy: 'os_compute_api:os-server-external-events:create',
    body: requestSchemas.externalEvents(MAX_VERSION),
    doc: { summary: 'Report external events on servers', success: [200, 207] },
    handler: async (event, ctx) => {
      const body = checkBody<{ events: ExternalEvent[] }>('externalEvents', ctx.apiVersion, event.body);
      const out = await deliverExternalEvents(deps.table, ctx.caller, ctx.requestId, body.events, (deps.now ?? Date.now)());
      return json(out.code, { events: out.events });
    },
  }];
}
