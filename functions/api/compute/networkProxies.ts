import type { AdmissionDeps } from '../../core/compute/admission.js';
import { DomainError, BadRequest, NotFound } from '../../core/shared/errors.js';
import { allNetworks, canSeeNetwork, readNetwork } from '../../core/networks/networks.js';
import {
  allGroups, allRules, createGroup, deleteGroup, ensureDefaultGroup, visibleGroup,
} from '../../core/networks/securityGroups.js';
import type { Network, SecurityGroup, SecurityGroupRule } from '../../core/networks/model.js';
import { isAtLeast } from '../apiVersion.js';
import { empty, HttpFault, json, pathParam, type ApiContext, type Route } from '../http.js';
import type { RouteHandler } from '../routesOnFirstUse.js';

// Nova's proxies to the network service (nova/api/openstack/compute/networks.py and
// security_groups.py): served up to 2.35, and Nova's 404 from 2.36 (MAX_PROXY_API_SUPPORT_VERSION).

const proxied = (route: Route): Route => async (event, ctx) => {
  if (isAtLeast(ctx.apiVersion, '2.36')) throw new HttpFault('itemNotFound', 404, 'The resource could not be found.');
  return route(event, ctx);
};

const NETWORK_FIELDS = ['id', 'cidr', 'netmask', 'gateway', 'broadcast', 'dns1', 'dns2', 'cidr_v6', 'gateway_v6', 'label', 'netmask_v6'];
const ADMIN_FIELDS = ['created_at', 'updated_at', 'deleted_at', 'deleted', 'injected', 'bridge', 'vlan', 'vpn_public_address',
  'vpn_public_port', 'vpn_private_address', 'dhcp_start', 'project_id', 'host', 'bridge_interface', 'multi_host', 'priority',
  'rxtx_base', 'mtu', 'dhcp_server', 'enable_dhcp', 'share_address'];

/** Nova's network_dict: with Neutron, two fields of thirty (id and label); the rest null. */
function networkDict(n: Network, isAdmin: boolean) {
  const fields = isAdmin ? [...NETWORK_FIELDS, ...ADMIN_FIELDS] : NETWORK_FIELDS;
  return Object.fromEntries(fields.map((f) => [f, f === 'id' ? n.id : f === 'label' ? n.name : null]));
}

/** Nova shows a group's ingress rules only, each in its own format (_convert_to_nova_security_group_rule_format). */
function groupView(g: SecurityGroup, rules: readonly SecurityGroupRule[], groups: readonly SecurityGroup[]) {
  return {
    id: g.id, description: g.description, name: g.name, tenant_id: g.projectId,
    rules: rules.filter((r) => r.securityGroupId === g.id && r.direction === 'ingress').map((r) => {
      const whole = r.protocol !== null && r.portRangeMin === null && r.portRangeMax === null;
      const tcpUdp = r.protocol === 'tcp' || r.protocol === 'udp';
      const source = r.remoteGroupId ? groups.find((x) => x.id === r.remoteGroupId) : undefined;
      return {
        id: r.id, parent_group_id: r.securityGroupId, ip_protocol: r.protocol,
        from_port: whole ? (tcpUdp ? 1 : -1) : r.portRangeMin, to_port: whole ? (tcpUdp ? 65535 : -1) : r.portRangeMax,
        group: source ? { name: source.name, tenant_id: source.projectId } : {},
        ip_range: r.remoteGroupId ? {} : { cidr: r.remoteIpPrefix },
      };
    }),
  };
}

async function groupsAnswer(deps: AdmissionDeps, ctx: ApiContext) {
  await ensureDefaultGroup(deps.table, ctx.caller.projectId);
  const [groups, rules] = [await allGroups(deps.table), await allRules(deps.table)];
  return { groups, rules };
}

/** Neutron's refusals come back through Nova as its 400 (security_group_api: exception.Invalid). */
const asNova = async <T>(work: () => Promise<T>): Promise<T> => {
  try {
    return await work();
  } catch (err) {
    if (err instanceof DomainError && err.kind === 'conflictingRequest') throw new BadRequest(err.message, { cause: err });
    if (err instanceof DomainError && err.kind === 'itemNotFound') throw new NotFound(err.message.replace(/ does not exist$/, ' not found.'), { cause: err });
    throw err;
  }
};

/** The handlers of networkProxyRoutes.ts's declarations, loaded on first use. */
export function networkProxyHandlers(deps: AdmissionDeps): RouteHandler[] {
  return [
    {
      method: 'GET', path: '/v2.1/os-networks',
      handler: proxied(async (_event, ctx) => {
        const networks = (await allNetworks(deps.table)).filter((n) => canSeeNetwork(n, ctx.caller));
        return json(200, { networks: networks.map((n) => networkDict(n, ctx.caller.isAdmin)) });
      }),
    },
    {
      method: 'GET', path: '/v2.1/os-networks/{network_id}',
      handler: proxied(async (event, ctx) => {
        const network = await readNetwork(deps.table, pathParam(event, 'network_id'));
        if (!network || !canSeeNetwork(network, ctx.caller)) throw new NotFound('Network not found');
        return json(200, { network: networkDict(network, ctx.caller.isAdmin) });
      }),
    },
    {
      method: 'GET', path: '/v2.1/os-security-groups',
      handler: proxied(async (event, ctx) => {
        const { groups, rules } = await groupsAnswer(deps, ctx);
        // Nova lists the project's own groups, sorted by project and name; an administrator's
        // `all_tenants`, whatever its value, lists every project's (security_group_api.list).
        const all = ctx.caller.isAdmin && Object.hasOwn(event.queryStringParameters ?? {}, 'all_tenants');
        const listed = groups.filter((g) => all || g.projectId === ctx.caller.projectId).map((g) => groupView(g, rules, groups))
          .sort((a, b) => (a.tenant_id + a.name < b.tenant_id + b.name ? -1 : 1));
        return json(200, { security_groups: listed });
      }),
    },
    {
      method: 'GET', path: '/v2.1/os-security-groups/{security_group_id}',
      handler: proxied(async (event, ctx) => {
        const group = await asNova(() => visibleGroup(deps.table, ctx.caller, pathParam(event, 'security_group_id')));
        const { groups, rules } = await groupsAnswer(deps, ctx);
        return json(200, { security_group: groupView(group, rules, groups) });
      }),
    },
    {
      method: 'POST', path: '/v2.1/os-security-groups',
      handler: proxied(async (event, ctx) => {
        const body = event.body as { security_group?: { name?: unknown; description?: unknown } } | undefined;
        const sg = body?.security_group;
        if (typeof sg !== 'object' || sg === null) throw new BadRequest('\'security_group\' is a required property');
        for (const field of ['name', 'description'] as const) {
          const v = sg[field];
          if (typeof v !== 'string' || v.length > 255) {
            throw new BadRequest(`Invalid input for field/attribute ${field}. Value: ${JSON.stringify(v ?? null)}. It is not a string of at most 255 characters`);
          }
        }
        if (sg.name === 'default') throw new BadRequest('Security group default already exists.');
        await ensureDefaultGroup(deps.table, ctx.caller.projectId);
        const group = await createGroup(deps.table, ctx.requestId, {
          name: sg.name as string, description: sg.description as string, projectId: ctx.caller.projectId, stateful: true,
        }, Date.now());
        const { groups, rules } = await groupsAnswer(deps, ctx);
        return json(200, { security_group: groupView(group, rules, groups) });
      }),
    },
    {
      method: 'DELETE', path: '/v2.1/os-security-groups/{security_group_id}',
      handler: proxied(async (event, ctx) => {
        await asNova(() => deleteGroup(deps.table, ctx.caller, pathParam(event, 'security_group_id')));
        return empty(202);
      }),
    },
  ];
}

