import type { RouteDeclaration } from '../routesOnFirstUse.js';

// A server's instance actions (os-instance-actions): declared here, for the route table the API
// builds as it loads; their handlers (readonly.ts) load with the first request to one of them
// (routesOnFirstUse.ts).

export const instanceActionRoutes: RouteDeclaration[] = [
  {
    method: 'GET', path: '/v2.1/servers/{server_id}/os-instance-actions', policy: 'os_compute_api:os-instance-actions:list',
    doc: { summary: 'List instance actions', success: [200], query: ['limit', 'marker', 'changes-since', 'changes-before'] },
  },
  {
    method: 'GET', path: '/v2.1/servers/{server_id}/os-instance-actions/{request_id}', policy: 'os_compute_api:os-instance-actions:show',
    doc: { summary: 'Show an instance action with its events', success: [200] },
  },
];
