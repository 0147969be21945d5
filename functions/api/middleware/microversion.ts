import type { MiddlewareObj, Request } from '@middy/core';
import { BadRequest } from '../../core/shared/errors.js';
import {
  isSupported, MAX_VERSION, MIN_VERSION, parseVersion, requestedVersion, versionString, type ApiVersion,
} from '../apiVersion.js';
import { HttpFault, type ApiContext, type ApiEvent, type ApiResult } from '../http.js';

/**
 * Nova's microversion negotiation: the requested version (or the minimum when none is asked,
 * or the maximum for `latest`) goes on the context for the views, and every answer, errors
 * included, says which version was used. A version outside [min, max] is 406, a malformed one
 * 400, both in Nova's words. Version discovery is unversioned and skipped.
 */
export function microversion(isUnversioned: (event: ApiEvent) => boolean): MiddlewareObj<ApiEvent, ApiResult, Error, ApiContext> {
  const addHeaders = (request: Request<ApiEvent, ApiResult, Error, ApiContext>) => {
    if (!request.response || isUnversioned(request.event)) return;
    const used = request.context.apiVersion as ApiVersion | undefined;
    request.response.headers = {
      ...request.response.headers,
      ...(used ? {
        'openstack-api-version': `compute ${versionString(used)}`,
        'x-openstack-nova-api-version': versionString(used),
      } : {}),
      // Caches must key on both headers: the same URL answers differently per version.
      vary: 'OpenStack-API-Version, X-OpenStack-Nova-API-Version',
    };
  };
  return {
    before: (request) => {
      if (isUnversioned(request.event)) return;
      const asked = requestedVersion(request.event.headers ?? {});
      if (asked === undefined) {
        request.context.apiVersion = MIN_VERSION;
        return;
      }
      if (asked.toLowerCase() === 'latest') {
        request.context.apiVersion = MAX_VERSION;
        return;
      }
      const version = parseVersion(asked);
      if (!version) {
        throw new BadRequest(`API Version String ${asked} is of invalid format. Must be of format MajorNum.MinorNum.`);
      }
      if (!isSupported(version)) {
        throw new HttpFault('computeFault', 406, `Version ${asked} is not supported by the API. `
          + `Minimum is ${versionString(MIN_VERSION)} and maximum is ${versionString(MAX_VERSION)}.`);
      }
      request.context.apiVersion = version;
    },
    after: addHeaders,
    onError: addHeaders,
  };
}
