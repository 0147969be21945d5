import type { ApiRoute } from './http.js';
import { computeRoutes } from './computeRoutes.js';
import { imageRoutes } from './images/images.js';
import { imageVersionRoutes } from './images/versions.js';
import { networkingRoutes } from './networks/routes.js';
import type { ServiceRouteDeps } from './serviceRoutes.js';
import { volumeRoutes } from './volumes/routes.js';

/**
 * Every route taskgate serves, Nova's and the other services' (the same groups serviceRoutes.ts
 * loads on first use): the OpenAPI document's, and what the tests walk. The API itself imports
 * Nova's at its cold start and each other service's with its first request (app.ts).
 */
export function apiRoutes(deps: ServiceRouteDeps): ApiRoute[] {
  return [...computeRoutes(deps), ...volumeRoutes(deps), ...imageVersionRoutes(), ...imageRoutes(deps), ...networkingRoutes(deps)];
}
