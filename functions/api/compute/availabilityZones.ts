import type { AdmissionDeps } from '../../core/compute/admission.js';
import { readHosts, type Host } from '../../core/placement/hosts.js';
import { json } from '../http.js';
import type { RouteHandler } from '../routesOnFirstUse.js';
import { dbDatetime } from '../timestamps.js';

// os-availability-zone (availability_zone.py): the zones of the compute hosts
// (functions/core/placement/hosts.ts). A zone is available while one of its hosts' services is
// enabled; Nova lists the others as not available. The detail (administrators) shows each
// zone's hosts and their nova-compute service.

function zones(hosts: readonly Host[]): Map<string, Host[]> {
  const byZone = new Map<string, Host[]>();
  for (const h of hosts) byZone.set(h.zone, [...byZone.get(h.zone) ?? [], h]);
  return byZone;
}

const available = (hosts: readonly Host[]) => hosts.some((h) => h.enabled);

/** The handlers of availabilityZoneRoutes.ts's declarations, loaded on first use. */
export function availabilityZoneHandlers(deps: AdmissionDeps): RouteHandler[] {
  return [
    {
      method: 'GET', path: '/v2.1/os-availability-zone',
      handler: async () => json(200, {
        availabilityZoneInfo: [...zones(await readHosts(deps.table))].map(([zoneName, hosts]) => ({
          zoneName, zoneState: { available: available(hosts) }, hosts: null,
        })),
      }),
    },
    {
      method: 'GET', path: '/v2.1/os-availability-zone/detail',
      handler: async () => json(200, {
        availabilityZoneInfo: [...zones(await readHosts(deps.table))].map(([zoneName, hosts]) => ({
          zoneName, zoneState: { available: available(hosts) },
          hosts: Object.fromEntries(hosts.map((h) => [h.name, {
            'nova-compute': { available: h.enabled, active: !h.forcedDown, updated_at: dbDatetime(h.updated) },
          }])),
        })),
      }),
    },
  ];
}
