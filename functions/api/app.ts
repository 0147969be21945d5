import middy, { type MiddlewareObj } from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import httpRouterHandler from '@middy/http-router';
import type { AdmissionDeps } from '../core/admission.js';
import { idempotencySettings, type IdempotencySettings } from '../core/config.js';
import { dynamoIdempotencyStore } from '../core/idempotency.js';
import type { ApiContext, ApiEvent, ApiResult, ApiRoute, Route } from './http.js';
import { noauthCaller } from './middleware/noauthCaller.js';
import { idempotencyKey, type StoredAnswer } from './middleware/idempotencyKey.js';
import { microversion } from './middleware/microversion.js';
import { novaErrors } from './middleware/novaErrors.js';
import { requestIds } from './middleware/requestIds.js';
import { actionRoutes } from './routes/actions.js';
import { attachmentRoutes } from './routes/attachments.js';
import { readonlyRoutes } from './routes/readonly.js';
import { serverRoutes } from './routes/servers.js';
import { versionRoutes } from './routes/versions.js';

type ApiMiddleware = MiddlewareObj<ApiEvent, ApiResult, Error, ApiContext>;

const isVersionDiscovery = (event: ApiEvent) => event.path === '/' || /^\/v2\.1\/?$/.test(event.path);

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

export interface ApiDeps extends AdmissionDeps {
  /** Idempotency-Key records; the defaults of functions/core/config.ts when absent. */
  readonly idempotency?: IdempotencySettings;
}

/** The API Lambda: middy's router over Nova's routes, with Nova's conventions as middlewares. */
export function createApi(deps: ApiDeps) {
  const routes = apiRoutes(deps);
  // middy's router types its handlers for plain Lambda contexts; ours carry the request's caller.
  const router = httpRouterHandler(routes.map((r) => ({
    method: r.method,
    path: r.path,
    handler: r.body ? withJsonBody(r.handler) : r.handler,
  })) as unknown as Parameters<typeof httpRouterHandler>[0]);

  const idempotent = idempotencyKey(
    dynamoIdempotencyStore<StoredAnswer>(deps.table, deps.idempotency ?? idempotencySettings({})), deps.now,
  );

  return middy<ApiEvent, ApiResult, Error, ApiContext>()
    // Outermost: it keeps the answer of a request with an Idempotency-Key as the client gets it.
    .use(idempotent.capture)
    // Headers first: API Gateway passes them in the client's case; every later step reads lowercase.
    .use(httpHeaderNormalizer() as ApiMiddleware)
    .use(requestIds())
    .use(noauthCaller(isVersionDiscovery))
    .use(microversion(isVersionDiscovery))
    .use(novaErrors())
    // Innermost: replays and refusals need the caller; a replay skips everything after it.
    .use(idempotent.guard)
    .handler(router as (event: ApiEvent, context: ApiContext) => Promise<ApiResult>);
}
