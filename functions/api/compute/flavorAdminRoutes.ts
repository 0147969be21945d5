import type { RouteDeclaration } from '../routesOnFirstUse.js';

// Flavors' admin APIs (os-extra_specs, os-flavor-access, and the access actions): declared here,
// for the route table the API builds as it loads; their handlers (flavorAdmin.ts) load with the
// first request to one of them (routesOnFirstUse.ts).

const SPECS = '/v2.1/flavors/{flavor_id}/os-extra_specs';

export const flavorAdminRoutes: RouteDeclaration[] = [
  {
    method: 'GET', path: SPECS, policy: 'os_compute_api:os-flavor-extra-specs:index',
    doc: { summary: 'List a flavor\'s extra specs', success: [200] },
  },
  {
    method: 'POST', path: SPECS, policy: 'os_compute_api:os-flavor-extra-specs:create', body: {},
    doc: { summary: 'Create or update extra specs (admin; merges)', success: [200] },
  },
  {
    method: 'GET', path: `${SPECS}/{key}`, policy: 'os_compute_api:os-flavor-extra-specs:show',
    doc: { summary: 'Show one extra spec', success: [200] },
  },
  {
    method: 'PUT', path: `${SPECS}/{key}`, policy: 'os_compute_api:os-flavor-extra-specs:update', body: {},
    doc: { summary: 'Update one extra spec (admin; the body names the key of the path)', success: [200] },
  },
  {
    method: 'DELETE', path: `${SPECS}/{key}`, policy: 'os_compute_api:os-flavor-extra-specs:delete',
    doc: { summary: 'Delete one extra spec (admin)', success: [200] },
  },
  {
    method: 'GET', path: '/v2.1/flavors/{flavor_id}/os-flavor-access', policy: 'os_compute_api:os-flavor-access',
    doc: { summary: 'List the projects a private flavor is shared with (admin)', success: [200] },
  },
  {
    method: 'POST', path: '/v2.1/flavors/{flavor_id}/action', policy: 'os_compute_api:flavors', body: {},
    doc: { summary: 'Flavor actions: addTenantAccess, removeTenantAccess (admin)', success: [200] },
  },
];
