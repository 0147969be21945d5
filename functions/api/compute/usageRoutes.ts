import type { RouteDeclaration } from '../routesOnFirstUse.js';

// Usage over a period (os-simple-tenant-usage) and the instance usage audit log
// (os-instance_usage_audit_log): declared here, for the route table the API builds as it loads;
// their handlers (usage.ts) load with the first request to one of them (routesOnFirstUse.ts).

export const usageRoutes: RouteDeclaration[] = [
  {
    method: 'GET', path: '/v2.1/os-simple-tenant-usage', policy: 'os_compute_api:os-simple-tenant-usage:list',
    doc: { summary: 'Usage of every project over a period', success: [200], query: ['start', 'end', 'detailed', 'limit', 'marker'] },
  },
  {
    method: 'GET', path: '/v2.1/os-simple-tenant-usage/{project_id}', policy: 'os_compute_api:os-simple-tenant-usage:show',
    doc: { summary: 'Usage of one project over a period', success: [200], query: ['start', 'end', 'limit', 'marker'] },
  },
  {
    method: 'GET', path: '/v2.1/os-instance_usage_audit_log', policy: 'os_compute_api:os-instance-usage-audit-log:list',
    doc: { summary: 'The instance usage audit of the last period', success: [200] },
  },
  {
    method: 'GET', path: '/v2.1/os-instance_usage_audit_log/{before_timestamp}', policy: 'os_compute_api:os-instance-usage-audit-log:show',
    doc: { summary: 'The instance usage audit of the last period before a time', success: [200] },
  },
];
