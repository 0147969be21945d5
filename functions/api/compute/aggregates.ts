import { randomUUID } from 'node:crypto';
import type { AdmissionDeps } from '../../core/compute/admission.js';
import {
  addHost, createAggregate, deleteAggregate, listAggregates, readAggregate, removeHost, setAggregateMetadata, updateAggregate,
  type Aggregate,
} from '../../core/placement/aggregates.js';
import { isAtLeast, type ApiVersion } from '../apiVersion.js';
import { empty, json, pathParam, type ApiEvent, type ApiRoute } from '../http.js';
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

export function aggregateRoutes(deps: AdmissionDeps): ApiRoute[] {
  const A = '/v2.1/os-aggregates';
  const now = () => (deps.now ?? Date.now)();
  return [
    {
      method: 'GET', path: A, policy: 'os_compute_api:os-aggregates:index',
      doc: { summary: 'List host aggregates (admin)', success: [200] },
      handler: async (_event, ctx) => json(200, { aggregates: (await listAggregates(deps.table)).map((a) => aggregateView(a, ctx.apiVersion)) }),
    },
    {
      method: 'POST', path: A, policy: 'os_compute_api:os-aggregates:create', body: {},
      doc: { summary: 'Create a host aggregate (admin)', success: [200] },
      handler: async (event, ctx) => {
        const { aggregate } = checkBody<Body>('createAggregate', ctx.apiVersion, event.body);
        const made = await createAggregate(deps.table, aggregate.name!.trim(), aggregate.availability_zone ?? undefined, randomUUID(), now());
        const { hosts: _h, metadata: _m, ...view } = aggregateView(made, ctx.apiVersion);
        return json(200, { aggregate: view });
      },
    },
    {
      method: 'GET', path: `${A}/{aggregate_id}`, policy: 'os_compute_api:os-aggregates:show',
      doc: { summary: 'Show a host aggregate (admin)', success: [200] },
      handler: async (event, ctx) => json(200, { aggregate: aggregateView(await readAggregate(deps.table, idOf(event)), ctx.apiVersion) }),
    },
    {
      method: 'PUT', path: `${A}/{aggregate_id}`, policy: 'os_compute_api:os-aggregates:update', body: {},
      doc: { summary: 'Rename a host aggregate or set its zone (admin)', success: [200] },
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
      method: 'DELETE', path: `${A}/{aggregate_id}`, policy: 'os_compute_api:os-aggregates:delete',
      doc: { summary: 'Delete an empty host aggregate (admin)', success: [200] },
      handler: async (event) => {
        await deleteAggregate(deps.table, await readAggregate(deps.table, idOf(event)));
        return empty(200);
      },
    },
    {
      method: 'POST', path: `${A}/{aggregate_id}/action`, policy: 'os_compute_api:os-aggregates:add_host', body: {},
      doc: { summary: 'Add or remove a host, or set metadata (admin)', success: [200] },
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
