import type { Network, Port, SecurityGroup, SecurityGroupRule, Subnet } from '../../core/networks/model.js';
import { COMPUTE_HOST } from '../views.js';

// Neutron's resource views (neutron-lib's api definitions), from domain records. Timestamps as
// Neutron writes them (seconds, Z); tenant_id beside project_id, as Neutron still shows both.

const time = (iso: string) => `${iso.slice(0, 19)}Z`;

const owner = (projectId: string) => ({ tenant_id: projectId, project_id: projectId });
const stamps = (r: { createdAt: string; updatedAt: string; revision: number }) => ({
  created_at: time(r.createdAt), updated_at: time(r.updatedAt), revision_number: r.revision,
});

export function networkView(n: Network) {
  return {
    id: n.id, name: n.name, ...owner(n.projectId), admin_state_up: n.adminStateUp, mtu: n.mtu, status: 'ACTIVE',
    subnets: [...n.subnets], shared: n.shared, availability_zone_hints: [], availability_zones: ['nova'],
    ipv4_address_scope: null, ipv6_address_scope: null, 'router:external': n.external, description: n.description,
    port_security_enabled: n.portSecurityEnabled, l2_adjacency: true, tags: [], ...stamps(n),
  };
}

export function subnetView(s: Subnet) {
  return {
    id: s.id, name: s.name, ...owner(s.projectId), network_id: s.networkId, ip_version: s.ipVersion, subnetpool_id: null,
    enable_dhcp: s.enableDhcp, ipv6_ra_mode: null, ipv6_address_mode: null, gateway_ip: s.gatewayIp, cidr: s.cidr,
    allocation_pools: s.allocationPools.map((p) => ({ start: p.start, end: p.end })), host_routes: [],
    dns_nameservers: [...s.dnsNameservers], description: s.description, service_types: [], tags: [], ...stamps(s),
  };
}

/** The server bound to it, or the device a user named; a port Nova holds shows Nova's device owner. */
const deviceOf = (p: Port) => (p.instanceId
  ? { device_id: p.instanceId, device_owner: 'compute:nova' }
  : { device_id: p.deviceId ?? '', device_owner: p.deviceOwner ?? '' });

/** The binding fields are the administrator's (get_port:binding:* policies). */
export function portView(p: Port, isAdmin: boolean) {
  const active = p.status === 'in-use' && !!p.instanceId && p.adminStateUp;
  return {
    id: p.id, name: p.name, network_id: p.networkId, ...owner(p.projectId), mac_address: p.macAddress,
    admin_state_up: p.adminStateUp, status: active ? 'ACTIVE' : 'DOWN', ...deviceOf(p),
    fixed_ips: (p.fixedIps ?? []).map((f) => ({ subnet_id: f.subnetId, ip_address: f.ipAddress })),
    allowed_address_pairs: [], extra_dhcp_opts: [], security_groups: [...(p.securityGroups ?? [])], description: p.description,
    'binding:vnic_type': 'normal', port_security_enabled: p.portSecurityEnabled, tags: [], ...stamps(p),
    ...(isAdmin ? {
      'binding:host_id': p.instanceId ? COMPUTE_HOST : '', 'binding:profile': {}, 'binding:vif_details': {},
      'binding:vif_type': p.instanceId ? 'ovs' : 'unbound',
    } : {}),
  };
}

export function ruleView(r: SecurityGroupRule) {
  return {
    id: r.id, ...owner(r.projectId), security_group_id: r.securityGroupId, direction: r.direction, ethertype: r.ethertype,
    protocol: r.protocol, port_range_min: r.portRangeMin, port_range_max: r.portRangeMax, remote_ip_prefix: r.remoteIpPrefix,
    remote_group_id: r.remoteGroupId, remote_address_group_id: null, normalized_cidr: r.remoteIpPrefix,
    description: r.description, belongs_to_default_sg: r.belongsToDefault, ...stamps(r),
  };
}

export function securityGroupView(g: SecurityGroup, rules: readonly SecurityGroupRule[]) {
  return {
    id: g.id, name: g.name, ...owner(g.projectId), description: g.description, stateful: g.stateful, shared: false,
    security_group_rules: rules.map(ruleView), tags: [], ...stamps(g),
  };
}
