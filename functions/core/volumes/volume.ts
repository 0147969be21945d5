import type { AttachableItem } from '../shared/attachables.js';
import { sharedEntry, type SharedAttachment } from '../shared/sharedAttachments.js';
import type { Caller } from '../compute/instance.js';
import { derivedUuid } from '../shared/ids.js';

// A Cinder volume is the VOLUME# item Nova's attach reserves (functions/core/shared/attachables.ts):
// one item, one status, so that Cinder's delete and extend and Nova's attach race on the same
// conditional writes. Cinder's own fields live beside the holder fields attachables.ts writes.

export interface Volume extends AttachableItem {
  readonly projectId: string;
  readonly userId: string;
  readonly size: number;
  readonly name: string | null;
  readonly description: string | null;
  /** The volume type's id (functions/core/volumes/types.ts). */
  readonly volumeTypeId: string;
  readonly metadata: Record<string, string>;
  readonly availabilityZone: string;
  readonly multiattach: boolean;
  readonly bootable: boolean;
  readonly created: string;
  readonly updated: string;
  /** While extending: the size it is being extended to, and the status it goes back to. */
  readonly extendingTo?: number;
  readonly previousStatus?: string;
}

/** Statuses Cinder deletes a volume from (cinder/volume/api.py delete, without force). */
export const DELETABLE = ['available', 'error', 'error_restoring', 'error_extending', 'error_managing'] as const;

/** Every status os-reset_status may set (cinder.objects.fields.VolumeStatus). */
export const VOLUME_STATUSES = [
  'creating', 'available', 'deleting', 'error', 'error_deleting', 'error_managing', 'managing', 'attaching', 'in-use',
  'detaching', 'maintenance', 'restoring-backup', 'error_restoring', 'reserved', 'awaiting-transfer', 'backing-up',
  'error_backing-up', 'error_extending', 'downloading', 'uploading', 'retyping', 'extending',
] as const;

export const volumeNotFound = (id: string) => `Volume ${id} could not be found.`;

export const isVisible = (volume: Volume | undefined, caller: Caller): volume is Volume =>
  !!volume && (caller.isAdmin || volume.projectId === caller.projectId);

/** The id a create request makes: a retry that goes on as that request finds the volume it made. */
export const volumeIdFor = (requestId: string) => derivedUuid('volume', requestId);

/** Cinder's attachment id for one server's attachment of the volume. */
export const attachmentIdFor = (volumeId: string, requestId: string) => derivedUuid('attachment', volumeId, requestId);

export interface VolumeAttachmentView {
  readonly serverId: string;
  readonly attachmentId: string;
  readonly device: string | null;
  readonly attachedAt: string | null;
  readonly status: string;
}

/**
 * The servers holding the volume, as Cinder lists them: an exclusive volume's one holder, or a
 * multiattach volume's entries. Cinder's volume view shows only attached ones (attach_status
 * attached): in-use and detaching.
 */
export function holders(volume: Volume): VolumeAttachmentView[] {
  if (volume.multiattach) {
    return Object.entries(volume.attachments ?? {}).map(([serverId, e]: [string, SharedAttachment]) => ({
      serverId, attachmentId: attachmentIdFor(volume.id, e.requestId), device: e.device ?? null,
      attachedAt: e.attachedAt ?? null, status: e.status,
    }));
  }
  if (!volume.instanceId || !volume.requestId) return [];
  return [{
    serverId: volume.instanceId, attachmentId: attachmentIdFor(volume.id, volume.requestId), device: volume.device ?? null,
    attachedAt: volume.attachedAt ?? null, status: volume.status,
  }];
}

/**
 * The status Cinder shows. An exclusive volume's is its own. A multiattach volume's item says
 * only in-use or available; what Cinder shows is the one operation in flight, if any.
 */
export function shownStatus(volume: Volume): string {
  if (!volume.multiattach || volume.status !== 'in-use') return volume.status;
  const states = Object.values(volume.attachments ?? {}).map((e) => e.status);
  for (const s of ['reserved', 'attaching', 'detaching'] as const) if (states.includes(s)) return s;
  return 'in-use';
}

export { sharedEntry };
