import type { AdmissionDeps } from '../../core/compute/admission.js';
import { parseCidr } from '../../core/networks/ip.js';
import { invalidInput, securityGroupNotFound } from '../../core/networks/model.js';
import { Conflict } from '../../core/shared/errors.js';
import {
  allGroups, allRules, canSeeGroup, createGroup, createRule, deleteGroup, deleteRule, ensureDefaultGroup, rulesOf, updateGroup,
  visibleGroup, visibleRule, type NewRule,
} from '../../core/networks/securityGroups.js';
import { isUuid } from '../../core/shared/ids.js';
import { excerpt } from '../excerpt.js';
import { empty, json, pathParam, type ApiRoute } from '../http.js';
import { bool, owningProject, required, resourceBody, str, uuid, type Attrs } from './bodies.js';
import { askerOf, nowOf, V2 } from './common.js';
import { listAnswer, shownFields } from './listing.js';
import { ruleView, securityGroupView } from './views.js';

// /v2.0/security-groups and /v2.0/security-group-rules. Listing a project's groups makes its
// `default` group first, as Neutron does.

const GROUP = ['name', 'description', 'stateful'];
const GROUP_CREATE = [...GROUP, 'project_id', 'tenant_id'];
const RULE = ['security_group_id', 'direction', 'ethertype', 'protocol', 'port_range_min', 'port_range_max', 'remote_ip_prefix',
  'remote_group_id', 'description', 'project_id', 'tenant_id', 'remote_address_group_id'];

const body = (resource: string, keys: readonly string[]) => ({
  type: 'object', required: [resource], properties: { [resource]: { type: 'object', properties: Object.fromEntries(keys.map((k) => [k, {}])) } },
});

const PROTOCOLS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, ipv6_icmp: 58 };

/** Neutron's name validator (_validate_name_not_default): "default", in any case, is taken, on a create or an update. */
function groupName(attrs: Attrs): string | undefined {
  const name = str(attrs, 'name');
  if (name !== undefined && name.toLowerCase() === 'default') {
    throw new Conflict('Default security group already exists.', { type: 'SecurityGroupDefaultAlreadyExists' });
  }
  return name;
}

/** Neutron's checks of a rule (securitygroups_db._validate_*): a 400 naming the field. */
function ruleFrom(attrs: Attrs): NewRule {
  required(attrs, 'security_group_id');
  required(attrs, 'direction');
  const direction = str(attrs, 'direction');
  if (direction !== 'ingress' && direction !== 'egress') {
    throw invalidInput(`Invalid input for direction. Reason: '${excerpt(String(direction))}' is not in ['ingress', 'egress'].`);
  }
  const ethertype = str(attrs, 'ethertype') ?? 'IPv4';
  if (ethertype !== 'IPv4' && ethertype !== 'IPv6') throw invalidInput(`Invalid input for ethertype. Reason: '${excerpt(ethertype)}' is not in ['IPv4', 'IPv6'].`);
  const raw = attrs.protocol;
  let protocol: string | null = null;
  if (raw !== undefined && raw !== null && raw !== 'any') {
    const text = String(raw).toLowerCase();
    if (!(text in PROTOCOLS) && !(/^\d{1,3}$/.test(text) && Number(text) <= 255)) {
      throw invalidInput(`Security group rule protocol ${excerpt(String(raw))} not supported. Only protocol values [None, tcp, udp, icmp, icmpv6] and integer representations [0 to 255] are supported.`);
    }
    protocol = text;
  }
  const port = (name: string) => {
    const v = attrs[name];
    if (v === undefined || v === null) return null;
    const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) throw invalidInput(`Invalid value for port ${excerpt(String(v))}.`);
    return n;
  };
  const [min, max] = [port('port_range_min'), port('port_range_max')];
  const number = protocol === null ? undefined : PROTOCOLS[protocol] ?? Number(protocol);
  if ((min !== null || max !== null) && (number === 6 || number === 17)) {
    if (min === null || max === null || min < 1 || min > max) throw invalidInput('For TCP/UDP protocols, port_range_min must be <= port_range_max');
  } else if (number === 1 || number === 58) {
    // ICMP: the type and the code, each 0 to 255; a code needs a type.
    for (const [value, field, attr] of [[min, 'type', 'port_range_min'], [max, 'code', 'port_range_max']] as const) {
      if (value !== null && value > 255) throw invalidInput(`Invalid value for ICMP ${field} (${attr}) ${value}. It must be 0 to 255.`);
    }
    if (min === null && max !== null) {
      throw invalidInput(`ICMP code (port-range-max) ${max} is provided but ICMP type (port-range-min) is missing.`);
    }
  } else if ((min !== null || max !== null) && number !== 1 && number !== 58) {
    throw invalidInput('Invalid input for operation: port ranges need a protocol of tcp, udp, icmp or icmpv6.');
  }
  // Neutron takes null for either remote (its default), as openstacksdk and Tempest send it.
  const prefix = attrs.remote_ip_prefix === null ? null : str(attrs, 'remote_ip_prefix', 64) ?? null;
  if (prefix !== null) {
    const c = parseCidr(prefix.includes('/') ? prefix : `${prefix}/${prefix.includes(':') ? 128 : 32}`);
    if (c === 'invalid') throw invalidInput(`Invalid input for remote_ip_prefix. Reason: '${excerpt(prefix)}' is not a valid IP subnet.`);
    const version = 'recommended' in c ? (c.recommended.includes(':') ? 6 : 4) : c.version;
    if (`IPv${version}` !== ethertype) throw invalidInput(`Conflicting value ethertype ${ethertype} for CIDR ${excerpt(prefix)}`);
  }
  // Neutron does not validate remote_group_id's form: a group that is not one is not found (404).
  const rawRemote = attrs.remote_group_id;
  if (typeof rawRemote === 'string' && !isUuid(rawRemote)) throw securityGroupNotFound(excerpt(rawRemote));
  const remoteGroup = rawRemote === null ? null : uuid(attrs, 'remote_group_id') ?? null;
  if (prefix !== null && remoteGroup !== null) throw invalidInput('Only remote_ip_prefix or remote_group_id may be provided.');
  if (attrs.remote_address_group_id !== undefined && attrs.remote_address_group_id !== null) {
    throw invalidInput('Invalid input for remote_address_group_id. Reason: taskgate does not support address groups.');
  }
  return {
    securityGroupId: uuid(attrs, 'security_group_id')!, direction, ethertype, protocol, portRangeMin: min, portRangeMax: max,
    remoteIpPrefix: prefix, remoteGroupId: remoteGroup, description: str(attrs, 'description') ?? '',
  };
}

export function securityGroupRoutes(deps: AdmissionDeps): ApiRoute[] {
  return [
    {
      method: 'GET', path: `${V2}/security-groups`, policy: 'get_security_group',
      doc: { summary: 'List security groups (Neutron; the project\'s default group made on first use)', success: [200] },
      handler: async (event, ctx) => {
        await ensureDefaultGroup(deps.table, ctx.caller.projectId, nowOf(deps));
        const asker = askerOf(ctx);
        const [groups, rules] = [await allGroups(deps.table), await allRules(deps.table)];
        const views = groups.filter((g) => canSeeGroup(g, asker))
          .map((g) => securityGroupView(g, rules.filter((r) => r.securityGroupId === g.id)));
        return json(200, listAnswer(event, ctx, 'security_groups', views));
      },
    },
    {
      method: 'GET', path: `${V2}/security-groups/{security_group_id}`, policy: 'get_security_group',
      doc: { summary: 'Show a security group (Neutron)', success: [200] },
      handler: async (event, ctx) => {
        const group = await visibleGroup(deps.table, askerOf(ctx), pathParam(event, 'security_group_id'));
        return json(200, { security_group: shownFields(event, securityGroupView(group, await rulesOf(deps.table, group.id))) });
      },
    },
    {
      method: 'POST', path: `${V2}/security-groups`, policy: 'create_security_group', body: body('security_group', GROUP_CREATE),
      doc: { summary: 'Create a security group (Neutron)', success: [201] },
      handler: async (event, ctx) => {
        const attrs = resourceBody(event.body, 'security_group', GROUP_CREATE, 'POST');
        const name = groupName(attrs) ?? '';
        const projectId = owningProject(attrs, ctx.caller);
        await ensureDefaultGroup(deps.table, projectId, nowOf(deps));
        const group = await createGroup(deps.table, ctx.requestId, {
          name, description: str(attrs, 'description') ?? '', projectId, stateful: bool(attrs, 'stateful') ?? true,
        }, nowOf(deps));
        return json(201, { security_group: securityGroupView(group, await rulesOf(deps.table, group.id)) });
      },
    },
    {
      method: 'PUT', path: `${V2}/security-groups/{security_group_id}`, policy: 'update_security_group', body: body('security_group', GROUP),
      doc: { summary: 'Update a security group (Neutron)', success: [200] },
      handler: async (event, ctx) => {
        const attrs = resourceBody(event.body, 'security_group', GROUP, 'PUT');
        const group = await updateGroup(deps.table, askerOf(ctx), pathParam(event, 'security_group_id'), {
          name: groupName(attrs), description: str(attrs, 'description'), stateful: bool(attrs, 'stateful'),
        }, nowOf(deps));
        return json(200, { security_group: securityGroupView(group, await rulesOf(deps.table, group.id)) });
      },
    },
    {
      method: 'DELETE', path: `${V2}/security-groups/{security_group_id}`, policy: 'delete_security_group',
      doc: { summary: 'Delete a security group (Neutron; not the default one, nor one a port uses)', success: [204] },
      handler: async (event, ctx) => {
        await deleteGroup(deps.table, askerOf(ctx), pathParam(event, 'security_group_id'));
        return empty(204);
      },
    },
    {
      method: 'GET', path: `${V2}/security-group-rules`, policy: 'get_security_group_rule',
      doc: { summary: 'List security group rules (Neutron)', success: [200] },
      handler: async (event, ctx) => {
        const asker = askerOf(ctx);
        const views = (await allRules(deps.table)).filter((r) => asker.isAdmin || r.projectId === asker.projectId).map(ruleView);
        return json(200, listAnswer(event, ctx, 'security_group_rules', views));
      },
    },
    {
      method: 'GET', path: `${V2}/security-group-rules/{security_group_rule_id}`, policy: 'get_security_group_rule',
      doc: { summary: 'Show a security group rule (Neutron)', success: [200] },
      handler: async (event, ctx) => {
        const rule = await visibleRule(deps.table, askerOf(ctx), pathParam(event, 'security_group_rule_id'));
        return json(200, { security_group_rule: shownFields(event, ruleView(rule)) });
      },
    },
    {
      method: 'POST', path: `${V2}/security-group-rules`, policy: 'create_security_group_rule', body: body('security_group_rule', RULE),
      doc: { summary: 'Create a security group rule (Neutron; a duplicate is 409)', success: [201] },
      handler: async (event, ctx) => {
        const attrs = resourceBody(event.body, 'security_group_rule', RULE, 'POST');
        const rule = await createRule(deps.table, askerOf(ctx), ctx.requestId, ruleFrom(attrs), nowOf(deps));
        return json(201, { security_group_rule: ruleView(rule) });
      },
    },
    {
      method: 'DELETE', path: `${V2}/security-group-rules/{security_group_rule_id}`, policy: 'delete_security_group_rule',
      doc: { summary: 'Delete a security group rule (Neutron)', success: [204] },
      handler: async (event, ctx) => {
        await deleteRule(deps.table, askerOf(ctx), pathParam(event, 'security_group_rule_id'));
        return empty(204);
      },
    },
  ];
}
