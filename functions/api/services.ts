// The OpenStack services taskgate serves on one API: Nova (compute) at `/v2.1`, and Glance
// (image), Cinder (block storage) and Neutron (network) each under its own prefix, as a
// deployment's catalog lists them (`<base>/image`, `<base>/volume/v3/<project>`, `<base>/network`).
// One API Gateway, one authorizer, one function; each service answers in its own conventions:
// its error bodies, its microversions (Nova's and Cinder's), its version discovery.

export type ServiceName = 'compute' | 'image' | 'volume' | 'network';

/** The path prefixes of the services other than Nova, whose paths are `/` and `/v2.1...`. */
export const SERVICE_PREFIXES = { image: '/image', volume: '/volume', network: '/network' } as const;

const PREFIXED = Object.entries(SERVICE_PREFIXES) as [Exclude<ServiceName, 'compute'>, string][];

/** The service a routed path belongs to. */
export function serviceOf(path: string): ServiceName {
  for (const [service, prefix] of PREFIXED) if (path === prefix || path.startsWith(`${prefix}/`)) return service;
  return 'compute';
}

/** A routed path starts with a service's own prefix (`/v2.1` or one of SERVICE_PREFIXES). */
export const SERVICE_PATH = /^\/(v2\.1|image|volume|network)(\/|$)/;
