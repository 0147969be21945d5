import type { RouteDeclaration } from '../routesOnFirstUse.js';

// Nova's admin views of the hosts (os-hypervisors, os-services, os-hosts; administrators only):
// declared here, for the route table the API builds as it loads; their handlers
// (hypervisors.ts) load with the first request to one of them (routesOnFirstUse.ts).

const H = '/v2.1/os-hypervisors';
const S = '/v2.1/os-services';

/** Before 2.53, PUT /os-services/<kind> with host and binary. */
export const SERVICE_ACTIONS = ['enable', 'disable', 'disable-log-reason', 'force-down'] as const;

export const hypervisorRoutes: RouteDeclaration[] = [
  {
    method: 'GET', path: H, policy: 'os_compute_api:os-hypervisors:list',
    doc: { summary: 'List hypervisors (admin)', success: [200], query: ['hypervisor_hostname_pattern', 'with_servers'] },
  },
  {
    method: 'GET', path: `${H}/detail`, policy: 'os_compute_api:os-hypervisors:list-detail',
    doc: { summary: 'List hypervisors with their resources (admin)', success: [200], query: ['hypervisor_hostname_pattern', 'with_servers'] },
  },
  {
    method: 'GET', path: `${H}/statistics`, policy: 'os_compute_api:os-hypervisors:statistics',
    doc: { summary: 'Hypervisors\' totals (admin; before 2.88)', success: [200] },
  },
  {
    method: 'GET', path: `${H}/{hypervisor_id}`, policy: 'os_compute_api:os-hypervisors:show',
    doc: { summary: 'Show a hypervisor (admin)', success: [200], query: ['with_servers'] },
  },
  {
    method: 'GET', path: `${H}/{hypervisor_id}/uptime`, policy: 'os_compute_api:os-hypervisors:uptime',
    doc: { summary: 'A hypervisor\'s uptime (admin; before 2.88, in the detail from it)', success: [200] },
  },
  {
    method: 'GET', path: `${H}/{hypervisor_id}/servers`, policy: 'os_compute_api:os-hypervisors:servers',
    doc: { summary: 'Hypervisors matching a hostname, with their servers (admin; before 2.53)', success: [200] },
  },
  {
    method: 'GET', path: `${H}/{hypervisor_id}/search`, policy: 'os_compute_api:os-hypervisors:search',
    doc: { summary: 'Hypervisors matching a hostname (admin; before 2.53)', success: [200] },
  },
  {
    method: 'GET', path: S, policy: 'os_compute_api:os-services:list',
    doc: { summary: 'List compute services (admin)', success: [200], query: ['host', 'binary'] },
  },
  ...SERVICE_ACTIONS.map((kind): RouteDeclaration => ({
    method: 'PUT', path: `${S}/${kind}`, policy: 'os_compute_api:os-services:update', body: {},
    doc: { summary: `${kind} a compute service by host and binary (admin; before 2.53)`, success: [200] },
  })),
  {
    method: 'PUT', path: `${S}/{service_id}`, policy: 'os_compute_api:os-services:update', body: {},
    doc: { summary: 'Enable, disable or force down a compute service (admin; 2.53)', success: [200] },
  },
  {
    method: 'GET', path: '/v2.1/os-hosts', policy: 'os_compute_api:os-hosts:list',
    doc: { summary: 'List hosts (admin; before 2.43)', success: [200], query: ['zone'] },
  },
  {
    method: 'GET', path: '/v2.1/os-hosts/{host_name}', policy: 'os_compute_api:os-hosts:show',
    doc: { summary: 'Show a host\'s resources (admin; before 2.43)', success: [200] },
  },
  {
    method: 'PUT', path: '/v2.1/os-hosts/{host_name}', policy: 'os_compute_api:os-hosts:update', body: {},
    doc: { summary: 'Enable or disable a host for new servers (admin; before 2.43); maintenance mode is not supported (501)', success: [200] },
  },
  ...([['startup', 'os_compute_api:os-hosts:start'], ['shutdown', 'os_compute_api:os-hosts:shutdown'], ['reboot', 'os_compute_api:os-hosts:reboot']] as const)
    .map(([action, policy]): RouteDeclaration => ({
      method: 'GET', path: `/v2.1/os-hosts/{host_name}/${action}`, policy,
      doc: { summary: `${action} a host (admin; before 2.43): not supported by the simulated hosts (501)`, success: [200] },
    })),
];
