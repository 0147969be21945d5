import type { RouteDeclaration } from '../routesOnFirstUse.js';

// The availability zones (os-availability-zone): declared here, for the route table the API builds
// as it loads; their handlers (availabilityZones.ts) load with the first request to one of them
// (routesOnFirstUse.ts).

export const availabilityZoneRoutes: RouteDeclaration[] = [
  {
    method: 'GET', path: '/v2.1/os-availability-zone', policy: 'os_compute_api:os-availability-zone:list',
    doc: { summary: 'List availability zones', success: [200] },
  },
  {
    method: 'GET', path: '/v2.1/os-availability-zone/detail', policy: 'os_compute_api:os-availability-zone:detail',
    doc: { summary: 'List availability zones with hosts (admin)', success: [200] },
  },
];
