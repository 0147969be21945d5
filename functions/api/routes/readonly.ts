import { findAction, listActionsOf } from '../../core/actions.js';
import type { AdmissionDeps } from '../../core/admission.js';
import { NotFound } from '../../core/errors.js';
import { FLAVORS, findFlavor } from '../../core/flavors.js';
import { getServer } from '../../core/instances.js';
import { json, pathParam, type ApiEvent, type ApiRoute } from '../http.js';
import { flavorView, instanceActionView } from '../views.js';

/** The flavor the path names, or Nova's 404. */
function flavorOf(event: ApiEvent) {
  const flavorId = pathParam(event, 'flavor_id');
  const flavor = findFlavor(flavorId);
  if (!flavor) throw new NotFound(`Flavor ${flavorId} could not be found.`);
  return flavor;
}

/** Instance actions (os-instance-actions) and flavors, with their (empty) extra specs. */
export function readonlyRoutes(deps: AdmissionDeps): ApiRoute[] {
  return [
    {
      method: 'GET', path: '/v2.1/servers/{server_id}/os-instance-actions',
      doc: { summary: 'List instance actions', success: [200] },
      handler: async (event, ctx) => {
        const server = await getServer(deps.table, ctx.caller, pathParam(event, 'server_id'));
        const actions = await listActionsOf(deps.table, server);
        return json(200, { instanceActions: actions.map((a) => instanceActionView(a, false)) });
      },
    },
    {
      method: 'GET', path: '/v2.1/servers/{server_id}/os-instance-actions/{request_id}',
      doc: { summary: 'Show an instance action with its events', success: [200] },
      handler: async (event, ctx) => {
        const server = await getServer(deps.table, ctx.caller, pathParam(event, 'server_id'));
        const requestId = pathParam(event, 'request_id');
        const action = await findAction(deps.table, server, requestId);
        if (!action) throw new NotFound(`Action for request_id ${requestId} on instance ${server.id} not found`);
        return json(200, { instanceAction: instanceActionView(action, true) });
      },
    },
    {
      method: 'GET', path: '/v2.1/flavors',
      doc: { summary: 'List flavors', success: [200] },
      handler: async (_event, ctx) => json(200, { flavors: FLAVORS.map((f) => flavorView(f, ctx.baseUrl, false)) }),
    },
    {
      method: 'GET', path: '/v2.1/flavors/detail',
      doc: { summary: 'List flavors with details', success: [200] },
      handler: async (_event, ctx) => json(200, { flavors: FLAVORS.map((f) => flavorView(f, ctx.baseUrl, true)) }),
    },
    {
      method: 'GET', path: '/v2.1/flavors/{flavor_id}',
      doc: { summary: 'Show a flavor', success: [200] },
      handler: async (event, ctx) => json(200, { flavor: flavorView(flavorOf(event), ctx.baseUrl, true) }),
    },
    {
      // taskgate's flavors have no extra specs; clients read them (openstack flavor show/list).
      method: 'GET', path: '/v2.1/flavors/{flavor_id}/os-extra_specs',
      doc: { summary: 'List a flavor\'s extra specs (none)', success: [200] },
      handler: async (event) => {
        flavorOf(event); // 404 for an unknown flavor
        return json(200, { extra_specs: {} });
      },
    },
    {
      method: 'GET', path: '/v2.1/flavors/{flavor_id}/os-extra_specs/{key}',
      doc: { summary: 'Show a flavor\'s extra spec (there are none)', success: [200] },
      handler: async (event) => {
        const flavor = flavorOf(event);
        throw new NotFound(`Flavor ${flavor.id} has no extra specs with key ${pathParam(event, 'key')}.`);
      },
    },
  ];
}
