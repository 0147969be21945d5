import { randomBytes } from 'node:crypto';
import { createServer, requestOperation, type AdmissionDeps } from '../../core/admission.js';
import { attachmentsOf, Ports, Volumes } from '../../core/attachables.js';
import { BadRequest } from '../../core/errors.js';
import { canonicalUuid, isUuid } from '../../core/ids.js';
import type { Instance } from '../../core/instance.js';
import { getServer, listServers } from '../../core/instances.js';
import {
  empty, json, pathParam, requester, type ApiContext, type ApiEvent, type ApiRoute, type Route,
} from '../http.js';
import { schemas, validate } from '../schemas.js';
import { excerpt } from '../excerpt.js';
import { nameFilter } from '../nameFilter.js';
import { statusFilter } from '../status.js';
import { serverSummaryView, serverView, type ServerViewOptions } from '../views.js';

interface CreateBody {
  server: { name: string; flavorRef: string | number; imageRef: string };
}

/** Nova's api.max_limit: the most servers one page may hold, whatever `limit` asks. */
const MAX_LIMIT = 1000;
/**
 * A page without `limit`: 100 servers, one Query of the project index (their volumes and ports
 * are on the items). Nova answers max_limit servers here; a smaller first page keeps an
 * unbounded list cheap, and every client follows the `next` link.
 */
export const DEFAULT_PAGE_SIZE = 100;
/** The list query parameters taskgate reads (others are ignored, as Nova ignores unknown filters). */
const LIST_QUERY = ['limit', 'marker', 'name', 'status'] as const;

/**
 * The server's view options: its volumes and ports (from the instance item itself, so a view
 * and a whole detail page cost no read beyond the items), the request's microversion and caller.
 */
export function serverViewOptions(s: Instance, ctx: ApiContext): ServerViewOptions {
  return {
    volumes: attachmentsOf(s, Volumes), ports: attachmentsOf(s, Ports), version: ctx.apiVersion, isAdmin: ctx.caller.isAdmin,
  };
}

function fullServerView(s: Instance, ctx: ApiContext) {
  return serverView(s, ctx.baseUrl, serverViewOptions(s, ctx));
}

/** The list's query, already checked against its schemas (schemas.ts queryParameters). */
function pageQuery(event: ApiEvent) {
  const q = event.queryStringParameters ?? {};
  let limit = DEFAULT_PAGE_SIZE;
  if (q.limit !== undefined) {
    // Nova: validate_integer(min 0); 0 (or -0) is a page of nothing; more than the maximum is the maximum.
    const asked = Number(q.limit.trim());
    if (asked < 0) throw new BadRequest('limit param must be positive');
    limit = Math.min(asked === 0 ? 0 : asked, MAX_LIMIT);
  }
  const filters: ((s: Instance) => boolean)[] = [];
  if (q.name !== undefined && q.name !== '') {
    const matches = nameFilter(q.name);
    filters.push((s) => matches(s.name));
  }
  const statuses = event.multiValueQueryStringParameters?.status ?? (q.status ? [q.status] : []);
  if (statuses.length > 0) {
    const matches = statusFilter(statuses);
    filters.push((s) => matches(s.vmState, s.taskState));
  }
  // A marker is a server id; one that is not a UUID names no server (Nova: 400 "not found").
  if (q.marker !== undefined && !isUuid(q.marker)) throw new BadRequest(`marker [${excerpt(q.marker)}] not found`);
  const marker = q.marker === undefined ? undefined : canonicalUuid(q.marker);
  return { limit, marker, filter: (s: Instance) => filters.every((f) => f(s)) };
}

/** Nova's `servers_links` (for the list and the detail alike), pointing at the next page. */
function nextLink(base: string, path: string, event: ApiEvent, next: string | undefined) {
  if (!next) return {};
  const q = new URLSearchParams({ ...(event.queryStringParameters as Record<string, string> ?? {}), marker: next });
  return { servers_links: [{ rel: 'next', href: `${base}/v2.1/${path}?${q}` }] };
}

export function serverRoutes(deps: AdmissionDeps): ApiRoute[] {
  const create: Route = async (event, ctx) => {
    const { server } = validate<CreateBody>('createServer', event.body);
    const instance = await createServer(deps, {
      ...requester(ctx), name: server.name,
      flavorRef: String(server.flavorRef), imageRef: server.imageRef,
    });
    const self = `${ctx.baseUrl}/v2.1/servers/${instance.id}`;
    return json(202, {
      server: {
        id: instance.id, links: serverSummaryView(instance, ctx.baseUrl).links,
        'OS-DCF:diskConfig': 'MANUAL', security_groups: [{ name: 'default' }],
        adminPass: randomBytes(9).toString('base64url'),
      },
    }, { location: self });
  };

  const list = (detail: boolean): Route => async (event, ctx) => {
    const page = await listServers(deps.table, ctx.caller, pageQuery(event));
    const servers = detail
      ? page.servers.map((s) => fullServerView(s, ctx))
      : page.servers.map((s) => serverSummaryView(s, ctx.baseUrl));
    return json(200, { servers, ...nextLink(ctx.baseUrl, detail ? 'servers/detail' : 'servers', event, page.next) });
  };

  const show: Route = async (event, ctx) => {
    const instance = await getServer(deps.table, ctx.caller, pathParam(event, 'server_id'));
    return json(200, { server: fullServerView(instance, ctx) });
  };

  const remove: Route = async (event, ctx) => {
    await requestOperation(deps, {
      instanceId: pathParam(event, 'server_id'), op: 'delete', ...requester(ctx),
    });
    return empty(204);
  };

  return [
    {
      method: 'POST', path: '/v2.1/servers', handler: create, body: schemas.createServer,
      doc: { summary: 'Create a server', success: [202] },
    },
    { method: 'GET', path: '/v2.1/servers', handler: list(false), doc: { summary: 'List servers', success: [200], query: LIST_QUERY } },
    {
      method: 'GET', path: '/v2.1/servers/detail', handler: list(true),
      doc: { summary: 'List servers with details', success: [200], query: LIST_QUERY },
    },
    { method: 'GET', path: '/v2.1/servers/{server_id}', handler: show, doc: { summary: 'Show a server', success: [200] } },
    { method: 'DELETE', path: '/v2.1/servers/{server_id}', handler: remove, doc: { summary: 'Delete a server', success: [204] } },
  ];
}
