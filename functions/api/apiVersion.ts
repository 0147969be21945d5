// The compute microversions taskgate implements, and how a requested one is read.
//
// Every microversion up to the maximum is implemented for every resource taskgate serves (the
// README's Microversions section lists what each changes); the ones that change only resources
// taskgate does not serve (consoles, services, hypervisors, migrations, quotas, ...) change
// nothing here. Raise the maximum only with the next version's behaviour and its schema tests.

export interface ApiVersion {
  readonly major: number;
  readonly minor: number;
}

export const MIN_VERSION: ApiVersion = { major: 2, minor: 1 };
export const MAX_VERSION: ApiVersion = { major: 2, minor: 79 };

export const versionString = (v: ApiVersion) => `${v.major}.${v.minor}`;

const compare = (a: ApiVersion, b: ApiVersion) => a.major - b.major || a.minor - b.minor;

/** The request's version is `at` or later (Nova's `api_version_request.is_supported`). */
export const isAtLeast = (v: ApiVersion, at: string) => compare(v, parseVersion(at)!) >= 0;

export const isSupported = (v: ApiVersion) => compare(v, MIN_VERSION) >= 0 && compare(v, MAX_VERSION) <= 0;

/** Nova's grammar: `<major>.<minor>`, no leading zeros; anything else is undefined. */
export function parseVersion(text: string): ApiVersion | undefined {
  const m = /^([1-9]\d*)\.([1-9]\d*|0)$/.exec(text);
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

/**
 * The requested version string from the headers (lowercase names), as microversion-parse reads
 * them: `OpenStack-API-Version: compute X.Y` (one of a comma-separated list of services) wins
 * over the legacy `X-OpenStack-Nova-API-Version: X.Y`; neither means undefined (the minimum).
 */
export function requestedVersion(headers: Record<string, string | undefined>): string | undefined {
  const modern = headers['openstack-api-version'];
  if (modern) {
    for (const entry of modern.split(',')) {
      const [service, version, ...rest] = entry.trim().split(/\s+/);
      if (service?.toLowerCase() === 'compute' && version && rest.length === 0) return version;
    }
  }
  const legacy = headers['x-openstack-nova-api-version']?.trim();
  return legacy || undefined;
}
