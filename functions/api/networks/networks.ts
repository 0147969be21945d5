import type { AdmissionDeps } from '../../core/compute/admission.js';
import {
  allNetworks, canSeeNetwork, createNetwork, deleteNetwork, updateNetwork, visibleNetwork, type NetworkChanges,
} from '../../core/networks/networks.js';
import { empty, json, pathParam, type ApiRoute } from '../http.js';
import { bool, int, list, owningProject, resourceBody, str, type Attrs } from './bodies.js';
import { askerOf, neutronAuthorize, nowOf, V2 } from './common.js';
import { listAnswer, shownFields } from './listing.js';
import { networkView } from './views.js';

// /v2.0/networks: Neutron's network resource. `shared` and `router:external` are the
// administrator's to set (create_network:shared, create_network:router:external).

const COMMON = ['name', 'description', 'admin_state_up', 'shared', 'router:external', 'mtu', 'port_security_enabled'];
const CREATE = [...COMMON, 'project_id', 'tenant_id', 'availability_zone_hints', 'tags'];

const BODY = {
  type: 'object', required: ['network'],
  properties: { network: { type: 'object', properties: Object.fromEntries(CREATE.map((k) => [k, {}])) } },
} as const;

function changes(attrs: Attrs): NetworkChanges {
  const c: Record<string, unknown> = {
    name: str(attrs, 'name'), description: str(attrs, 'description'), adminStateUp: bool(attrs, 'admin_state_up'),
    shared: bool(attrs, 'shared'), external: bool(attrs, 'router:external'), mtu: int(attrs, 'mtu', 68, 9216),
    portSecurityEnabled: bool(attrs, 'port_security_enabled'),
  };
  list(attrs, 'availability_zone_hints', () => undefined);
  list(attrs, 'tags', () => undefined);
  return Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) as NetworkChanges;
}

export function networkRoutes(deps: AdmissionDeps): ApiRoute[] {
  return [
    {
      method: 'GET', path: `${V2}/networks`, policy: 'get_network',
      doc: { summary: 'List networks (Neutron: any attribute filters; fields, sort_key, sort_dir, limit, marker)', success: [200] },
      handler: async (event, ctx) => {
        const asker = askerOf(ctx);
        const views = (await allNetworks(deps.table)).filter((n) => canSeeNetwork(n, asker)).map(networkView);
        return json(200, listAnswer(event, ctx, 'networks', views));
      },
    },
    {
      method: 'GET', path: `${V2}/networks/{network_id}`, policy: 'get_network',
      doc: { summary: 'Show a network (Neutron)', success: [200] },
      handler: async (event, ctx) => {
        const network = await visibleNetwork(deps.table, askerOf(ctx), pathParam(event, 'network_id'));
        return json(200, { network: shownFields(event, networkView(network)) });
      },
    },
    {
      method: 'POST', path: `${V2}/networks`, policy: 'create_network', body: BODY,
      doc: { summary: 'Create a network (Neutron)', success: [201] },
      handler: async (event, ctx) => {
        const attrs = resourceBody(event.body, 'network', CREATE, 'POST');
        const c = changes(attrs);
        const projectId = owningProject(attrs, ctx.caller);
        if (c.shared) neutronAuthorize(ctx, 'create_network:shared');
        if (c.external) neutronAuthorize(ctx, 'create_network:router:external');
        const network = await createNetwork(deps.table, ctx.requestId, {
          name: c.name ?? '', description: c.description ?? '', projectId, adminStateUp: c.adminStateUp ?? true,
          shared: c.shared ?? false, external: c.external ?? false, mtu: c.mtu ?? 1450, portSecurityEnabled: c.portSecurityEnabled ?? true,
        }, nowOf(deps));
        return json(201, { network: networkView(network) });
      },
    },
    {
      method: 'PUT', path: `${V2}/networks/{network_id}`, policy: 'update_network', body: BODY,
      doc: { summary: 'Update a network (Neutron)', success: [200] },
      handler: async (event, ctx) => {
        const c = changes(resourceBody(event.body, 'network', COMMON, 'PUT'));
        if (c.shared !== undefined) neutronAuthorize(ctx, 'update_network:shared');
        if (c.external !== undefined) neutronAuthorize(ctx, 'update_network:router:external');
        const network = await updateNetwork(deps.table, askerOf(ctx), pathParam(event, 'network_id'), c, nowOf(deps));
        return json(200, { network: networkView(network) });
      },
    },
    {
      method: 'DELETE', path: `${V2}/networks/{network_id}`, policy: 'delete_network',
      doc: { summary: 'Delete a network (Neutron; 409 NetworkInUse while it has ports)', success: [204] },
      handler: async (event, ctx) => {
        await deleteNetwork(deps.table, askerOf(ctx), pathParam(event, 'network_id'));
        return empty(204);
      },
    },
  ];
}
