import middy, { type MiddlewareObj } from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import httpRouterHandler from '@middy/http-router';
import { isPublicPath } from '../authorizer/gatewayResponses.js';
import type { AdmissionDeps } from '../core/compute/admission.js';
import { idempotencySettings, type IdempotencySettings } from '../core/shared/config.js';
import { dynamoIdempotencyStore } from '../core/shared/idempotency.js';
import { onFirstUse } from '../core/shared/onFirstUse.js';
import type { IdentityProvider } from '../core/identity/identity.js';
import { HttpFault, type ApiContext, type ApiEvent, type ApiResult, type ApiRoute, type Route } from './http.js';
import { requestCaller } from './middleware/caller.js';
import { idempotencyKey, type StoredAnswer } from './middleware/idempotencyKey.js';
import { microversion } from './middleware/microversion.js';
import { mount } from './middleware/mount.js';
import { novaErrors } from './middleware/novaErrors.js';
import { policy } from './middleware/routePolicy.js';
import { requestIds } from './middleware/requestIds.js';
import type { LinkSettings } from './mount.js';
import { computeRoutes } from './computeRoutes.js';
import { pathParameters, validateQuery, validPathParameter } from './parameters.js';
import { loadBodyValidators } from './serverSchemas.js';
import { serviceRoutes, type ServiceRouteDeps } from './serviceRoutes.js';
import { serviceOf } from './services.js';
import { volumeMicroversion } from './volumes/microversion.js';
import type { VolumeRouteDeps } from './volumes/routes.js';

type ApiMiddleware = MiddlewareObj<ApiEvent, ApiResult, Error, ApiContext>;

const isVersionDiscovery = (event: ApiEvent) => isPublicPath(event.path);

/**
 * Nova's limit on a request body (osapi_max_request_body_size, 112 KiB): larger is 413 before
 * anything parses it. API Gateway's own 10 MB limit comes first on AWS.
 */
export const MAX_BODY_BYTES = 114_688;

const boundedBody: ApiMiddleware = {
  before: (request) => {
    const body = request.event.body;
    if (typeof body === 'string' && Buffer.byteLength(body, request.event.isBase64Encoded ? 'base64' : 'utf8') > MAX_BODY_BYTES) {
      throw new HttpFault('overLimit', 413, 'Request is too large.');
    }
  },
};

/** The request bodies' validators load with the first route that reads a body, not at the cold start (serverSchemas.ts). */
const bodyValidators: ApiMiddleware = { before: () => loadBodyValidators() };

/**
 * Nova answers 400 "Malformed request body" for bad JSON, whatever the content type says. The
 * chain is built with the route's first request: one per route that reads a body was most of
 * building Nova's route table at the cold start (docs/costs.md).
 */
function withJsonBody(route: Route): Route {
  let chain: Route | undefined;
  return (event, context) => {
    chain ??= middy<ApiEvent, ApiResult, Error, ApiContext>()
      .use(boundedBody)
      .use(httpJsonBodyParser({ disableContentTypeCheck: true }) as ApiMiddleware)
      .use(bodyValidators)
      .handler(route as never) as unknown as Route;
    return chain(event, context);
  };
}

/**
 * Before a route runs: each path parameter decoded, checked as what it is (a server id is a
 * UUID...) and put in canonical spelling, Nova's 404 otherwise; each query parameter the route
 * reads checked against its schema, Nova's 400 otherwise. The route reads only checked values.
 */
function withCheckedParameters(route: ApiRoute, handler: Route): Route {
  const names = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  // A route whose path parameter has no schema is a programming error: refuse to start.
  for (const name of names) {
    if (!Object.hasOwn(pathParameters, name)) throw new Error(`${route.path}: path parameter ${name} has no schema in parameters.ts pathParameters`);
  }
  return async (event, context) => {
    const params: Record<string, string> = {};
    for (const name of names) params[name] = validPathParameter(name, event.pathParameters?.[name] ?? '');
    if (route.doc.query) validateQuery(event.queryStringParameters);
    return handler({ ...event, pathParameters: { ...event.pathParameters, ...params } }, context);
  };
}

/**
 * A path taskgate serves with another method is Nova's 405, naming the methods it allows. The
 * patterns are compiled with the first request no route matched, not at the cold start.
 */
function methodNotAllowedOrNotFound(routes: readonly ApiRoute[]) {
  let patterns: { method: string; path: RegExp }[] | undefined;
  return ({ path }: { method: string; path: string }): never => {
    patterns ??= routes.map((r) => ({
      method: r.method,
      path: new RegExp(`^${r.path.replace(/\{\w+\}/g, '[^/]+').replace(/\./g, '\\.')}/?$`),
    }));
    const allowed = [...new Set(patterns.filter((p) => p.path.test(path)).map((p) => p.method))];
    if (allowed.length > 0) {
      throw new HttpFault('badMethod', 405, 'The method specified is not allowed for this resource.', { allow: allowed.join(', ') });
    }
    throw new HttpFault('itemNotFound', 404, 'The resource could not be found.');
  };
}

export interface ApiDeps extends AdmissionDeps, Pick<VolumeRouteDeps, 'volumeBackend'> {
  /** Idempotency-Key records; the defaults of functions/core/shared/config.ts when absent. */
  readonly idempotency?: IdempotencySettings;
}

export interface ApiOptions {
  /** Where clients reach the API (functions/core/shared/config.ts publicUrlSettings). */
  readonly links?: LinkSettings;
  /**
   * Development mode only: the API function reads X-Auth-Token itself. In Keystone and JWT modes
   * it is not given one, and admits only requests API Gateway's authorizer let through.
   */
  readonly identity?: IdentityProvider;
}

/**
 * Registers the routes: middy's router over them, and the policy step that authorizes each
 * request with the policy its route declares (middleware/routePolicy.ts). Throws, so the API does not
 * start, for a route that declares no policy or a path parameter without a schema.
 */
export function routeTable(routes: readonly ApiRoute[]) {
  const authorizeRoute = policy(routes);
  // middy's router types its handlers for plain Lambda contexts; ours carry the request's caller.
  const router = httpRouterHandler({
    routes: routes.map((r) => ({
      method: r.method,
      path: r.path,
      handler: withCheckedParameters(r, r.body ? withJsonBody(r.handler) : r.handler),
    })) as never,
    notFoundResponse: methodNotAllowedOrNotFound(routes),
  });
  return { router, policy: authorizeRoute };
}

type RouteTable = ReturnType<typeof routeTable>;

/**
 * The route tables, one per service: Nova's built as the API loads, each other service's with
 * its first request (serviceRoutes.ts: their code is in chunks of their own, not parsed at the
 * cold start; docs/costs.md). A table that failed to load is loaded again by the next request.
 */
export function serviceTables(deps: ServiceRouteDeps, loaders: typeof serviceRoutes = serviceRoutes) {
  const compute = routeTable(computeRoutes(deps));
  const others = {
    image: onFirstUse(async () => routeTable(await loaders.image(deps))),
    volume: onFirstUse(async () => routeTable(await loaders.volume(deps))),
    network: onFirstUse(async () => routeTable(await loaders.network(deps))),
  };
  const tableFor = (path: string): RouteTable | Promise<RouteTable> => {
    const service = serviceOf(path);
    return service === 'compute' ? compute : others[service]();
  };
  const authorizeRoute: ApiMiddleware = {
    before: async (request) => { await (await tableFor(request.event.path)).policy.before!(request); },
  };
  const router = async (event: ApiEvent, context: ApiContext): Promise<ApiResult> => (await tableFor(event.path)).router(event as never, context as never);
  return { authorizeRoute, router };
}

/** The API Lambda: middy's router over Nova's routes (and the other services'), with Nova's conventions as middlewares. */
export function createApi(deps: ApiDeps, options: ApiOptions = {}) {
  const { router, authorizeRoute } = serviceTables(deps);

  const idempotent = idempotencyKey(
    dynamoIdempotencyStore<StoredAnswer>(deps.table, deps.idempotency ?? idempotencySettings({})), deps.now,
  );

  return middy<ApiEvent, ApiResult, Error, ApiContext>()
    // Outermost: it keeps the answer of a request with an Idempotency-Key as the client gets it.
    .use(idempotent.capture)
    // Headers first: API Gateway passes them in the client's case; every later step reads lowercase.
    .use(httpHeaderNormalizer() as ApiMiddleware)
    .use(requestIds())
    .use(mount(options.links ?? {}))
    .use(requestCaller(isVersionDiscovery, options.identity))
    // Nova's microversions; Cinder's are its own routes' (functions/api/volumes/).
    .use(microversion((event) => isVersionDiscovery(event) || serviceOf(event.path) !== 'compute'))
    .use(volumeMicroversion())
    .use(authorizeRoute)
    .use(novaErrors())
    // Innermost: replays and refusals need the caller; a replay skips everything after it.
    .use(idempotent.guard)
    .handler(router);
}
