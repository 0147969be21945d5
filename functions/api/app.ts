import middy, { type MiddlewareObj } from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import httpRouterHandler from '@middy/http-router';
import { isPublicPath } from '../authorizer/gatewayResponses.js';
import type { AdmissionDeps } from '../core/admission.js';
import type { IdentityProvider } from '../core/identity/identity.js';
import type { ApiContext, ApiEvent, ApiResult, ApiRoute, Route } from './http.js';
import { requestCaller } from './middleware/caller.js';
import { microversion } from './middleware/microversion.js';
import { novaErrors } from './middleware/novaErrors.js';
import { policy } from './middleware/policy.js';
import { requestIds } from './middleware/requestIds.js';
import { actionRoutes } from './routes/actions.js';
import { attachmentRoutes } from './routes/attachments.js';
import { readonlyRoutes } from './routes/readonly.js';
import { serverRoutes } from './routes/servers.js';
import { versionRoutes } from './routes/versions.js';

type ApiMiddleware = MiddlewareObj<ApiEvent, ApiResult, Error, ApiContext>;

const isVersionDiscovery = (event: ApiEvent) => isPublicPath(event.path);

/** Nova answers 400 "Malformed request body" for bad JSON, whatever the content type says. */
function withJsonBody(route: Route): Route {
  return middy<ApiEvent, ApiResult, Error, ApiContext>()
    .use(httpJsonBodyParser({ disableContentTypeCheck: true }) as ApiMiddleware)
    .handler(route as never) as unknown as Route;
}

/** Every route taskgate serves: the router's table, and the OpenAPI document's. */
export function apiRoutes(deps: AdmissionDeps): ApiRoute[] {
  return [
    ...versionRoutes(), ...serverRoutes(deps), ...actionRoutes(deps), ...attachmentRoutes(deps), ...readonlyRoutes(deps),
  ];
}

export interface ApiOptions {
  /**
   * Development mode only: the API function reads X-Auth-Token itself. In Keystone and JWT modes
   * it is not given one, and admits only requests API Gateway's authorizer let through.
   */
  readonly identity?: IdentityProvider;
}

/** The API Lambda: middy's router over Nova's routes, with Nova's conventions as middlewares. */
export function createApi(deps: AdmissionDeps, options: ApiOptions = {}) {
  const routes = apiRoutes(deps);
  // middy's router types its handlers for plain Lambda contexts; ours carry the request's caller.
  const router = httpRouterHandler(routes.map((r) => ({
    method: r.method,
    path: r.path,
    handler: r.body ? withJsonBody(r.handler) : r.handler,
  })) as unknown as Parameters<typeof httpRouterHandler>[0]);

  return middy<ApiEvent, ApiResult, Error, ApiContext>()
    // Headers first: API Gateway passes them in the client's case; every later step reads lowercase.
    .use(httpHeaderNormalizer() as ApiMiddleware)
    .use(requestIds())
    .use(requestCaller(isVersionDiscovery, options.identity))
    .use(microversion(isVersionDiscovery))
    .use(policy(isVersionDiscovery))
    .use(novaErrors())
    .handler(router as (event: ApiEvent, context: ApiContext) => Promise<ApiResult>);
}
