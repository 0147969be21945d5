import type { Caller } from '../../core/compute/instance.js';
import { isAtLeast, type ApiVersion } from '../apiVersion.js';
import { holders, shownStatus, type Volume } from '../../core/volumes/volume.js';
import { volumeTypeById, type VolumeType } from '../../core/volumes/types.js';

// Cinder's views (cinder/api/v3/views/volumes.py, volume_types.py) at the request's microversion.

const link = (base: string, projectId: string, id: string) => [
  { rel: 'self', href: `${base}/volume/v3/${projectId}/volumes/${id}` },
  { rel: 'bookmark', href: `${base}/volume/${projectId}/volumes/${id}` },
];

export const volumeSummary = (v: Volume, base: string, projectId: string) => ({ id: v.id, name: v.name, links: link(base, projectId, v.id) });

/**
 * `shown`: a show or a detailed list. Cinder adds the tenant, host and migration-status
 * attributes there only (its contrib extensions extend `show` and `detail`), not to the volume a
 * create or an update answers with (Tempest's create_volume and update_volume schemas refuse them).
 */
export function volumeDetail(v: Volume, ctx: { baseUrl: string; apiVersion: ApiVersion; caller: Caller }, projectId: string, shown = true) {
  const type = volumeTypeById(v.volumeTypeId);
  const at = (version: string) => isAtLeast(ctx.apiVersion, version);
  const admin = ctx.caller.isAdmin;
  // Cinder lists only attached attachments (attach_status attached): in-use, and detaching.
  const attachments = holders(v).filter((h) => h.status === 'in-use' || h.status === 'detaching').map((h) => ({
    id: v.id, attachment_id: h.attachmentId, volume_id: v.id, server_id: h.serverId,
    host_name: null, device: h.device, attached_at: h.attachedAt,
  }));
  return {
    id: v.id, status: shownStatus(v), size: v.size, availability_zone: v.availabilityZone, created_at: v.created, updated_at: v.updated,
    name: v.name, description: v.description, volume_type: type.name, snapshot_id: null, source_volid: null,
    metadata: v.metadata ?? {}, links: link(ctx.baseUrl, projectId, v.id), user_id: v.userId, bootable: String(v.bootable ?? false),
    encrypted: false, replication_status: null, consistencygroup_id: null, multiattach: v.multiattach, attachments,
    ...(shown ? { 'os-vol-tenant-attr:tenant_id': v.projectId } : {}),
    ...(admin ? { migration_status: null } : {}),
    ...(admin && shown ? {
      'os-vol-host-attr:host': 'taskgate@simulated#simulated',
      'os-vol-mig-status-attr:migstat': null, 'os-vol-mig-status-attr:name_id': null,
    } : {}),
    ...(at('3.13') ? { group_id: null } : {}),
    ...(admin && at('3.21') ? { provider_id: null } : {}),
    ...(at('3.48') ? { shared_targets: at('3.69') ? false : true, service_uuid: null } : {}),
    ...(admin && at('3.61') ? { cluster_name: null } : {}),
    ...(at('3.63') ? { volume_type_id: type.id } : {}),
    ...(at('3.65') ? { consumes_quota: true } : {}),
  };
}

export function volumeTypeView(t: VolumeType, ctx: { caller: Caller }) {
  return {
    id: t.id, name: t.name, description: t.description, is_public: t.isPublic, 'os-volume-type-access:is_public': t.isPublic,
    // Cinder shows extra specs to administrators (volume_extension:access_types_extra_specs), and
    // the multiattach flag to anyone who needs to pick the type.
    extra_specs: ctx.caller.isAdmin ? t.extraSpecs : (t.extraSpecs.multiattach ? { multiattach: t.extraSpecs.multiattach } : {}),
    qos_specs_id: null,
  };
}
