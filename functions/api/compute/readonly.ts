import { findAction, listActionsOf, type InstanceAction } from '../../core/compute/instanceActions.js';
import type { AdmissionDeps } from '../../core/compute/admission.js';
import { readInstance } from '../../core/compute/readInstance.js';
import { BadRequest, NotFound } from '../../core/shared/errors.js';
import type { Instance } from '../../core/compute/instance.js';
import { isAtLeast } from '../apiVersion.js';
import { json, pathParam, type ApiContext, type ApiEvent } from '../http.js';
import type { RouteHandler } from '../routesOnFirstUse.js';
import { pageLimit, parseChangesTime } from '../listQuery.js';
import { instanceActionView } from '../views.js';

// Instance actions (os-instance-actions), as their microversions change them: 2.21 reads a
// deleted server's actions, 2.51 shows every user the events (the traceback to admins only),
// 2.58 adds updated_at and paging (limit, marker, changes-since), 2.62 the events' host and
// hostId, 2.66 changes-before.


/** The server, deleted ones too from 2.21 (Nova reads them with read_deleted='yes'). */
async function serverFor(deps: AdmissionDeps, event: ApiEvent, ctx: ApiContext): Promise<Instance> {
  const id = pathParam(event, 'server_id');
  const s = await readInstance(deps.table, id);
  const visible = s && (ctx.caller.isAdmin || s.projectId === ctx.caller.projectId)
    && (!s.deleted || isAtLeast(ctx.apiVersion, '2.21'));
  if (!visible) throw new NotFound(`Instance ${id} could not be found.`);
  return s;
}

/** When the action last changed: Nova's updated_at. */
export const actionUpdated = (a: InstanceAction) => a.finishTime ?? a.eventStart ?? a.startTime;

function page(actions: InstanceAction[], event: ApiEvent, ctx: ApiContext, serverId: string) {
  if (!isAtLeast(ctx.apiVersion, '2.58')) return { actions };
  const q = event.queryStringParameters ?? {};
  const since = parseChangesTime(q, 'changes-since');
  const before = isAtLeast(ctx.apiVersion, '2.66') ? parseChangesTime(q, 'changes-before') : undefined;
  if (since && before && before < since) {
    throw new BadRequest('The value of changes-since must be less than or equal to changes-before.');
  }
  let list = actions.filter((a) => {
    const t = Date.parse(actionUpdated(a));
    return (!since || t >= since) && (!before || t <= before);
  });
  if (q.marker !== undefined) {
    const at = list.findIndex((a) => a.requestId === q.marker);
    if (at < 0) throw new BadRequest(`Marker ${q.marker} could not be found.`);
    list = list.slice(at + 1);
  }
  const limit = pageLimit(q.limit);
  const shown = list.slice(0, limit);
  const next = shown.length > 0 && shown.length === limit ? shown.at(-1)!.requestId : undefined;
  const links = next ? [{
    rel: 'next',
    href: `${ctx.baseUrl}/v2.1/servers/${serverId}/os-instance-actions?${new URLSearchParams({
      ...(q as Record<string, string>), marker: next,
    })}`,
  }] : undefined;
  return { actions: shown, links };
}

/** The handlers of instanceActionRoutes.ts's declarations, loaded on first use. */
export function instanceActionHandlers(deps: AdmissionDeps): RouteHandler[] {
  return [
    {
      method: 'GET', path: '/v2.1/servers/{server_id}/os-instance-actions',
      handler: async (event, ctx) => {
        const server = await serverFor(deps, event, ctx);
        const { actions, links } = page(await listActionsOf(deps.table, server), event, ctx, server.id);
        return json(200, {
          instanceActions: actions.map((a) => instanceActionView(a, false, { version: ctx.apiVersion, isAdmin: ctx.caller.isAdmin })),
          ...(links ? { links } : {}),
        });
      },
    },
    {
      method: 'GET', path: '/v2.1/servers/{server_id}/os-instance-actions/{request_id}',
      handler: async (event, ctx) => {
        const server = await serverFor(deps, event, ctx);
        const requestId = pathParam(event, 'request_id');
        const action = await findAction(deps.table, server, requestId);
        if (!action) throw new NotFound(`Action for request_id ${requestId} on instance ${server.id} not found`);
        return json(200, {
          instanceAction: instanceActionView(action, true, { version: ctx.apiVersion, isAdmin: ctx.caller.isAdmin }),
        });
      },
    },
  ];
}
