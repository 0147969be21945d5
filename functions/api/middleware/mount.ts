import type { MiddlewareObj } from '@middy/core';
import type { ApiContext, ApiEvent, ApiResult } from '../http.js';
import { basePathOf, baseUrl, routedPath, type LinkSettings } from '../mount.js';

/**
 * The path the router matches (a custom domain's base path taken off) and the base URL of the
 * request's links, from configuration or API Gateway's request context (functions/api/mount.ts).
 */
export function mount(settings: LinkSettings): MiddlewareObj<ApiEvent, ApiResult, Error, ApiContext> {
  const configuredBasePath = basePathOf(settings.publicUrl);
  return {
    before: (request) => {
      const routed = routedPath(request.event, configuredBasePath);
      request.context.baseUrl = baseUrl(request.event, routed, settings);
      request.event.path = routed;
    },
  };
}
