import type { AdmissionDeps } from '../core/compute/admission.js';
import type { ApiRoute } from './http.js';
import { actionRoutes } from './compute/actions.js';
import { aggregateRoutes } from './compute/aggregateRoutes.js';
import { attachmentRoutes } from './compute/attachments.js';
import { availabilityZoneRoutes } from './compute/availabilityZoneRoutes.js';
import { externalEventRoutes } from './compute/externalEventRoutes.js';
import { flavorAdminRoutes } from './compute/flavorAdminRoutes.js';
import { flavorRoutes } from './compute/flavors.js';
import { guestReadRoutes } from './compute/guestReadRoutes.js';
import { hypervisorRoutes } from './compute/hypervisorRoutes.js';
import { instanceActionRoutes } from './compute/instanceActionRoutes.js';
import { novaImageRoutes } from './compute/novaImageRoutes.js';
import { keypairRoutes } from './compute/keypairs.js';
import { metadataRoutes } from './compute/metadata.js';
import { migrationRoutes } from './compute/migrationRoutes.js';
import { networkProxyRoutes } from './compute/networkProxyRoutes.js';
import { quotaRoutes } from './compute/quotaRoutes.js';
import { serverGroupRoutes } from './compute/serverGroupRoutes.js';
import { serverRoutes } from './compute/servers.js';
import { usageRoutes } from './compute/usageRoutes.js';
import { versionRoutes } from './compute/versions.js';
import { routesOnFirstUse, type RouteDeclaration, type RoutesOnFirstUse } from './routesOnFirstUse.js';

type Group = RoutesOnFirstUse<AdmissionDeps>;

const rareHandlers = () => import('./compute/rareRouteHandlers.js');

/** A group of routes whose handlers the rare routes' chunk makes with `factory`. */
const inRareChunk = (declared: readonly RouteDeclaration[], factory: keyof typeof import('./compute/rareRouteHandlers.js')): Group => ({
  declared, handlers: async (deps) => (await rareHandlers())[factory](deps),
});

/**
 * Nova's rarely used routes: declared in the route table, their handlers' modules import()ed
 * (together, compute/rareRouteHandlers.ts) by the first request to one of them, so that the
 * bundle puts that code in a chunk of its own and the API's cold start does not parse it
 * (routesOnFirstUse.ts; docs/costs.md, cold start). The test of the bundle checks they stay out
 * of the cold start.
 */
export const computeRoutesOnFirstUse = {
  instanceActions: inRareChunk(instanceActionRoutes, 'instanceActionHandlers'),
  flavorAdmin: inRareChunk(flavorAdminRoutes, 'flavorAdminHandlers'),
  availabilityZones: inRareChunk(availabilityZoneRoutes, 'availabilityZoneHandlers'),
  quotas: inRareChunk(quotaRoutes, 'quotaHandlers'),
  serverGroups: inRareChunk(serverGroupRoutes, 'serverGroupHandlers'),
  hypervisors: inRareChunk(hypervisorRoutes, 'hypervisorHandlers'),
  aggregates: inRareChunk(aggregateRoutes, 'aggregateHandlers'),
  migrations: inRareChunk(migrationRoutes, 'migrationHandlers'),
  guestReads: inRareChunk(guestReadRoutes, 'guestReadHandlers'),
  externalEvents: inRareChunk(externalEventRoutes, 'externalEventHandlers'),
  usage: inRareChunk(usageRoutes, 'usageHandlers'),
  novaImages: inRareChunk(novaImageRoutes, 'novaImageHandlers'),
  networkProxies: inRareChunk(networkProxyRoutes, 'networkProxyHandlers'),
} satisfies Record<string, Group>;

/** Nova's routes (`/` and `/v2.1...`): the table the API builds as it loads, in the order the router tries them. */
export function computeRoutes(deps: AdmissionDeps): ApiRoute[] {
  const later = (group: Group) => routesOnFirstUse(group, deps);
  const rare = computeRoutesOnFirstUse;
  return [
    ...versionRoutes(), ...serverRoutes(deps), ...actionRoutes(deps), ...attachmentRoutes(deps), ...later(rare.instanceActions),
    ...flavorRoutes(deps), ...later(rare.flavorAdmin), ...later(rare.quotas), ...metadataRoutes(deps), ...keypairRoutes(deps), ...later(rare.availabilityZones),
    ...later(rare.serverGroups), ...later(rare.hypervisors), ...later(rare.aggregates), ...later(rare.migrations),
    ...later(rare.guestReads), ...later(rare.externalEvents), ...later(rare.usage),
    ...later(rare.novaImages), ...later(rare.networkProxies),
  ];
}
