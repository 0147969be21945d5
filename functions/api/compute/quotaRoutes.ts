import type { RouteDeclaration } from '../routesOnFirstUse.js';

// Quotas (os-quota-sets, os-quota-class-sets) and the project's limits: declared here, for the
// route table the API builds as it loads; their handlers (quotas.ts) load with the first request to
// one of them (routesOnFirstUse.ts).

const SETS = '/v2.1/os-quota-sets/{quota_project_id}';

export const quotaRoutes: RouteDeclaration[] = [
  {
    method: 'GET', path: SETS, policy: 'os_compute_api:os-quota-sets:show',
    doc: { summary: 'Show a project\'s quotas', success: [200] },
  },
  {
    method: 'GET', path: `${SETS}/detail`, policy: 'os_compute_api:os-quota-sets:detail',
    doc: { summary: 'Show a project\'s quotas with usage', success: [200] },
  },
  {
    method: 'GET', path: `${SETS}/defaults`, policy: 'os_compute_api:os-quota-sets:defaults',
    doc: { summary: 'Show the default quotas', success: [200] },
  },
  {
    method: 'PUT', path: SETS, policy: 'os_compute_api:os-quota-sets:update', body: {},
    doc: { summary: 'Update a project\'s quotas (admin)', success: [200] },
  },
  {
    method: 'DELETE', path: SETS, policy: 'os_compute_api:os-quota-sets:delete',
    doc: { summary: 'Revert a project\'s quotas to the defaults (admin)', success: [202] },
  },
  {
    method: 'GET', path: '/v2.1/os-quota-class-sets/{quota_project_id}', policy: 'os_compute_api:os-quota-class-sets:show',
    doc: { summary: 'Show a quota class (admin)', success: [200] },
  },
  {
    method: 'PUT', path: '/v2.1/os-quota-class-sets/{quota_project_id}', policy: 'os_compute_api:os-quota-class-sets:update', body: {},
    doc: { summary: 'Update a quota class (admin; `default` is every project\'s)', success: [200] },
  },
  {
    method: 'GET', path: '/v2.1/limits', policy: 'os_compute_api:limits',
    doc: { summary: 'Show the project\'s absolute limits and usage', success: [200], query: ['tenant_id'] },
  },
];
