import type { AdmissionDeps } from '../core/compute/admission.js';
import type { ApiRoute } from './http.js';
import { actionRoutes } from './compute/actions.js';
import { aggregateRoutes } from './compute/aggregates.js';
import { attachmentRoutes } from './compute/attachments.js';
import { availabilityZoneRoutes } from './compute/availabilityZones.js';
import { externalEventRoutes } from './compute/externalEvents.js';
import { flavorAdminRoutes } from './compute/flavorAdmin.js';
import { flavorRoutes } from './compute/flavors.js';
import { guestReadRoutes } from './compute/guestReads.js';
import { hypervisorRoutes } from './compute/hypervisors.js';
import { novaImageRoutes } from './compute/images.js';
import { keypairRoutes } from './compute/keypairs.js';
import { metadataRoutes } from './compute/metadata.js';
import { migrationRoutes } from './compute/migrations.js';
import { networkProxyRoutes } from './compute/networkProxies.js';
import { quotaRoutes } from './compute/quotas.js';
import { readonlyRoutes } from './compute/readonly.js';
import { serverGroupRoutes } from './compute/serverGroups.js';
import { serverRoutes } from './compute/servers.js';
import { usageRoutes } from './compute/usage.js';
import { versionRoutes } from './compute/versions.js';

/** Nova's routes (`/` and `/v2.1...`): the table the API builds as it loads. */
export function computeRoutes(deps: AdmissionDeps): ApiRoute[] {
  return [
    ...versionRoutes(), ...serverRoutes(deps), ...actionRoutes(deps), ...attachmentRoutes(deps), ...readonlyRoutes(deps),
    ...flavorRoutes(deps), ...flavorAdminRoutes(deps), ...quotaRoutes(deps), ...metadataRoutes(deps), ...keypairRoutes(deps), ...availabilityZoneRoutes(deps),
    ...serverGroupRoutes(deps), ...hypervisorRoutes(deps), ...aggregateRoutes(deps), ...migrationRoutes(deps),
    ...guestReadRoutes(deps), ...externalEventRoutes(deps), ...usageRoutes(deps),
    ...novaImageRoutes(deps), ...networkProxyRoutes(deps),
  ];
}
