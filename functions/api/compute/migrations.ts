import type { AdmissionDeps } from '../../core/compute/admission.js';
import { listMigrations, LIVE_IN_PROGRESS, type Migration } from '../../core/compute/migrations.js';
import { abortLiveMigration, forceComplete, liveMigrationInProgress, liveMigrationsInProgress } from '../../core/compute/serverMigrations.js';
import { BadRequest, NotFound } from '../../core/shared/errors.js';
import { isAtLeast, type ApiVersion } from '../apiVersion.js';
import { empty, json, pathParam, type ApiContext, type ApiEvent } from '../http.js';
import type { RouteHandler } from '../routesOnFirstUse.js';
import { pageLimit, parseChangesTime } from '../listQuery.js';
import { checkBody } from '../serverSchemas.js';
import { dbDatetime } from '../timestamps.js';

// os-migrations (migrations.py: every move, administrators') and a server's live migrations in
// progress (server_migrations.py: list, show, force_complete at 2.22, abort at 2.24), shaped per
// microversion as Tempest's schemas (v2_1, v2_23, v2_59, v2_80 migrations.py) expect them.

/** Nova's flavor ids in a migration are its database's integers: a flavor id that is one, else null. */
const flavorNumber = (id: string) => (/^[0-9]+$/.test(id) ? Number(id) : null);

const inProgressLive = (m: Migration) => m.migrationType === 'live-migration' && LIVE_IN_PROGRESS.includes(m.status);

function links(base: string, m: Migration) {
  const path = `servers/${m.instanceUuid}/migrations/${m.id}`;
  return [{ rel: 'self', href: `${base}/v2.1/${path}` }, { rel: 'bookmark', href: `${base}/${path}` }];
}

/** One migration in os-migrations: migration_type and links from 2.23, uuid from 2.59, its owner from 2.80. */
function listView(m: Migration, v: ApiVersion, base: string) {
  return {
    created_at: dbDatetime(m.created), updated_at: dbDatetime(m.updated), id: m.id, instance_uuid: m.instanceUuid, status: m.status,
    source_compute: m.sourceCompute, source_node: m.sourceNode, dest_compute: m.destCompute, dest_node: m.destNode, dest_host: null,
    old_instance_type_id: flavorNumber(m.oldFlavorId), new_instance_type_id: flavorNumber(m.newFlavorId),
    ...(isAtLeast(v, '2.23') ? { migration_type: m.migrationType, ...(inProgressLive(m) ? { links: links(base, m) } : {}) } : {}),
    ...(isAtLeast(v, '2.59') ? { uuid: m.uuid } : {}),
    ...(isAtLeast(v, '2.80') ? { user_id: m.userId, project_id: m.projectId } : {}),
  };
}

/** One live migration of a server (server_migrations.py output): no memory or disk figures (none simulated). */
function serverView(m: Migration, v: ApiVersion) {
  return {
    created_at: dbDatetime(m.created), updated_at: dbDatetime(m.updated), id: m.id, server_uuid: m.instanceUuid, status: m.status,
    source_compute: m.sourceCompute, source_node: m.sourceNode, dest_compute: m.destCompute, dest_node: m.destNode, dest_host: null,
    memory_total_bytes: null, memory_processed_bytes: null, memory_remaining_bytes: null,
    disk_total_bytes: null, disk_processed_bytes: null, disk_remaining_bytes: null,
    ...(isAtLeast(v, '2.59') ? { uuid: m.uuid } : {}),
    ...(isAtLeast(v, '2.80') ? { user_id: m.userId, project_id: m.projectId } : {}),
  };
}

type Query = Record<string, string | undefined>;

/** os-migrations' filters (nova/db/main/api.py migration_get_all_by_filters). */
function filtersOf(q: Query, v: ApiVersion): ((m: Migration) => boolean)[] {
  const filters: ((m: Migration) => boolean)[] = [];
  if (q.host !== undefined) filters.push((m) => m.sourceCompute === q.host || m.destCompute === q.host);
  if (q.source_compute !== undefined) filters.push((m) => m.sourceCompute === q.source_compute);
  if (q.status !== undefined) filters.push((m) => m.status === q.status);
  if (q.instance_uuid !== undefined) filters.push((m) => m.instanceUuid === q.instance_uuid);
  if (q.migration_type !== undefined) filters.push((m) => m.migrationType === q.migration_type);
  if (isAtLeast(v, '2.59')) {
    const since = parseChangesTime(q, 'changes-since');
    if (since !== undefined) filters.push((m) => Date.parse(m.updated) >= since);
  }
  if (isAtLeast(v, '2.66')) {
    const since = parseChangesTime(q, 'changes-since');
    const before = parseChangesTime(q, 'changes-before');
    if (since !== undefined && before !== undefined && before < since) {
      throw new BadRequest('The value of changes-since must be less than or equal to changes-before.');
    }
    if (before !== undefined) filters.push((m) => Date.parse(m.updated) <= before);
  }
  if (isAtLeast(v, '2.80')) {
    if (q.user_id !== undefined) filters.push((m) => m.userId === q.user_id);
    if (q.project_id !== undefined) filters.push((m) => m.projectId === q.project_id);
  }
  return filters;
}

async function listAll(deps: AdmissionDeps, ctx: ApiContext, q: Query) {
  const v = ctx.apiVersion;
  const filters = filtersOf(q, v);
  let found = (await listMigrations(deps.table)).filter((m) => filters.every((f) => f(m)));
  if (!isAtLeast(v, '2.59')) return { migrations: found.map((m) => listView(m, v, ctx.baseUrl)) };
  // 2.59: newest first, paged by a migration's uuid.
  if (q.marker !== undefined) {
    const at = found.findIndex((m) => m.uuid === q.marker);
    if (at < 0) throw new BadRequest(`Marker ${q.marker} could not be found.`);
    found = found.slice(at + 1);
  }
  const limit = pageLimit(q.limit);
  const page = found.slice(0, limit);
  const next = page.length > 0 && page.length === limit
    ? { migrations_links: [{ rel: 'next', href: `${ctx.baseUrl}/v2.1/os-migrations?${new URLSearchParams({ ...(q as Record<string, string>), marker: page.at(-1)!.uuid })}` }] }
    : {};
  return { migrations: page.map((m) => listView(m, v, ctx.baseUrl)), ...next };
}

const migrationId = (event: ApiEvent) => Number(pathParam(event, 'migration_id'));

/** Nova's 404 for a route before the microversion that brought it. */
function since(ctx: ApiContext, version: string): void {
  if (!isAtLeast(ctx.apiVersion, version)) throw new NotFound('The resource could not be found.');
}

/** The handlers of migrationRoutes.ts's declarations, loaded on first use. */
export function migrationHandlers(deps: AdmissionDeps): RouteHandler[] {
  return [
    {
      method: 'GET', path: '/v2.1/os-migrations',
      handler: async (event, ctx) => json(200, await listAll(deps, ctx, (event.queryStringParameters ?? {}) as Query)),
    },
    {
      // A server's migrations: Nova finds the server before its rule (another project's is 404, not
      // 403), so the routes ask what any reader of a server passes and the domain checks the
      // os_compute_api:servers:migrations rule once it has the server (serverMigrations.ts).
      method: 'GET', path: '/v2.1/servers/{server_id}/migrations',
      handler: async (event, ctx) => {
        since(ctx, '2.23');
        const found = await liveMigrationsInProgress(deps.table, ctx.caller, pathParam(event, 'server_id'));
        return json(200, { migrations: found.map((m) => serverView(m, ctx.apiVersion)) });
      },
    },
    {
      method: 'GET', path: '/v2.1/servers/{server_id}/migrations/{migration_id}',
      handler: async (event, ctx) => {
        since(ctx, '2.23');
        const found = await liveMigrationInProgress(deps.table, ctx.caller, pathParam(event, 'server_id'), migrationId(event));
        return json(200, { migration: serverView(found, ctx.apiVersion) });
      },
    },
    {
      method: 'POST', path: '/v2.1/servers/{server_id}/migrations/{migration_id}/action',
      handler: async (event, ctx) => {
        since(ctx, '2.22');
        const body = event.body as Record<string, unknown> | null;
        if (!body || typeof body !== 'object' || !Object.hasOwn(body, 'force_complete')) throw new BadRequest('There is no such action in the request body');
        checkBody('forceComplete', ctx.apiVersion, body.force_complete);
        await forceComplete(deps.table, ctx.caller, pathParam(event, 'server_id'), migrationId(event));
        return empty(202);
      },
    },
    {
      method: 'DELETE', path: '/v2.1/servers/{server_id}/migrations/{migration_id}',
      handler: async (event, ctx) => {
        since(ctx, '2.24');
        await abortLiveMigration(deps.table, ctx.caller, pathParam(event, 'server_id'), migrationId(event), isAtLeast(ctx.apiVersion, '2.65'));
        return empty(202);
      },
    },
  ];
}
