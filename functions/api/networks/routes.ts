import type { AdmissionDeps } from '../../core/compute/admission.js';
import type { ApiRoute } from '../http.js';
import { extensionRoutes } from './extensions.js';
import { networkRoutes } from './networks.js';
import { portRoutes } from './ports.js';
import { securityGroupRoutes } from './securityGroups.js';
import { subnetRoutes } from './subnets.js';
import { networkVersionRoutes } from './versions.js';

/** The Networking service (a Neutron v2.0 subset) under `/network`: its catalog endpoint is `<base>/network`. */
export function networkingRoutes(deps: AdmissionDeps): ApiRoute[] {
  return [
    ...networkVersionRoutes(), ...networkRoutes(deps), ...subnetRoutes(deps), ...portRoutes(deps),
    ...securityGroupRoutes(deps), ...extensionRoutes(),
  ];
}
