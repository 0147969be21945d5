import { randomUUID } from 'node:crypto';
import type { AdmissionDeps } from '../../core/compute/admission.js';
import {
  addHost, createAggregate, deleteAggregate, listAggregates, readAggregate, removeHost, setAggregateMetadata, updateAggregate,
  type Aggregate,
} from '../../core/placement/aggregates.js';
import { isAtLeast, type ApiVersion } from '../apiVersion.js';
import { empty, json, pathParam, type ApiEvent } from '../http.js';
import type { RouteHandler } from '../routesOnFirstUse.js';
import { checkBody } from '../serverSchemas.js';
import { dbDatetime } from '../timestamps.js';

// os-aggregates (nova/api/openstack/compute/aggregates.py; administrators only): host aggregates
// whose `availability_zone` is the zone of their hosts (functions/core/placement/aggregates.ts).

function aggregateView(a: Aggregate, v: ApiVersion) {
  return {
    id: a.id, name: a.name, availability_zone: a.metadata.availability_zone ?? null,
    hosts: Object.keys(a.hosts ?? {}).sort(), metadata: a.metadata,
    created_at: dbDatetime(a.created), updated_at: dbDatetime(a.updated), deleted_at: null, deleted: false,
    ...(isAtLeast(v, '2.41') ? { uuid: a.uuid } : {}),
  };
}

const idOf = (event: ApiEvent) => Number(pathParam(event, 'aggregate_id'));

type Body = { aggregate: { name?: string; availability_zone?: string | null } };
type Action = { add_host?: { host: string }; remove_host?: { host: string }; set_metadata?: { metadata: Record<string, string | null> } };

/** The handlers of aggregateRoutes.ts's declarations, loaded on first use. */
export function aggregateHandlers(deps: AdmissionDeps): RouteHandler[] {
  const A = '/v2.1/os-aggregates';
  const now = () => (deps.now ?? Date.now)();
  return [
    {
      method: 'GET', path: A,
      handler: async (_event, ctx) => json(200, { aggregates: (await listAggregates(deps.table)).map((a) => aggregateView(a, ctx.apiVersion)) }),
    },
    {
      method: 'POST', path: A,
      handler: async (event, ctx) => {
        const { aggregate } = checkBody<Body>('createAggregate', ctx.apiVersion, event.body);
        const made = await createAggregate(deps.table, aggregate.name!.trim(), aggregate.availability_zone ?? undefined, randomUUID(), now());
        const { hosts: _h, metadata: _m, ...view } = aggregateView(made, ctx.apiVersion);
        return json(200, { aggregate: view });
      },
    },
    {
      method: 'GET', path: `${A}/{aggregate_id}`,
      handler: async (event, ctx) => json(200, { aggregate: aggregateView(await readAggregate(deps.table, idOf(event)), ctx.apiVersion) }),
    },
    {
      method: 'PUT', path: `${A}/{aggregate_id}`,
      handler: async (event, ctx) => {
        const { aggregate: change } = checkBody<Body>('updateAggregate', ctx.apiVersion, event.body);
        const current = await readAggregate(deps.table, idOf(event));
        const updated = await updateAggregate(deps.table, current, {
          ...(change.name !== undefined ? { name: change.name.trim() } : {}),
          ...(change.availability_zone ? { zone: change.availability_zone } : {}),
        }, now());
        return json(200, { aggregate: aggregateView(updated, ctx.apiVersion) });
      },
    },
    {
      method: 'DELETE', path: `${A}/{aggregate_id}`,
      handler: async (event) => {
        await deleteAggregate(deps.table, await readAggregate(deps.table, idOf(event)));
        return empty(200);
      },
    },
    {
      method: 'POST', path: `${A}/{aggregate_id}/action`,
      handler: async (event, ctx) => {
        const action = checkBody<Action>('aggregateAction', ctx.apiVersion, event.body);
        const current = await readAggregate(deps.table, idOf(event));
        const after = action.add_host ? await addHost(deps.table, current, action.add_host.host, now())
          : action.remove_host ? await removeHost(deps.table, current, action.remove_host.host, now())
            : await setAggregateMetadata(deps.table, current, action.set_metadata!.metadata, now());
        return json(200, { aggregate: aggregateView(after, ctx.apiVersion) });
      },
    },
  ];
}
