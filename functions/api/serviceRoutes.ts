import type { AdmissionDeps } from '../core/compute/admission.js';
import type { ApiRoute } from './http.js';
import type { ServiceName } from './services.js';
import type { VolumeRouteDeps } from './volumes/routes.js';

// The routes of the services beside Nova (Glance, Cinder, Neutron: services.ts), each loaded by
// the first request to its service: an import() each, so that the bundle puts their code in
// chunks of their own and the API's cold start does not parse it (docs/costs.md, cold start).
// routes.ts lists the same groups statically, for the OpenAPI document and the tests.

export type ServiceRouteDeps = AdmissionDeps & Pick<VolumeRouteDeps, 'volumeBackend'>;

export const serviceRoutes: Record<Exclude<ServiceName, 'compute'>, (deps: ServiceRouteDeps) => Promise<ApiRoute[]>> = {
  image: async (deps) => {
    const [versions, images] = await Promise.all([import('./images/versions.js'), import('./images/images.js')]);
    return [...versions.imageVersionRoutes(), ...images.imageRoutes(deps)];
  },
  volume: async (deps) => (await import('./volumes/routes.js')).volumeRoutes(deps),
  network: async (deps) => (await import('./networks/routes.js')).networkingRoutes(deps),
};
