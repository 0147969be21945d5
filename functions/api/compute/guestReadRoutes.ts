import type { RouteDeclaration } from '../routesOnFirstUse.js';

// What the hypervisor and the guest say of a server (diagnostics, os-server-password): declared
// here, for the route table the API builds as it loads; their handlers (guestReads.ts) load with
// the first request to one of them (routesOnFirstUse.ts).

export const guestReadRoutes: RouteDeclaration[] = [
  {
    method: 'GET', path: '/v2.1/servers/{server_id}/diagnostics', policy: 'os_compute_api:servers:show',
    doc: { summary: 'Show server diagnostics (Nova\'s standard format from 2.48)', success: [200] },
  },
  {
    method: 'GET', path: '/v2.1/servers/{server_id}/os-server-password', policy: 'os_compute_api:os-server-password:show',
    doc: { summary: 'Show the password the guest posted (always empty: no metadata service)', success: [200] },
  },
  {
    method: 'DELETE', path: '/v2.1/servers/{server_id}/os-server-password', policy: 'os_compute_api:os-server-password:clear',
    doc: { summary: 'Clear the password the guest posted', success: [204] },
  },
];
