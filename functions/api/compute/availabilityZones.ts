import { json, type ApiRoute } from '../http.js';
import { COMPUTE_HOST } from '../views.js';

// os-availability-zone (availability_zone.py): taskgate has one zone, Nova's default `nova`, with
// its one compute host; the detail (administrators) shows the host and its nova-compute service.

export function availabilityZoneRoutes(): ApiRoute[] {
  return [
    {
      method: 'GET', path: '/v2.1/os-availability-zone', policy: 'os_compute_api:os-availability-zone:list',
      doc: { summary: 'List availability zones', success: [200] },
      handler: async () => json(200, {
        availabilityZoneInfo: [{ zoneName: 'nova', zoneState: { available: true }, hosts: null }],
      }),
    },
    {
      method: 'GET', path: '/v2.1/os-availability-zone/detail', policy: 'os_compute_api:os-availability-zone:detail',
      doc: { summary: 'List availability zones with hosts (admin)', success: [200] },
      // Administrators only: os_compute_api:os-availability-zone:detail (middleware/routePolicy.ts).
      handler: async () => {
        return json(200, {
          availabilityZoneInfo: [{
            zoneName: 'nova', zoneState: { available: true },
            hosts: { [COMPUTE_HOST]: { 'nova-compute': { available: true, active: true, updated_at: null } } },
          }],
        });
      },
    },
  ];
}
