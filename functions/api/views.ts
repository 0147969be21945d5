import type { InstanceAction } from '../core/actions.js';
import type { Attachment } from '../core/attachables.js';
import type { Flavor } from '../core/flavors.js';
import type { Instance } from '../core/instance.js';
import { serverStatus } from './status.js';

// Nova's response shapes (nova/api/openstack/compute/views/*.py), from domain records.

export interface Links { readonly base: string }

const link = (base: string, path: string) => [
  { rel: 'self', href: `${base}/v2.1/${path}` },
  { rel: 'bookmark', href: `${base}/${path}` },
];

export function serverView(s: Instance, base: string, volumes: readonly Attachment[] = [], ports: readonly Attachment[] = []) {
  const status = serverStatus(s.vmState, s.taskState);
  return {
    id: s.id,
    name: s.name,
    status,
    tenant_id: s.projectId,
    user_id: s.userId,
    metadata: {},
    hostId: '',
    image: { id: s.imageId, links: [{ rel: 'bookmark', href: `${base}/images/${s.imageId}` }] },
    flavor: { id: s.flavorId, links: [{ rel: 'bookmark', href: `${base}/flavors/${s.flavorId}` }] },
    created: s.created,
    updated: s.updated,
    addresses: addressesView(ports),
    accessIPv4: '',
    accessIPv6: '',
    links: link(base, `servers/${s.id}`),
    'OS-DCF:diskConfig': 'MANUAL',
    progress: 0,
    'OS-EXT-AZ:availability_zone': 'nova',
    config_drive: '',
    key_name: null,
    'OS-SRV-USG:launched_at': s.vmState === 'building' ? null : s.created,
    'OS-SRV-USG:terminated_at': null,
    'OS-EXT-STS:task_state': s.taskState ?? null,
    'OS-EXT-STS:vm_state': s.vmState,
    'OS-EXT-STS:power_state': s.powerState,
    'os-extended-volumes:volumes_attached': volumes.map((v) => ({ id: v.id })),
    security_groups: [{ name: 'default' }],
    locked: s.locked,
    // Nova shows the fault only on servers in ERROR or DELETED.
    ...(s.fault && (status === 'ERROR' || status === 'DELETED') ? { fault: s.fault } : {}),
  };
}

export function serverSummaryView(s: Instance, base: string) {
  return { id: s.id, name: s.name, links: link(base, `servers/${s.id}`) };
}

function addressesView(ports: readonly Attachment[]) {
  const byNetwork: Record<string, { version: number; addr: string; 'OS-EXT-IPS:type': string; 'OS-EXT-IPS-MAC:mac_addr'?: string }[]> = {};
  for (const p of ports) {
    const net = p.netId ?? 'private';
    (byNetwork[net] ??= []).push({
      version: p.fixedIp?.includes(':') ? 6 : 4, addr: p.fixedIp ?? '', 'OS-EXT-IPS:type': 'fixed',
      ...(p.macAddress ? { 'OS-EXT-IPS-MAC:mac_addr': p.macAddress } : {}),
    });
  }
  return byNetwork;
}

export function volumeAttachmentView(a: Pick<Attachment, 'id' | 'instanceId' | 'device'>) {
  return { id: a.id, serverId: a.instanceId, volumeId: a.id, device: a.device ?? null };
}

export function interfaceAttachmentView(a: Pick<Attachment, 'id' | 'netId' | 'macAddress' | 'fixedIp'>, state: string) {
  return {
    port_id: a.id, net_id: a.netId ?? null, mac_addr: a.macAddress ?? null, port_state: state,
    fixed_ips: a.fixedIp ? [{ ip_address: a.fixedIp, subnet_id: a.netId ?? null }] : [],
  };
}

export function instanceActionView(a: InstanceAction, withEvents: boolean) {
  return {
    action: a.action,
    instance_uuid: a.instanceId,
    request_id: a.requestId,
    user_id: a.userId,
    project_id: a.projectId,
    start_time: a.startTime,
    message: a.message ?? null,
    ...(withEvents
      ? {
        events: a.event
          ? [{
            event: a.event, start_time: a.eventStart ?? a.startTime, finish_time: a.finishTime ?? null,
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
