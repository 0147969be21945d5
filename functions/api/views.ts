import { createHash } from 'node:crypto';
import type { InstanceAction } from '../core/actions.js';
import type { Attachment } from '../core/attachables.js';
import type { Flavor } from '../core/flavors.js';
import type { Fault, Instance } from '../core/instance.js';
import { isAtLeast, type ApiVersion } from './apiVersion.js';
import { serverStatus } from './status.js';
import { dbDatetime, isotime } from './timestamps.js';

// Nova's response shapes (nova/api/openstack/compute/views/*.py), from domain records.

const link = (base: string, path: string) => [
  { rel: 'self', href: `${base}/v2.1/${path}` },
  { rel: 'bookmark', href: `${base}/${path}` },
];

/** What a server view depends on besides the instance: the microversion and who is asking. */
export interface ServerViewOptions {
  readonly version: ApiVersion;
  readonly isAdmin: boolean;
  readonly volumes?: readonly Attachment[];
  readonly ports?: readonly Attachment[];
}

/** Nova shows `progress` only in these statuses, and `fault` only in ERROR and DELETED. */
const PROGRESS_STATUSES = new Set(['ACTIVE', 'BUILD', 'REBUILD', 'RESIZE', 'VERIFY_RESIZE', 'MIGRATING']);
const FAULT_STATUSES = new Set(['ERROR', 'DELETED']);

/** The one simulated compute host; none while scheduling or once offloaded (as in Nova). */
const COMPUTE_HOST = 'taskgate-compute';
const hostOf = (s: Instance) =>
  s.vmState === 'shelved_offloaded' || (s.vmState === 'building' && s.taskState === 'scheduling') ? null : COMPUTE_HOST;

/**
 * The server as Nova's `show` builds it with every extension off: the body of a rebuild's
 * answer. Addresses carry only version and addr there.
 */
export function basicServerView(s: Instance, base: string, o: ServerViewOptions) {
  const status = serverStatus(s.vmState, s.taskState);
  const host = hostOf(s);
  return {
    id: s.id,
    name: s.name,
    status,
    tenant_id: s.projectId,
    user_id: s.userId,
    metadata: {},
    // Nova's opaque per-project host id: sha224(project + host), '' when there is no host.
    hostId: host ? createHash('sha224').update(s.projectId + host).digest('hex') : '',
    image: { id: s.imageId, links: [{ rel: 'bookmark', href: `${base}/images/${s.imageId}` }] },
    flavor: { id: s.flavorId, links: [{ rel: 'bookmark', href: `${base}/flavors/${s.flavorId}` }] },
    created: isotime(s.created),
    updated: isotime(s.updated),
    addresses: addressesView(o.ports ?? [], false),
    accessIPv4: '',
    accessIPv6: '',
    links: link(base, `servers/${s.id}`),
    'OS-DCF:diskConfig': 'MANUAL',
    ...(PROGRESS_STATUSES.has(status) ? { progress: 0 } : {}),
    ...(s.fault && FAULT_STATUSES.has(status) ? { fault: faultView(s.fault, o.isAdmin) } : {}),
    ...(isAtLeast(o.version, '2.9') ? { locked: s.locked } : {}),
  };
}

/** The server of GET /servers/{id} and /servers/detail: the basic view with Nova's extensions. */
export function serverView(s: Instance, base: string, o: ServerViewOptions) {
  const host = hostOf(s);
  const since23 = isAtLeast(o.version, '2.3');
  return {
    ...basicServerView(s, base, o),
    addresses: addressesView(o.ports ?? [], true),
    'OS-EXT-AZ:availability_zone': 'nova',
    config_drive: '',
    key_name: null,
    'OS-SRV-USG:launched_at': s.vmState === 'building' ? null : dbDatetime(s.created),
    'OS-SRV-USG:terminated_at': null,
    'OS-EXT-STS:task_state': s.taskState ?? null,
    'OS-EXT-STS:vm_state': s.vmState,
    'OS-EXT-STS:power_state': s.powerState,
    'os-extended-volumes:volumes_attached': (o.volumes ?? []).map((v) =>
      (since23 ? { id: v.id, delete_on_termination: false } : { id: v.id })),
    security_groups: [{ name: 'default' }],
    // os-extended-server-attributes: administrators only, more of them from 2.3.
    ...(o.isAdmin ? {
      'OS-EXT-SRV-ATTR:host': host,
      'OS-EXT-SRV-ATTR:instance_name': `instance-${s.id.slice(0, 8)}`,
      'OS-EXT-SRV-ATTR:hypervisor_hostname': host,
      ...(since23 ? {
        'OS-EXT-SRV-ATTR:reservation_id': `r-${s.id.slice(-8)}`,
        'OS-EXT-SRV-ATTR:launch_index': 0,
        'OS-EXT-SRV-ATTR:hostname': hostnameOf(s.name),
        'OS-EXT-SRV-ATTR:kernel_id': '',
        'OS-EXT-SRV-ATTR:ramdisk_id': '',
        'OS-EXT-SRV-ATTR:root_device_name': '/dev/vda',
        'OS-EXT-SRV-ATTR:user_data': null,
      } : {}),
    } : {}),
  };
}

/** Nova's hostname from a display name: lowercase, [a-z0-9-] only, at most 63 characters. */
const hostnameOf = (name: string) =>
  name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63) || 'server';

/** Nova hides a 500 fault's details (a traceback) from all but administrators. */
function faultView(f: Fault, isAdmin: boolean) {
  return {
    code: f.code, message: f.message, created: isotime(f.created),
    ...(f.details && (isAdmin || f.code !== 500) ? { details: f.details } : {}),
  };
}

export function serverSummaryView(s: Instance, base: string) {
  return { id: s.id, name: s.name, links: link(base, `servers/${s.id}`) };
}

/** Addresses by network; `extended` adds the os-extended-ips(-mac) fields of the detail view. */
function addressesView(ports: readonly Attachment[], extended: boolean) {
  const byNetwork: Record<string, Record<string, string | number>[]> = {};
  for (const p of ports) {
    if (!p.fixedIp) continue;
    const net = p.netId ?? 'private';
    (byNetwork[net] ??= []).push({
      version: p.fixedIp.includes(':') ? 6 : 4, addr: p.fixedIp,
      ...(extended ? { 'OS-EXT-IPS:type': 'fixed' } : {}),
      ...(extended && p.macAddress ? { 'OS-EXT-IPS-MAC:mac_addr': p.macAddress } : {}),
    });
  }
  return byNetwork;
}

export function volumeAttachmentView(a: Pick<Attachment, 'id' | 'instanceId' | 'device'>) {
  return { id: a.id, serverId: a.instanceId, volumeId: a.id, device: a.device ?? null };
}

/** taskgate has no subnets: each network has one, whose id is a UUID derived from the network's. */
function subnetOf(netId: string): string {
  const h = createHash('sha1').update(`subnet:${netId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function interfaceAttachmentView(a: Pick<Attachment, 'id' | 'netId' | 'macAddress' | 'fixedIp'>, state: string) {
  return {
    port_id: a.id, net_id: a.netId ?? null, mac_addr: a.macAddress ?? null, port_state: state,
    fixed_ips: a.fixedIp && a.netId ? [{ ip_address: a.fixedIp, subnet_id: subnetOf(a.netId) }] : [],
  };
}

/**
 * Before 2.84 Nova shows whoever may see an action's events their traceback too; taskgate lets
 * the server's owner see the events (Nova's policy makes that an operator's choice).
 */
export function instanceActionView(a: InstanceAction, withEvents: boolean) {
  return {
    action: a.action,
    instance_uuid: a.instanceId,
    request_id: a.requestId,
    user_id: a.userId,
    project_id: a.projectId,
    start_time: dbDatetime(a.startTime),
    message: a.message ?? null,
    ...(withEvents
      ? {
        events: a.event
          ? [{
            event: a.event, start_time: dbDatetime(a.eventStart ?? a.startTime), finish_time: dbDatetime(a.finishTime),
            result: a.result ?? null, traceback: a.traceback ?? null,
          }]
          : [],
      }
      : {}),
  };
}

export function flavorView(f: Flavor, base: string, detail: boolean) {
  const summary = { id: f.id, name: f.name, links: link(base, `flavors/${f.id}`) };
  if (!detail) return summary;
  return {
    ...summary, ram: f.ram, disk: f.disk, vcpus: f.vcpus, swap: f.swap === 0 ? '' : f.swap,
    'OS-FLV-EXT-DATA:ephemeral': f.ephemeral, 'OS-FLV-DISABLED:disabled': false,
    rxtx_factor: f.rxtxFactor, 'os-flavor-access:is_public': f.isPublic,
  };
}
