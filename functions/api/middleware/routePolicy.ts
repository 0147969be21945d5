import type { MiddlewareObj } from '@middy/core';
import httpRouterHandler from '@middy/http-router';
import { isPublicPath } from '../../authorizer/gatewayResponses.js';
import { authorize, POLICIES, type PolicyName } from '../../core/shared/policy.js';
import { PUBLIC, type ApiContext, type ApiEvent, type ApiResult, type ApiRoute } from '../http.js';

// Each route declares the Nova policy (functions/core/shared/policy.ts) it needs where it is defined
// (functions/api/compute/*.ts); this step checks it before the route runs, so a reader's write is
// refused before anything is read or written. It fails closed: a route without a policy refuses to
// start, and a request no route takes reaches no handler (the router answers 404 or 405). The
// admin-only rules that depend on the server (reset_state, unlocking an admin's lock) are checked
// by the domain where it has the server.

/**
 * The route's declared policy, or an error naming the route: a route without a known policy (a
 * JavaScript caller can leave out what the type requires), or whose PUBLIC marker disagrees with
 * what API Gateway serves without a token (version discovery, gatewayResponses.ts isPublicPath).
 */
export function declaredPolicy(route: ApiRoute): PolicyName | typeof PUBLIC {
  const name = `${route.method} ${route.path}`;
  const policy = (route as { policy?: unknown }).policy;
  if (policy === undefined || policy === null) throw new Error(`${name}: the route declares no policy (ApiRoute.policy)`);
  if (policy !== PUBLIC && !(typeof policy === 'string' && Object.hasOwn(POLICIES, policy))) {
    throw new Error(`${name}: ${JSON.stringify(policy)} is not a policy of functions/core/shared/policy.ts nor PUBLIC`);
  }
  if ((policy === PUBLIC) !== isPublicPath(route.path)) {
    throw new Error(`${name}: PUBLIC is for version discovery alone (isPublicPath), and version discovery is PUBLIC`);
  }
  return policy as PolicyName | typeof PUBLIC;
}

/** Listing other projects' servers (Nova's all_tenants, or tenant_id) is the admin's. */
const ALL_TENANTS: Partial<Record<PolicyName, PolicyName>> = {
  'os_compute_api:servers:index': 'os_compute_api:servers:index:get_all_tenants',
  'os_compute_api:servers:detail': 'os_compute_api:servers:detail:get_all_tenants',
};

/** The policy a request to the route needs: its declared one, or the admin's when it lists every project. */
export function requestPolicy(declared: PolicyName, query: Record<string, unknown> | null | undefined): PolicyName {
  const allTenants = ALL_TENANTS[declared];
  return allTenants && query && ('all_tenants' in query || 'tenant_id' in query) ? allTenants : declared;
}

/**
 * The route a request goes to, found as the router finds it: by middy's http-router itself, over
 * the same routes in the same order, so the policy checked is the one of the route that runs.
 */
export function routeMatcher(routes: readonly ApiRoute[]): (method: string, path: string) => ApiRoute | undefined {
  const find = httpRouterHandler({
    routes: routes.map((route) => ({ method: route.method, path: route.path, handler: () => route })) as never,
    notFoundResponse: () => undefined as never,
  }) as unknown as (event: object, context: object) => ApiRoute | undefined;
  return (method, path) => find({ httpMethod: method, path, pathParameters: null }, {});
}

export function policy(routes: readonly ApiRoute[]): MiddlewareObj<ApiEvent, ApiResult, Error, ApiContext> {
  for (const route of routes) declaredPolicy(route);
  const match = routeMatcher(routes);
  return {
    before: (request) => {
      const route = match(request.event.httpMethod, request.event.path);
      // No route: the router answers 404 or 405, and no handler runs.
      if (!route || route.policy === PUBLIC) return;
      authorize(request.context.caller, requestPolicy(route.policy, request.event.queryStringParameters));
    },
  };
}
