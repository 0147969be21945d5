import type { AdmissionDeps } from '../../core/compute/admission.js';
import { findFlavor } from '../../core/compute/flavors.js';
import { retryThrottled } from '../../core/compute/settle.js';
import { readInstance } from '../../core/compute/readInstance.js';
import { isVisibleTo } from '../../core/compute/instance.js';
import type { Image } from '../../core/images/image.js';
import { recordSnapshot, snapshotImage, type SnapshotKind } from '../../core/images/snapshots.js';
import { readImage } from '../../core/images/store.js';
import type { ClaimGuard } from '../../core/compute/claimInstance.js';
import { BadRequest, NotFound } from '../../core/shared/errors.js';
import { isAtLeast } from '../apiVersion.js';
import { empty, json, type ApiContext } from '../http.js';
import type { Body, QueuedAction } from './actions.js';
import { checkMetadataQuota } from './servers.js';

// createImage and createBackup (nova/api/openstack/compute/servers.py _create_image,
// create_backup.py): the server is read, then the image record is made from it, its image and
// its flavor, and carried on the claim; admission's one write decides; the record is written
// once the claim is taken (Nova writes it first, and deletes it when its task_state write
// loses), so a refused request leaves no image behind. The worker uploads it.

/** The record the request makes: Nova's get_instance (404), the metadata quota before 2.39, then the record. */
async function snapshotParams(kind: SnapshotKind, b: Body, deps: AdmissionDeps, ctx: ApiContext, instanceId: string) {
  const server = await readInstance(deps.table, instanceId);
  if (!isVisibleTo(server, ctx.caller)) throw new NotFound(`Instance ${instanceId} could not be found.`);
  const metadata = (b.metadata ?? {}) as Record<string, string>;
  // Before 2.39 Nova counts the image's metadata against the metadata_items quota (403).
  if (!isAtLeast(ctx.apiVersion, '2.39')) checkMetadataQuota(metadata);
  const [baseImage, flavor] = await Promise.all([readImage(deps.table, server.imageId), findFlavor(deps.table, server.flavorId, true)]);
  const image = snapshotImage({
    kind, requestId: ctx.requestId, caller: ctx.caller, instance: server, baseImage, flavorDisk: flavor?.disk ?? 0,
    name: String(b.name), metadata, now: (deps.now ?? Date.now)(),
    ...(kind === 'backup' ? { backupType: String(b.backup_type) } : {}),
  });
  return { image, ...(kind === 'backup' ? { backupType: String(b.backup_type), rotation: Number(b.rotation) } : {}) };
}

/**
 * The image written (the worker writes it again if this answer never comes), then Nova's
 * answer: from 2.45 the image's id; before, its address in the image service in Location
 * (a backup's only when it is kept, rotation > 0).
 */
function answer(kind: SnapshotKind) {
  return async (deps: AdmissionDeps, ctx: ApiContext, accepted: { params: Record<string, unknown> }) => {
    const image = accepted.params.image as Image;
    // Admitted is admitted: a write that fails here is the worker's to do when it takes the
    // operation up (the reservation's begin), so the answer is Nova's either way.
    await retryThrottled(() => recordSnapshot(deps.table, image)).catch(() => undefined);
    if (isAtLeast(ctx.apiVersion, '2.45')) return json(202, { image_id: image.id });
    if (kind === 'backup' && Number(accepted.params.rotation) === 0) return empty(202);
    return { statusCode: 202, headers: { location: `${ctx.baseUrl}/image/images/${image.id}` }, body: '' };
  };
}

/**
 * Nova's backup refuses a volume-backed server (no image: 400), after its state checks: a guard
 * of the claim's own write, so a server in the wrong state is still the 409 first.
 */
const imageBacked: ClaimGuard = {
  condition: '#imageId <> :noImage', names: { '#imageId': 'imageId' }, values: { ':noImage': '' },
  refusal: (instance) => (instance.imageId ? undefined : new BadRequest('Backup is not supported for volume-backed instances.')),
};

export const SNAPSHOT_ACTIONS: Record<string, QueuedAction> = {
  createImage: {
    schema: 'createImage', op: () => 'create_image', status: 202,
    params: (b, deps, ctx, id) => snapshotParams('snapshot', b, deps, ctx, id), answer: answer('snapshot'),
  },
  createBackup: {
    schema: 'createBackup', op: () => 'create_backup', status: 202,
    params: (b, deps, ctx, id) => snapshotParams('backup', b, deps, ctx, id), guard: async () => imageBacked, answer: answer('backup'),
  },
};
