import type { MiddlewareObj, Request } from '@middy/core';
import { isPublicPath } from '../../authorizer/gatewayResponses.js';
import { BadRequest } from '../../core/shared/errors.js';
import { parseVersion, versionString, type ApiVersion } from '../apiVersion.js';
import { HttpFault, type ApiContext, type ApiEvent, type ApiResult } from '../http.js';
import { serviceOf } from '../services.js';

// Cinder's microversions (cinder/api/openstack/api_version_request.py): `OpenStack-API-Version:
// volume 3.x`, 3.0 when none is asked, the maximum for `latest`; every answer of the volume
// service says the version it was served at. The version goes on the context's apiVersion, which
// for a volume path is Cinder's (Nova's middleware skips these paths).

export const VOLUME_MIN_VERSION: ApiVersion = { major: 3, minor: 0 };
/** Cinder's 3.70 (Bobcat): what Debian's clients negotiate at most with it (cinderclient 9: 3.71). */
export const VOLUME_MAX_VERSION: ApiVersion = { major: 3, minor: 70 };

const compare = (a: ApiVersion, b: ApiVersion) => a.major - b.major || a.minor - b.minor;

const isVolumeRequest = (event: ApiEvent) => serviceOf(event.path ?? '/') === 'volume' && !isPublicPath(event.path ?? '/');

/** The `volume` entry of OpenStack-API-Version (one of a comma-separated list of services). */
function requested(headers: Record<string, string | undefined>): string | undefined {
  for (const entry of (headers['openstack-api-version'] ?? '').split(',')) {
    const [service, version, ...rest] = entry.trim().split(/\s+/);
    if (service?.toLowerCase() === 'volume' && version && rest.length === 0) return version;
  }
  return undefined;
}

export function volumeMicroversion(): MiddlewareObj<ApiEvent, ApiResult, Error, ApiContext> {
  const addHeaders = (request: Request<ApiEvent, ApiResult, Error, ApiContext>) => {
    if (!request.response || !isVolumeRequest(request.event)) return;
    const used = request.context.apiVersion as ApiVersion | undefined;
    request.response.headers = {
      ...request.response.headers,
      ...(used?.major === 3 ? { 'openstack-api-version': `volume ${versionString(used)}` } : {}),
      vary: 'OpenStack-API-Version',
    };
  };
  return {
    before: (request) => {
      if (!isVolumeRequest(request.event)) return;
      const asked = requested(request.event.headers ?? {});
      if (asked === undefined) {
        request.context.apiVersion = VOLUME_MIN_VERSION;
        return;
      }
      if (asked.toLowerCase() === 'latest') {
        request.context.apiVersion = VOLUME_MAX_VERSION;
        return;
      }
      const version = parseVersion(asked);
      if (!version) throw new BadRequest(`API Version String ${asked} is of invalid format. Must be of format MajorNum.MinorNum.`);
      if (compare(version, VOLUME_MIN_VERSION) < 0 || compare(version, VOLUME_MAX_VERSION) > 0) {
        throw new HttpFault('computeFault', 406, `Version ${asked} is not supported by the API. `
          + `Minimum is ${versionString(VOLUME_MIN_VERSION)} and maximum is ${versionString(VOLUME_MAX_VERSION)}.`);
      }
      request.context.apiVersion = version;
    },
    after: addHeaders,
    onError: addHeaders,
  };
}
