import type { AdmissionDeps } from '../../core/compute/admission.js';
import { derivedUuid } from '../../core/shared/ids.js';
import { invalidInput } from '../../core/networks/model.js';
import { visibleNetwork } from '../../core/networks/networks.js';
import { deletePortOfNeutron } from '../../core/networks/portDeletion.js';
import { createPort, listPorts, readPort, type FixedIpRequest } from '../../core/networks/ports.js';
import { updatePort, type PortChanges } from '../../core/networks/portUpdates.js';
import { groupsForPort } from '../../core/networks/securityGroups.js';
import { subnetsOf } from '../../core/networks/subnets.js';
import { portNotFound } from '../../core/networks/model.js';
import { canonicalUuid, isUuid } from '../../core/shared/ids.js';
import { Forbidden } from '../../core/shared/errors.js';
import { excerpt } from '../excerpt.js';
import { empty, json, pathParam, requester, type ApiContext, type ApiRoute } from '../http.js';
import { bool, list, MAC, owningProject, required, resourceBody, str, uuid, uuidList, type Attrs } from './bodies.js';
import { askerOf, neutronAuthorize, nowOf, ownerOrAuthorize, V2 } from './common.js';
import { listAnswer, shownFields } from './listing.js';
import { portView } from './views.js';

// /v2.0/ports. A port made here is the PORT# item Nova binds (functions/core/networks/ports.ts):
// its addresses come from its network's subnets, one conditional write each. Deleting a port a
// server holds asks Nova to detach it (functions/core/networks/portDeletion.ts).

const UNSUPPORTED = ['allowed_address_pairs', 'extra_dhcp_opts', 'binding:profile', 'tags', 'qos_policy_id', 'dns_name'];
const UPDATE = ['name', 'description', 'admin_state_up', 'security_groups', 'port_security_enabled', 'device_id', 'device_owner',
  'binding:host_id', 'binding:vnic_type', 'fixed_ips', 'mac_address', ...UNSUPPORTED];
const CREATE = [...UPDATE, 'network_id', 'project_id', 'tenant_id'];

const BODY = {
  type: 'object', required: ['port'],
  properties: { port: { type: 'object', properties: Object.fromEntries(CREATE.map((k) => [k, {}])) } },
} as const;

function unsupported(attrs: Attrs, names: readonly string[]) {
  for (const name of names) {
    const v = attrs[name];
    const empty = v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0)
      || (typeof v === 'object' && v !== null && Object.keys(v).length === 0);
    if (!empty) throw invalidInput(`Invalid input for ${name}. Reason: taskgate does not support ${name}.`);
  }
  const vnic = str(attrs, 'binding:vnic_type');
  if (vnic !== undefined && vnic !== 'normal') throw invalidInput(`Invalid input for binding:vnic_type. Reason: '${excerpt(vnic)}' is not in [normal].`);
}

function fixedIps(attrs: Attrs): FixedIpRequest[] | undefined {
  return list(attrs, 'fixed_ips', (f) => {
    if (typeof f !== 'object' || f === null || Array.isArray(f) || Object.keys(f).some((k) => k !== 'subnet_id' && k !== 'ip_address')) {
      throw invalidInput(`Invalid input for fixed_ips. Reason: '${excerpt(JSON.stringify(f))}' is not a valid fixed IP.`);
    }
    const { subnet_id: subnet, ip_address: ip } = f as { subnet_id?: unknown; ip_address?: unknown };
    if (subnet !== undefined && (typeof subnet !== 'string' || !isUuid(subnet))) {
      throw invalidInput(`Invalid input for fixed_ips. Reason: '${excerpt(String(subnet))}' is not a valid UUID.`);
    }
    if (ip !== undefined && typeof ip !== 'string') throw invalidInput(`Invalid input for fixed_ips. Reason: '${excerpt(String(ip))}' is not a valid IP address.`);
    if (subnet === undefined && ip === undefined) throw invalidInput('Invalid input for fixed_ips. Reason: a fixed IP names a subnet_id or an ip_address.');
    return { ...(subnet !== undefined ? { subnetId: canonicalUuid(subnet as string) } : {}), ...(ip !== undefined ? { ipAddress: ip as string } : {}) };
  });
}

function changes(attrs: Attrs): PortChanges {
  const c: Record<string, unknown> = {
    name: str(attrs, 'name'), description: str(attrs, 'description'), adminStateUp: bool(attrs, 'admin_state_up'),
    securityGroups: uuidList(attrs, 'security_groups'), portSecurityEnabled: bool(attrs, 'port_security_enabled'),
    deviceId: str(attrs, 'device_id'), deviceOwner: str(attrs, 'device_owner'),
  };
  if (c.portSecurityEnabled === false && (c.securityGroups as string[] | undefined)?.length) {
    throw invalidInput('Port security must be enabled and port must have an IP address in order to use security groups.');
  }
  return Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) as PortChanges;
}

const visiblePort = async (deps: AdmissionDeps, ctx: ApiContext, id: string) => {
  const port = await readPort(deps.table, id);
  if (!port || !(ctx.caller.isAdmin || port.projectId === ctx.caller.projectId)) throw portNotFound(id);
  return port;
};

export function portRoutes(deps: AdmissionDeps): ApiRoute[] {
  return [
    {
      method: 'GET', path: `${V2}/ports`, policy: 'get_port',
      doc: { summary: 'List ports (Neutron: device_id, network_id, device_owner, fixed_ips=ip_address=..., any attribute)', success: [200] },
      handler: async (event, ctx) => {
        const views = (await listPorts(deps.table, askerOf(ctx))).map((p) => portView(p, ctx.caller.isAdmin));
        return json(200, listAnswer(event, ctx, 'ports', views));
      },
    },
    {
      method: 'GET', path: `${V2}/ports/{port_id}`, policy: 'get_port',
      doc: { summary: 'Show a port (Neutron)', success: [200] },
      handler: async (event, ctx) => {
        const port = await visiblePort(deps, ctx, pathParam(event, 'port_id'));
        return json(200, { port: shownFields(event, portView(port, ctx.caller.isAdmin)) });
      },
    },
    {
      method: 'POST', path: `${V2}/ports`, policy: 'create_port', body: BODY,
      doc: { summary: 'Create a port (Neutron): its fixed IPs allocated, one conditional write each', success: [201] },
      handler: async (event, ctx) => {
        const attrs = resourceBody(event.body, 'port', CREATE, 'POST');
        required(attrs, 'network_id');
        unsupported(attrs, UNSUPPORTED);
        const networkId = uuid(attrs, 'network_id')!;
        const projectId = owningProject(attrs, ctx.caller);
        const c = changes(attrs);
        const ips = fixedIps(attrs);
        const mac = str(attrs, 'mac_address');
        if (mac !== undefined && !MAC.test(mac)) throw invalidInput(`Invalid input for mac_address. Reason: '${excerpt(mac)}' is not a valid MAC address.`);
        const now = nowOf(deps);
        const network = await visibleNetwork(deps.table, askerOf(ctx), networkId);
        // create_port: the administrator, the network's owner, or anyone on a shared network.
        if (!(ctx.caller.isAdmin || network.projectId === ctx.caller.projectId || network.shared)) {
          throw new Forbidden('rule:create_port is disallowed by policy', { type: 'PolicyNotAuthorized' });
        }
        if (mac !== undefined) ownerOrAuthorize(ctx, 'create_port:mac_address', network.projectId);
        if (ips?.some((f) => f.ipAddress !== undefined)) ownerOrAuthorize(ctx, 'create_port:fixed_ips:ip_address', network.projectId);
        if (c.deviceOwner?.startsWith('network:')) ownerOrAuthorize(ctx, 'create_port:device_owner', network.projectId);
        if (str(attrs, 'binding:host_id')) neutronAuthorize(ctx, 'create_port:binding:host_id');
        const portSecurity = c.portSecurityEnabled ?? network.portSecurityEnabled;
        const port = await createPort(deps.table, {
          id: derivedUuid('neutron-port', ctx.requestId), projectId, network, subnets: await subnetsOf(deps.table, network),
          name: c.name ?? '', description: c.description ?? '', adminStateUp: c.adminStateUp ?? true,
          ...(mac !== undefined ? { macAddress: mac.toLowerCase() } : {}), ...(ips !== undefined ? { fixedIps: ips } : {}),
          securityGroups: portSecurity ? await groupsForPort(deps.table, projectId, c.securityGroups, now) : [],
          portSecurityEnabled: portSecurity, ...(c.deviceId ? { deviceId: c.deviceId } : {}), ...(c.deviceOwner ? { deviceOwner: c.deviceOwner } : {}),
          requestId: ctx.requestId, now, creatingUntil: now + (deps.reservationLeaseMs ?? deps.claimLeaseMs),
        });
        return json(201, { port: portView(port, ctx.caller.isAdmin) });
      },
    },
    {
      method: 'PUT', path: `${V2}/ports/{port_id}`, policy: 'update_port', body: BODY,
      doc: { summary: 'Update a port (Neutron)', success: [200] },
      handler: async (event, ctx) => {
        const attrs = resourceBody(event.body, 'port', UPDATE, 'PUT');
        unsupported(attrs, [...UNSUPPORTED, 'fixed_ips', 'mac_address']);
        if (attrs['binding:host_id'] !== undefined) neutronAuthorize(ctx, 'update_port:binding:host_id');
        const c = changes(attrs);
        if (c.deviceOwner?.startsWith('network:')) neutronAuthorize(ctx, 'update_port:device_owner');
        const port = await updatePort(deps.table, askerOf(ctx), pathParam(event, 'port_id'), c, nowOf(deps));
        return json(200, { port: portView(port, ctx.caller.isAdmin) });
      },
    },
    {
      method: 'DELETE', path: `${V2}/ports/{port_id}`, policy: 'delete_port',
      doc: { summary: 'Delete a port (Neutron): its addresses freed; one a server holds is detached from it first', success: [204] },
      handler: async (event, ctx) => {
        const { caller, requestId, globalRequestId } = requester(ctx);
        await deletePortOfNeutron(deps, askerOf(ctx), { caller, requestId, globalRequestId, portId: pathParam(event, 'port_id'), now: nowOf(deps) });
        return empty(204);
      },
    },
  ];
}
