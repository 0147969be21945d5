import type { RouteDeclaration } from '../routesOnFirstUse.js';
import { MAX_VERSION } from '../apiVersion.js';
import { requestSchemas } from '../serverSchemas.js';

// The events Neutron, Cinder or Ironic report about servers (os-server-external-events): declared
// here, for the route table the API builds as it loads; their handlers (externalEvents.ts) load
// with the first request to one of them (routesOnFirstUse.ts).

export const externalEventRoutes: RouteDeclaration[] = [
  {
    method: 'POST', path: '/v2.1/os-server-external-events', policy: 'os_compute_api:os-server-external-events:create', body: requestSchemas.externalEvents(MAX_VERSION),
    doc: { summary: 'Report external events on servers', success: [200, 207] },
  },
];
