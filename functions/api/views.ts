import { createHash } from 'node:crypto';
import type { InstanceAction } from '../core/compute/instanceActions.js';
import type { Attachment } from '../core/shared/attachables.js';
import type { Flavor } from '../core/compute/flavors.js';
import { reservationIdOf, securityGroupsOf, type Fault, type Instance } from '../core/compute/instance.js';
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
  /** The server's flavor (embedded from 2.47); absent: the id alone is known. */
  readonly flavor?: Flavor;
}

/** Nova shows `progress` only in these statuses, and `fault` only in ERROR and DELETED. */
const PROGRESS_STATUSES = new Set(['ACTIVE', 'BUILD', 'REBUILD', 'RESIZE', 'VERIFY_RESIZE', 'MIGRATING']);
const FAULT_STATUSES = new Set(['ERROR', 'DELETED']);

/** The default configuration's one host: where servers placed before there was a scheduler are. */
export const COMPUTE_HOST = 'taskgate-compute';
/**
 * The server's host: the one Placement chose (functions/core/placement/scheduler.ts); none before
 * it is placed (a build that found no valid host never is) or once offloaded, as in Nova. An item
 * written before the scheduler existed was on the one host there was.
 */
export const hostOf = (s: Instance) => {
  if (s.vmState === 'shelved_offloaded' || (s.vmState === 'building' && !s.host)) return null;
  if (s.host) return s.host;
  return s.vmState === 'error' && s.fault?.message.startsWith('No valid host') ? null : COMPUTE_HOST;
};
/** The hypervisor's hostname: the host's one node. */
export const nodeOf = (s: Instance) => (hostOf(s) === null ? null : s.node ?? hostOf(s));

/** Nova's opaque per-project host id: sha224(project + host), '' when there is no host. */
export const hostIdOf = (projectId: string, host: string | null) =>
  (host ? createHash('sha224').update(projectId + host).digest('hex') : '');

/**
 * Which parts of Nova's view builder `show` a response includes (nova/api/openstack/compute/
 * views/servers.py): GET and the detail list show everything; update and rebuild show only the
 * basic server before 2.75 and everything from 2.75.
 */
export interface ServerParts {
  readonly full: boolean;
  /** server_groups: show, update and rebuild from 2.71, never the detail list. */
  readonly serverGroups?: boolean;
  /** key_name outside the full view: rebuild from 2.54. */
  readonly keyName?: boolean;
  /** OS-EXT-SRV-ATTR:user_data for admins (rebuild shows user_data itself instead). */
  readonly extendedUserData?: boolean;
}

/** Nova's server view for a request at `o.version`, with the `parts` the API shows. */
export function serverView(s: Instance, base: string, o: ServerViewOptions, parts: ServerParts = { full: true }) {
  const v = o.version;
  const at = (version: string) => isAtLeast(v, version);
  const status = serverStatus(s.vmState, s.taskState);
  const host = hostOf(s);
  const full = parts.full;
  const extendedAttrs = full && o.isAdmin;
  const view: Record<string, unknown> = {
    id: s.id,
    name: s.name,
    status,
    tenant_id: s.projectId,
    user_id: s.userId,
    metadata: s.metadata ?? {},
    hostId: hostIdOf(s.projectId, host),
    // A server booted from a volume has no image: Nova shows ''.
    image: s.imageId ? { id: s.imageId, links: [{ rel: 'bookmark', href: `${base}/images/${s.imageId}` }] } : '',
    flavor: at('2.47') ? embeddedFlavor(s, o.flavor) : { id: s.flavorId, links: [{ rel: 'bookmark', href: `${base}/flavors/${s.flavorId}` }] },
    created: isotime(s.created),
    updated: isotime(s.updated),
    addresses: addressesView(o.ports ?? [], full),
    accessIPv4: s.accessIPv4 ?? '',
    accessIPv6: s.accessIPv6 ?? '',
    links: link(base, `servers/${s.id}`),
    'OS-DCF:diskConfig': s.diskConfig ?? 'MANUAL',
  };
  if (s.fault && FAULT_STATUSES.has(status)) view.fault = faultView(s.fault, o.isAdmin);
  if (PROGRESS_STATUSES.has(status)) view.progress = 0;
  if (full) {
    view['OS-EXT-AZ:availability_zone'] = s.availabilityZone ?? 'nova';
    view.config_drive = s.configDrive ? 'True' : '';
  }
  if (full || parts.keyName) view.key_name = s.keyName ?? null;
  if (full) {
    view['OS-SRV-USG:launched_at'] = s.vmState === 'building' ? null : dbDatetime(s.created);
    view['OS-SRV-USG:terminated_at'] = null;
    // Nova shows the key only when the server has a group (views/servers.py _add_security_grps).
    const groups = securityGroupsOf(s);
    if (groups.length > 0) view.security_groups = groups.map((name) => ({ name }));
  }
  // os-extended-server-attributes: administrators only, more of them from 2.3.
  if (extendedAttrs) {
    view['OS-EXT-SRV-ATTR:host'] = host;
    view['OS-EXT-SRV-ATTR:instance_name'] = `instance-${s.id.slice(0, 8)}`;
    view['OS-EXT-SRV-ATTR:hypervisor_hostname'] = nodeOf(s);
    if (at('2.3')) {
      Object.assign(view, {
        'OS-EXT-SRV-ATTR:hostname': hostnameOfServer(s),
        'OS-EXT-SRV-ATTR:kernel_id': '',
        'OS-EXT-SRV-ATTR:launch_index': s.launchIndex ?? 0,
        'OS-EXT-SRV-ATTR:ramdisk_id': '',
        'OS-EXT-SRV-ATTR:reservation_id': reservationIdOf(s),
        'OS-EXT-SRV-ATTR:root_device_name': '/dev/vda',
      });
      if (parts.extendedUserData !== false) view['OS-EXT-SRV-ATTR:user_data'] = s.userData ?? null;
    }
  }
  if (full) {
    view['OS-EXT-STS:task_state'] = s.taskState ?? null;
    view['OS-EXT-STS:vm_state'] = s.vmState;
    view['OS-EXT-STS:power_state'] = s.powerState;
    view['os-extended-volumes:volumes_attached'] = (o.volumes ?? []).map((a) =>
      (at('2.3') ? { id: a.id, delete_on_termination: a.deleteOnTermination ?? false } : { id: a.id }));
  }
  if (at('2.9')) view.locked = s.locked;
  // host_status: by Nova's default policy, administrators only.
  if (at('2.16') && full && o.isAdmin) view.host_status = host ? 'UP' : '';
  if (at('2.19')) view.description = s.description ?? null;
  if (at('2.26')) view.tags = [...(s.tags ?? [])];
  if (at('2.63')) view.trusted_image_certificates = s.trustedCerts ?? null;
  if (parts.serverGroups && at('2.71')) view.server_groups = [];
  if (at('2.73')) view.locked_reason = s.locked ? (s.lockedReason ?? null) : null;
  if (at('2.90') && !extendedAttrs) view['OS-EXT-SRV-ATTR:hostname'] = hostnameOfServer(s);
  if (at('2.96') && full) view.pinned_availability_zone = null;
  return view;
}

/** 2.47: the flavor as the server was built with it (Nova's instance.flavor). */
function embeddedFlavor(s: Instance, f: Flavor | undefined) {
  return {
    vcpus: f?.vcpus ?? 0, ram: f?.ram ?? 0, disk: f?.disk ?? 0, ephemeral: f?.ephemeral ?? 0, swap: f?.swap ?? 0,
    original_name: f?.name ?? s.flavorId, extra_specs: f?.extraSpecs ?? {},
  };
}

/** The server's hostname: the one asked for (2.90), else derived from its name as Nova does. */
export const hostnameOfServer = (s: Instance) => s.hostname ?? hostnameOf(s.name);

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

/** Addresses by network name; `extended` adds the os-extended-ips(-mac) fields of the detail view. */
export function addressesView(ports: readonly Attachment[], extended: boolean) {
  const byNetwork: Record<string, Record<string, string | number>[]> = {};
  for (const p of ports) {
    const addresses = p.fixedIps?.map((f) => f.ipAddress) ?? (p.fixedIp ? [p.fixedIp] : []);
    for (const addr of addresses) {
      (byNetwork[p.netName ?? p.netId ?? 'private'] ??= []).push({
        version: addr.includes(':') ? 6 : 4, addr,
        ...(extended ? { 'OS-EXT-IPS:type': 'fixed' } : {}),
        ...(extended && p.macAddress ? { 'OS-EXT-IPS-MAC:mac_addr': p.macAddress } : {}),
      });
    }
  }
  return byNetwork;
}

/** A volume attachment: its device tag from 2.70, delete_on_termination from 2.79. */
export function volumeAttachmentView(
  a: Pick<Attachment, 'id' | 'instanceId' | 'device' | 'tag' | 'deleteOnTermination'>, version?: ApiVersion,
) {
  return {
    id: a.id, serverId: a.instanceId, volumeId: a.id, device: a.device ?? null,
    ...(version && isAtLeast(version, '2.70') ? { tag: a.tag ?? null } : {}),
    ...(version && isAtLeast(version, '2.79') ? { delete_on_termination: a.deleteOnTermination ?? false } : {}),
  };
}

/** Interfaces made before taskgate had subnets: their one subnet's id is derived from the network's. */
function subnetOf(netId: string): string {
  const h = createHash('sha1').update(`subnet:${netId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function interfaceAttachmentView(
  a: Pick<Attachment, 'id' | 'netId' | 'macAddress' | 'fixedIp' | 'fixedIps' | 'tag'>, state: string, version?: ApiVersion,
) {
  return {
    port_id: a.id, net_id: a.netId ?? null, mac_addr: a.macAddress ?? null, port_state: state,
    fixed_ips: a.fixedIps
      ? a.fixedIps.map((f) => ({ ip_address: f.ipAddress, subnet_id: f.subnetId }))
      : a.fixedIp && a.netId ? [{ ip_address: a.fixedIp, subnet_id: subnetOf(a.netId) }] : [],
    ...(version && isAtLeast(version, '2.70') ? { tag: a.tag ?? null } : {}),
  };
}

/**
 * An instance action. Before 2.51 Nova shows the events to whoever may see them (taskgate: the
 * server's owner too, with the traceback); from 2.51 everyone sees the events and only
 * administrators the traceback; 2.58 adds updated_at, 2.62 the event's hostId (and host, for
 * administrators).
 */
export function instanceActionView(
  a: InstanceAction, withEvents: boolean, o: { version?: ApiVersion; isAdmin?: boolean } = {},
) {
  const at = (x: string) => !!o.version && isAtLeast(o.version, x);
  const showTraceback = !at('2.51') || !!o.isAdmin;
  return {
    action: a.action,
    instance_uuid: a.instanceId,
    request_id: a.requestId,
    user_id: a.userId,
    project_id: a.projectId,
    start_time: dbDatetime(a.startTime),
    message: a.message ?? null,
    ...(at('2.58') ? { updated_at: dbDatetime(a.finishTime ?? a.eventStart ?? a.startTime) } : {}),
    ...(withEvents
      ? {
        events: a.event
          ? [{
            event: a.event, start_time: dbDatetime(a.eventStart ?? a.startTime), finish_time: dbDatetime(a.finishTime),
            result: a.result ?? null,
            ...(showTraceback ? { traceback: a.traceback ?? null } : {}),
            ...(at('2.62') ? { hostId: hostIdOf(a.projectId, COMPUTE_HOST), ...(o.isAdmin ? { host: COMPUTE_HOST } : {}) } : {}),
          }]
          : [],
      }
      : {}),
  };
}

/** Nova's flavor view: description from 2.55, extra specs from 2.61, swap 0 (not '') from 2.75. */
export function flavorView(f: Flavor, base: string, detail: boolean, version?: ApiVersion) {
  const at = (x: string) => !!version && isAtLeast(version, x);
  const summary = {
    id: f.id, name: f.name, links: link(base, `flavors/${f.id}`),
    ...(at('2.55') ? { description: f.description ?? null } : {}),
  };
  if (!detail) return summary;
  return {
    ...summary, ram: f.ram, disk: f.disk, vcpus: f.vcpus, swap: f.swap === 0 && !at('2.75') ? '' : f.swap,
    'OS-FLV-EXT-DATA:ephemeral': f.ephemeral, 'OS-FLV-DISABLED:disabled': false,
    rxtx_factor: f.rxtxFactor, 'os-flavor-access:is_public': f.isPublic,
    ...(at('2.61') ? { extra_specs: f.extraSpecs ?? {} } : {}),
  };
}
