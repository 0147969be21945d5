import { onFirstUse } from '../core/shared/onFirstUse.js';
import type { ApiRoute, Route } from './http.js';

// Nova's rarely used routes (the admin APIs, usage, quotas, ...) are declared apart from their
// handlers' code: the declaration (method, path, policy, body, doc) is in the route table the API
// builds as it loads, so the policy is checked and the path and query parameters are validated
// before anything of the handler loads; the handlers' module is import()ed by the first request
// to one of its routes, from a chunk of its own (docs/costs.md, cold start).

/** What the route table needs of a route before its handler's code is loaded. */
export type RouteDeclaration = Omit<ApiRoute, 'handler'>;

/** A handler, found by the method and path of the declaration it serves. */
export type RouteHandler = Pick<ApiRoute, 'method' | 'path' | 'handler'>;

/** A group of routes declared apart from their handlers, and how to load these. */
export interface RoutesOnFirstUse<Deps> {
  readonly declared: readonly RouteDeclaration[];
  readonly handlers: (deps: Deps) => Promise<readonly RouteHandler[]>;
}

const routeName = (r: Pick<ApiRoute, 'method' | 'path'>) => `${r.method} ${r.path}`;

/**
 * Each declaration's handler: one for every declaration and a declaration for every handler,
 * else an error naming the route (a declaration without code would answer nothing; code without a
 * declaration would never be reached, or be reached without its policy).
 */
export function joinHandlers(declared: readonly RouteDeclaration[], handlers: readonly RouteHandler[]): Map<string, Route> {
  const byName = new Map<string, Route>();
  for (const h of handlers) {
    if (byName.has(routeName(h))) throw new Error(`${routeName(h)}: two handlers`);
    byName.set(routeName(h), h.handler);
  }
  const names = new Set(declared.map(routeName));
  for (const name of names) if (!byName.has(name)) throw new Error(`${name}: declared, but its module has no handler for it`);
  for (const name of byName.keys()) if (!names.has(name)) throw new Error(`${name}: a handler without a declaration`);
  return byName;
}

/**
 * The group's routes as the route table takes them: its declarations, each with a handler that
 * loads the group's module on the first call (once; a load that failed is tried again by the next
 * request, functions/core/shared/onFirstUse.ts) and runs the handler it has for the route.
 */
export function routesOnFirstUse<Deps>(group: RoutesOnFirstUse<Deps>, deps: Deps): ApiRoute[] {
  const loaded = onFirstUse(async () => joinHandlers(group.declared, await group.handlers(deps)));
  return group.declared.map((route) => ({
    ...route,
    handler: async (event, context) => (await loaded()).get(routeName(route))!(event, context),
  }));
}
