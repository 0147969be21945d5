import type { AdmissionDeps } from '../../core/compute/admission.js';
import { canonicalIp } from '../../core/networks/ip.js';
import { invalidInput, type AllocationPool } from '../../core/networks/model.js';
import { allNetworks } from '../../core/networks/networks.js';
import {
  allSubnets, canSeeSubnet, createSubnet, deleteSubnet, updateSubnet, visibleSubnet, type SubnetChanges,
} from '../../core/networks/subnets.js';
import { excerpt } from '../excerpt.js';
import { empty, json, pathParam, type ApiRoute } from '../http.js';
import { bool, int, list, owningProject, required, resourceBody, str, uuid, type Attrs } from './bodies.js';
import { askerOf, nowOf, V2 } from './common.js';
import { listAnswer, shownFields } from './listing.js';
import { subnetView } from './views.js';

// /v2.0/subnets: a prefix on a network. What taskgate does not do (subnet pools, host routes,
// IPv6 address modes other than a plain pool, segments) is refused by name, never ignored.

const UPDATE = ['name', 'description', 'gateway_ip', 'allocation_pools', 'enable_dhcp', 'dns_nameservers', 'host_routes'];
const CREATE = [...UPDATE, 'network_id', 'ip_version', 'cidr', 'project_id', 'tenant_id', 'subnetpool_id', 'ipv6_address_mode',
  'ipv6_ra_mode', 'service_types', 'tags', 'use_default_subnetpool', 'segment_id'];

const BODY = {
  type: 'object', required: ['subnet'],
  properties: { subnet: { type: 'object', required: ['network_id', 'ip_version', 'cidr'], properties: Object.fromEntries(CREATE.map((k) => [k, {}])) } },
} as const;

function ipText(name: string) {
  return (v: unknown) => {
    const ip = canonicalIp(v);
    if (!ip) throw invalidInput(`Invalid input for ${name}. Reason: '${excerpt(String(v))}' is not a valid IP address.`);
    return ip;
  };
}

function pools(attrs: Attrs): AllocationPool[] | undefined {
  return list(attrs, 'allocation_pools', (p) => {
    if (typeof p !== 'object' || p === null || Object.keys(p).some((k) => k !== 'start' && k !== 'end')) {
      throw invalidInput(`Invalid input for allocation_pools. Reason: '${excerpt(JSON.stringify(p))}' is not a valid allocation pool.`);
    }
    const { start, end } = p as { start?: unknown; end?: unknown };
    return { start: ipText('allocation_pools')(start), end: ipText('allocation_pools')(end) };
  });
}

/** What taskgate does not serve: only its empty or null value is accepted. */
function unsupported(attrs: Attrs, names: readonly string[]) {
  for (const name of names) {
    const v = attrs[name];
    if (v === undefined || v === null || v === false || (Array.isArray(v) && v.length === 0)) continue;
    throw invalidInput(`Invalid input for ${name}. Reason: taskgate does not support ${name}.`);
  }
}

function changes(attrs: Attrs): SubnetChanges {
  unsupported(attrs, ['host_routes']);
  const gateway = attrs.gateway_ip === null ? null : attrs.gateway_ip === undefined ? undefined : ipText('gateway_ip')(attrs.gateway_ip);
  const c: Record<string, unknown> = {
    name: str(attrs, 'name'), description: str(attrs, 'description'), enableDhcp: bool(attrs, 'enable_dhcp'),
    dnsNameservers: list(attrs, 'dns_nameservers', ipText('dns_nameservers')), gatewayIp: gateway, allocationPools: pools(attrs),
  };
  return Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) as SubnetChanges;
}

export function subnetRoutes(deps: AdmissionDeps): ApiRoute[] {
  return [
    {
      method: 'GET', path: `${V2}/subnets`, policy: 'get_subnet',
      doc: { summary: 'List subnets (Neutron)', success: [200] },
      handler: async (event, ctx) => {
        const asker = askerOf(ctx);
        const networks = new Map((await allNetworks(deps.table)).map((n) => [n.id, n]));
        const views = (await allSubnets(deps.table))
          .filter((s) => networks.get(s.networkId)?.subnets.includes(s.id) && canSeeSubnet(s, networks.get(s.networkId), asker))
          .map(subnetView);
        return json(200, listAnswer(event, ctx, 'subnets', views));
      },
    },
    {
      method: 'GET', path: `${V2}/subnets/{subnet_id}`, policy: 'get_subnet',
      doc: { summary: 'Show a subnet (Neutron)', success: [200] },
      handler: async (event, ctx) => {
        const { subnet } = await visibleSubnet(deps.table, askerOf(ctx), pathParam(event, 'subnet_id'));
        return json(200, { subnet: shownFields(event, subnetView(subnet)) });
      },
    },
    {
      method: 'POST', path: `${V2}/subnets`, policy: 'create_subnet', body: BODY,
      doc: { summary: 'Create a subnet (Neutron)', success: [201] },
      handler: async (event, ctx) => {
        const attrs = resourceBody(event.body, 'subnet', CREATE, 'POST');
        for (const name of ['network_id', 'ip_version', 'cidr']) required(attrs, name);
        unsupported(attrs, ['subnetpool_id', 'ipv6_address_mode', 'ipv6_ra_mode', 'service_types', 'tags', 'use_default_subnetpool', 'segment_id']);
        const ipVersion = int(attrs, 'ip_version', 4, 6);
        if (ipVersion !== 4 && ipVersion !== 6) throw invalidInput(`Invalid input for ip_version. Reason: '${ipVersion}' is not in [4, 6].`);
        const c = changes(attrs);
        const subnet = await createSubnet(deps.table, askerOf(ctx), ctx.requestId, {
          networkId: uuid(attrs, 'network_id')!, projectId: owningProject(attrs, ctx.caller), name: c.name ?? '',
          description: c.description ?? '', ipVersion, cidr: str(attrs, 'cidr', 64)!, gatewayIp: c.gatewayIp,
          allocationPools: c.allocationPools, enableDhcp: c.enableDhcp ?? true, dnsNameservers: c.dnsNameservers ?? [],
        }, nowOf(deps));
        return json(201, { subnet: subnetView(subnet) });
      },
    },
    {
      method: 'PUT', path: `${V2}/subnets/{subnet_id}`, policy: 'update_subnet', body: BODY,
      doc: { summary: 'Update a subnet (Neutron)', success: [200] },
      handler: async (event, ctx) => {
        const c = changes(resourceBody(event.body, 'subnet', UPDATE, 'PUT'));
        const subnet = await updateSubnet(deps.table, askerOf(ctx), pathParam(event, 'subnet_id'), c, nowOf(deps));
        return json(200, { subnet: subnetView(subnet) });
      },
    },
    {
      method: 'DELETE', path: `${V2}/subnets/{subnet_id}`, policy: 'delete_subnet',
      doc: { summary: 'Delete a subnet (Neutron; 409 SubnetInUse while an address of it is allocated)', success: [204] },
      handler: async (event, ctx) => {
        await deleteSubnet(deps.table, askerOf(ctx), pathParam(event, 'subnet_id'));
        return empty(204);
      },
    },
  ];
}
