import type { RouteDeclaration } from '../routesOnFirstUse.js';

// Server groups (os-server-groups): declared here, for the route table the API builds as it loads;
// their handlers (serverGroups.ts) load with the first request to one of them
// (routesOnFirstUse.ts).

const GROUPS = '/v2.1/os-server-groups';

export const serverGroupRoutes: RouteDeclaration[] = [
  {
    method: 'POST', path: GROUPS, policy: 'os_compute_api:os-server-groups:create', body: {},
    doc: { summary: 'Create a server group', success: [200] },
  },
  {
    method: 'GET', path: GROUPS, policy: 'os_compute_api:os-server-groups:index',
    doc: { summary: 'List server groups (all_projects: an administrator\'s, everyone\'s)', success: [200], query: ['all_projects', 'limit', 'offset'] },
  },
  {
    method: 'GET', path: `${GROUPS}/{group_id}`, policy: 'os_compute_api:os-server-groups:show',
    doc: { summary: 'Show a server group', success: [200] },
  },
  {
    method: 'DELETE', path: `${GROUPS}/{group_id}`, policy: 'os_compute_api:os-server-groups:delete',
    doc: { summary: 'Delete a server group', success: [204] },
  },
];
