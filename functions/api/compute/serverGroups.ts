import { randomUUID } from 'node:crypto';
import type { AdmissionDeps } from '../../core/compute/admission.js';
import { createGroup, deleteGroup, listGroups, visibleGroup, type GroupPolicy, type ServerGroup } from '../../core/placement/serverGroups.js';
import { BadRequest } from '../../core/shared/errors.js';
import { authorize } from '../../core/shared/policy.js';
import { isAtLeast, type ApiVersion } from '../apiVersion.js';
import { empty, json, pathParam } from '../http.js';
import type { RouteHandler } from '../routesOnFirstUse.js';
import { checkBody } from '../serverSchemas.js';

// os-server-groups (nova/api/openstack/compute/server_groups.py): a group's policy is enforced
// where its members are placed (functions/core/placement/scheduler.ts), not here.

/** Nova's view: `policies` and `metadata` before 2.64, `policy` and `rules` from it; the owner from 2.13. */
function groupView(g: ServerGroup, v: ApiVersion) {
  return {
    id: g.id, name: g.name,
    ...(isAtLeast(v, '2.64') ? { policy: g.policy, rules: g.rules } : { policies: [g.policy] }),
    members: Object.keys(g.members ?? {}),
    ...(isAtLeast(v, '2.64') ? {} : { metadata: {} }),
    ...(isAtLeast(v, '2.13') ? { project_id: g.projectId, user_id: g.userId } : {}),
  };
}

type CreateBody = { server_group: { name: string; policies?: GroupPolicy[]; policy?: GroupPolicy; rules?: { max_server_per_host?: number | string } } };

/** Nova's limit/offset paging of the list (common.limited). */
function page<T>(items: T[], query: Record<string, string | undefined>): T[] {
  const number = (name: string, fallback: number) => {
    const raw = query[name];
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw.trim())) throw new BadRequest(`${name} param must be an integer`);
    return Number(raw);
  };
  const offset = number('offset', 0);
  const limit = Math.min(number('limit', 1000), 1000);
  return items.slice(offset, offset + limit);
}

/** The handlers of serverGroupRoutes.ts's declarations, loaded on first use. */
export function serverGroupHandlers(deps: AdmissionDeps): RouteHandler[] {
  const GROUPS = '/v2.1/os-server-groups';
  return [
    {
      method: 'POST', path: GROUPS,
      handler: async (event, ctx) => {
        const { server_group: body } = checkBody<CreateBody>('createServerGroup', ctx.apiVersion, event.body);
        const policy = (body.policy ?? body.policies![0])!;
        const rules: { max_server_per_host?: number } = {};
        if (body.rules && Object.keys(body.rules).length > 0) {
          if (policy !== 'anti-affinity') throw new BadRequest('Only anti-affinity policy supports rules.');
          if (body.rules.max_server_per_host !== undefined) rules.max_server_per_host = Number(body.rules.max_server_per_host);
          if (rules.max_server_per_host !== undefined && !(rules.max_server_per_host >= 1)) {
            throw new BadRequest('Invalid input for field/attribute max_server_per_host. Value: 0. 0 is less than the minimum of 1');
          }
        }
        const group = await createGroup(deps.table, {
          id: randomUUID(), name: body.name.trim(), policy, rules, projectId: ctx.caller.projectId, userId: ctx.caller.userId,
        }, (deps.now ?? Date.now)());
        return json(200, { server_group: groupView(group, ctx.apiVersion) });
      },
    },
    {
      method: 'GET', path: GROUPS,
      handler: async (event, ctx) => {
        const query = event.queryStringParameters ?? {};
        const all = query.all_projects !== undefined && !/^(0|false|f|no|n|off)$/i.test(query.all_projects);
        if (all) authorize(ctx.caller, 'os_compute_api:os-server-groups:index:all_projects');
        const groups = await listGroups(deps.table, all ? 'all' : ctx.caller.projectId);
        return json(200, { server_groups: page(groups, query).map((g) => groupView(g, ctx.apiVersion)) });
      },
    },
    {
      method: 'GET', path: `${GROUPS}/{group_id}`,
      handler: async (event, ctx) => json(200, {
        server_group: groupView(await visibleGroup(deps.table, ctx.caller, pathParam(event, 'group_id')), ctx.apiVersion),
      }),
    },
    {
      method: 'DELETE', path: `${GROUPS}/{group_id}`,
      handler: async (event, ctx) => {
        await deleteGroup(deps.table, await visibleGroup(deps.table, ctx.caller, pathParam(event, 'group_id')));
        return empty(204);
      },
    },
  ];
}
