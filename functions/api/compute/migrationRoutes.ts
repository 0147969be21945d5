import type { RouteDeclaration } from '../routesOnFirstUse.js';

// Every migration (os-migrations, administrators') and a server's live migrations in progress:
// declared here, for the route table the API builds as it loads; their handlers (migrations.ts)
// load with the first request to one of them (routesOnFirstUse.ts).

export const migrationRoutes: RouteDeclaration[] = [
  {
    method: 'GET', path: '/v2.1/os-migrations', policy: 'os_compute_api:os-migrations:index',
    doc: {
      summary: 'Every migration (resize, cold and live migration, evacuation), with filters', success: [200],
      query: ['host', 'status', 'instance_uuid', 'migration_type', 'source_compute', 'limit', 'marker', 'changes-since', 'changes-before', 'user_id', 'project_id'],
    },
  },
  {
    method: 'GET', path: '/v2.1/servers/{server_id}/migrations', policy: 'os_compute_api:servers:show',
    doc: { summary: 'A server\'s live migrations in progress (2.23)', success: [200] },
  },
  {
    method: 'GET', path: '/v2.1/servers/{server_id}/migrations/{migration_id}', policy: 'os_compute_api:servers:show',
    doc: { summary: 'One live migration in progress (2.23)', success: [200] },
  },
  {
    method: 'POST', path: '/v2.1/servers/{server_id}/migrations/{migration_id}/action', policy: 'os_compute_api:servers:action', body: { type: 'object', required: ['force_complete'], additionalProperties: false, properties: { force_complete: { type: 'null' } } },
    doc: { summary: 'force_complete a running live migration (2.22)', success: [202] },
  },
  {
    method: 'DELETE', path: '/v2.1/servers/{server_id}/migrations/{migration_id}', policy: 'os_compute_api:servers:action',
    doc: { summary: 'Abort a live migration (2.24; queued or preparing too from 2.65)', success: [202] },
  },
];
