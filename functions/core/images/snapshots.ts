import type { Caller, Instance } from '../compute/instance.js';
import type { ClaimFence } from '../shared/fencedPut.js';
import { derivedUuid } from '../shared/ids.js';
import type { Table } from '../shared/table.js';
import { glanceTime, isDeleted, type Image } from './image.js';
import { checkLimits } from './quotas.js';
import { allImages, changeImage, putNewImage, readImage } from './store.js';

// The images a server's createImage and createBackup make, as Nova makes them: the record is
// written, queued, when the request is admitted (nova/compute/utils.py create_image), the
// hypervisor uploads it (the driver's last step makes it active), a failed or superseded one is
// deleted unless it became active (@delete_image_on_error, "Instance disappeared during
// snapshot"), and a backup's success deletes the oldest backups beyond its rotation
// (nova/compute/manager.py _rotate_backups). Every write is one conditional write on the image's
// item (store.ts), so a redelivered step finds its own work done and changes nothing; the
// worker's writes (its re-write of the record, the upload) are also fenced by its claim, so a
// worker whose server was deleted or reset meanwhile writes nothing (store.ts, fencedPut.ts).

export type SnapshotKind = 'snapshot' | 'backup';

/** The id of the image a createImage or createBackup request makes: a retry names the same one. */
export const snapshotIdFor = (requestId: string): string => derivedUuid('server-image', requestId);

/**
 * Properties Nova never copies from the image a server was built from
 * (nova/compute/utils.py NON_INHERITABLE_IMAGE_PROPERTIES and the img_signature namespace).
 */
const NON_INHERITABLE = ['cinder_encryption_key_id', 'cinder_encryption_key_deletion_policy', 'img_signature',
  'img_signature_hash_method', 'img_signature_key_type', 'img_signature_certificate_uuid'];

export interface SnapshotRequest {
  readonly kind: SnapshotKind;
  readonly requestId: string;
  readonly caller: Caller;
  readonly instance: Instance;
  /** The image the server was built from, when the image service still has it. */
  readonly baseImage?: Image;
  /** The server's flavor root disk (GiB): the snapshot needs at least as much (min_disk). */
  readonly flavorDisk: number;
  readonly name: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly backupType?: string;
  readonly now: number;
}

/**
 * The record Nova asks the image service for (compute/utils.py create_image and
 * initialize_instance_snapshot_metadata): the base image's properties and sizes, then
 * instance_uuid, user_id, image_type, base_image_ref (and backup_type), then the request's
 * metadata. Private to the caller's project, or shared when an administrator images another
 * project's server (with instance_owner naming it). A snapshot has no formats until uploaded.
 * Glance's limits are checked here (a 413 costs nothing).
 */
export function snapshotImage(req: SnapshotRequest): Image {
  const base = req.baseImage;
  const inherited = Object.fromEntries(Object.entries(base?.properties ?? {})
    .filter(([key]) => !NON_INHERITABLE.includes(key) && !key.startsWith('os_glance')));
  const crossProject = req.caller.projectId !== req.instance.projectId;
  const at = glanceTime(req.now);
  const image: Image = {
    id: snapshotIdFor(req.requestId), name: req.name, status: 'queued',
    visibility: crossProject ? 'shared' : 'private', owner: req.caller.projectId, protected: false, os_hidden: false,
    min_disk: Math.max(base?.min_disk ?? 0, req.flavorDisk), min_ram: base?.min_ram ?? 0,
    disk_format: req.kind === 'backup' ? base?.disk_format ?? null : null,
    container_format: req.kind === 'backup' ? base?.container_format ?? null : null,
    size: null, virtual_size: null, checksum: null, os_hash_algo: null, os_hash_value: null,
    created_at: at, updated_at: at, created_ms: req.now, tags: [],
    properties: {
      ...inherited,
      instance_uuid: req.instance.id, user_id: req.caller.userId, image_type: req.kind, base_image_ref: req.instance.imageId,
      ...(req.backupType !== undefined ? { backup_type: req.backupType } : {}),
      ...(crossProject ? { instance_owner: req.instance.projectId } : {}),
      ...req.metadata,
    },
    version: 1, request_id: req.requestId,
  };
  checkLimits(image);
  return image;
}

/**
 * Writes the queued record unless it exists: admission writes it before answering, the worker
 * again when it takes the operation up (the API may have died between its claim and this write).
 * A record another request made under the same id is left alone. The worker's write is fenced by
 * its claim, and made only where a read finds no record (nearly always admission wrote it).
 */
export async function recordSnapshot(table: Table, image: Image, fence?: ClaimFence): Promise<void> {
  if (fence && await readImage(table, image.id)) return;
  await putNewImage(table, image, fence);
}

/** The size the simulated hypervisor uploads: about the qcow2 disk of a small booted guest. */
const UPLOADED_BYTES = 24_117_248;

/**
 * The hypervisor's upload (the libvirt driver's snapshot metadata): active, with its formats and
 * size, owned by the server's project in image_location/owner_id. Only from queued or saving:
 * a deleted image stays deleted, an active one is not uploaded twice. Fenced by the worker's claim.
 */
export async function uploadSnapshot(table: Table, id: string, instance: Instance, now: number, fence: ClaimFence): Promise<void> {
  await changeImage(table, id, (current) => {
    if (!current || (current.status !== 'queued' && current.status !== 'saving')) return current as Image;
    const at = glanceTime(now);
    return {
      ...current, status: 'active', disk_format: 'qcow2', container_format: 'bare', size: UPLOADED_BYTES, virtual_size: null,
      updated_at: at,
      properties: { ...current.properties, image_location: 'snapshot', image_state: 'available', owner_id: instance.projectId },
    };
  }, fence);
}

/**
 * The EC2 driver's upload: the AMI CreateImage made is available, so the record becomes active
 * with Glance's AMI formats and the AMI's id. Only from queued or saving, and fenced, as uploadSnapshot.
 */
export async function registeredAsAmi(
  table: Table, id: string, instance: Instance, amiId: string, now: number, fence: ClaimFence,
): Promise<void> {
  await changeImage(table, id, (current) => {
    if (!current || (current.status !== 'queued' && current.status !== 'saving')) return current as Image;
    const at = glanceTime(now);
    return {
      ...current, status: 'active', disk_format: 'ami', container_format: 'ami', updated_at: at, ec2ImageId: amiId,
      properties: { ...current.properties, image_location: 'snapshot', image_state: 'available', owner_id: instance.projectId },
    };
  }, fence);
}

/** Marks an image deleted, as Glance's delete does, unless it already is (or `keep` says it stays). */
async function deleteIf(table: Table, id: string, now: number, keep: (image: Image) => boolean): Promise<void> {
  await changeImage(table, id, (image) => {
    if (!image || isDeleted(image) || keep(image)) return image as Image;
    const at = glanceTime(now);
    return { ...image, status: 'deleted', deleted_at: at, updated_at: at };
  });
}

/** A snapshot whose operation failed or was superseded: deleted unless its upload finished. */
export function discardSnapshot(table: Table, id: string, now: number): Promise<void> {
  return deleteIf(table, id, now, (image) => image.status === 'active');
}

/**
 * The server's backups of this type (image_type backup, not deleted) beyond the newest
 * `rotation`: what rotateBackups deletes, and what the EC2 driver deregisters first.
 */
export async function backupsBeyondRotation(table: Table, instanceId: string, backupType: string, rotation: number): Promise<Image[]> {
  const backups = (await allImages(table))
    .filter((i) => !isDeleted(i) && i.properties.image_type === 'backup' && i.properties.backup_type === backupType
      && i.properties.instance_uuid === instanceId)
    .sort((a, b) => b.created_at.localeCompare(a.created_at) || (b.created_ms ?? 0) - (a.created_ms ?? 0) || b.id.localeCompare(a.id));
  return backups.slice(rotation);
}

/**
 * Nova's _rotate_backups: the server's backups of this type (image_type backup), newest first
 * by created_at; those beyond `rotation` are deleted. Each delete is conditional, so a
 * redelivered rotation deletes nothing twice.
 */
export async function rotateBackups(
  table: Table, instanceId: string, backupType: string, rotation: number, now: number,
): Promise<string[]> {
  const excess = await backupsBeyondRotation(table, instanceId, backupType, rotation);
  for (const image of excess) await deleteIf(table, image.id, now, () => false);
  return excess.map((i) => i.id);
}
