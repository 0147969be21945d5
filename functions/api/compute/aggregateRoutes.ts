import type { RouteDeclaration } from '../routesOnFirstUse.js';

// Host aggregates (os-aggregates; administrators only): declared here, for the route table the API
// builds as it loads; their handlers (aggregates.ts) load with the first request to one of them
// (routesOnFirstUse.ts).

const A = '/v2.1/os-aggregates';

export const aggregateRoutes: RouteDeclaration[] = [
  {
    method: 'GET', path: A, policy: 'os_compute_api:os-aggregates:index',
    doc: { summary: 'List host aggregates (admin)', success: [200] },
  },
  {
    method: 'POST', path: A, policy: 'os_compute_api:os-aggregates:create', body: {},
    doc: { summary: 'Create a host aggregate (admin)', success: [200] },
  },
  {
    method: 'GET', path: `${A}/{aggregate_id}`, policy: 'os_compute_api:os-aggregates:show',
    doc: { summary: 'Show a host aggregate (admin)', success: [200] },
  },
  {
    method: 'PUT', path: `${A}/{aggregate_id}`, policy: 'os_compute_api:os-aggregates:update', body: {},
    doc: { summary: 'Rename a host aggregate or set its zone (admin)', success: [200] },
  },
  {
    method: 'DELETE', path: `${A}/{aggregate_id}`, policy: 'os_compute_api:os-aggregates:delete',
    doc: { summary: 'Delete an empty host aggregate (admin)', success: [200] },
  },
  {
    method: 'POST', path: `${A}/{aggregate_id}/action`, policy: 'os_compute_api:os-aggregates:add_host', body: {},
    doc: { summary: 'Add or remove a host, or set metadata (admin)', success: [200] },
  },
];
