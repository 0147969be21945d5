import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Caller } from '../compute/instance.js';
import { queryIndexedItems } from '../shared/indexedItems.js';
import { BadRequest, NotFound, ServiceUnavailable } from '../shared/errors.js';
import {
  INDEX_ALL_SERVERS, INDEX_BY_PROJECT, isConditionFailure, itemFromConditionFailure, keys, leaseShardOf, SERVER_SHARDS, shardOf, usedPlaceholders, type Table,
} from '../shared/table.js';
import { chargeGrowth, chargeVolume, giveBackGrowth, giveBackVolume, type QuotaDeps } from './quotas.js';
import { isMultiattach, type VolumeType } from './types.js';
import { DELETABLE, isVisible, volumeIdFor, volumeNotFound, type Volume } from './volume.js';

// Cinder's volume operations on the VOLUME# items. Each status change is ONE conditional write
// whose condition is the status it starts from: a delete (from available or an error) and an
// extend (from available, or in-use from 3.42) race Nova's attach (available -> reserved,
// attachables.ts) on the same item, and exactly one of them wins.

/** Where the volumes' bytes are: taskgate's is simulated; an extend takes its time there. */
export interface VolumeBackend {
  extend(volume: Volume, newSize: number): Promise<void>;
}

export const simulatedBackend: VolumeBackend = { extend: async () => undefined };

export interface VolumeDeps {
  readonly table: Table;
  /**
   * How long an API invocation may hold a volume in a transient status (extending) or leave a
   * quota charge without its volume: longer than any invocation lives (reservation lease).
   */
  readonly leaseMs: number;
  readonly backend?: VolumeBackend;
  readonly now?: () => number;
}

const quota = (deps: VolumeDeps): QuotaDeps => ({ table: deps.table, leaseMs: deps.leaseMs });

/** The project index partition of a project's volumes. */
const byProject = (projectId: string) => `VOLUMES#${projectId}`;
/**
 * Every volume, for admins' all_tenants lists: over as many partitions of the all-servers index
 * as servers have (`VOLUMES#<n>` there), so that volume creates and deletes deployment-wide are
 * not held to one key's 1,000 write units a second (docs/write-units.md). Volumes written before
 * sit under `VOLUMES` alone, still read.
 */
export const VOLUME_INDEX_SHARDS = SERVER_SHARDS;
const ALL_VOLUMES_BEFORE = 'VOLUMES';
const allVolumesKey = (id: string) => `VOLUMES#${shardOf(id, VOLUME_INDEX_SHARDS)}`;

export interface CreateVolume {
  readonly requestId: string;
  readonly projectId: string;
  readonly size: number;
  readonly name: string | null;
  readonly description: string | null;
  readonly volumeType: VolumeType;
  readonly metadata: Record<string, string>;
  readonly availabilityZone: string;
}

/**
 * Create: the project's quota charged (one conditional ADD), then the volume written, available
 * at once (the simulated backend has nothing to build). Its id derives from the request id, so
 * a retry that goes on as a request that died finds the volume it made and is not charged again.
 */
export async function createVolume(deps: VolumeDeps, caller: Caller, req: CreateVolume): Promise<Volume> {
  const clock = deps.now ?? Date.now;
  const now = clock();
  const id = volumeIdFor(req.requestId);
  const created = new Date(now).toISOString();
  const volume: Volume = {
    id, projectId: req.projectId, userId: caller.userId, status: 'available', size: req.size, name: req.name,
    description: req.description, volumeTypeId: req.volumeType.id, metadata: req.metadata, availabilityZone: req.availabilityZone,
    multiattach: isMultiattach(req.volumeType), bootable: false, created, updated: created,
    // A multiattach volume's holders: the map each server's entry is set in (sharedAttachments.ts).
    ...(isMultiattach(req.volumeType) ? { attachments: {} } : {}),
  };
  await chargeVolume(quota(deps), req.projectId, id, req.size, now);
  try {
    await deps.table.db.send(new PutCommand({
      TableName: deps.table.name,
      Item: volumeItem(volume, req.requestId),
      ConditionExpression: 'attribute_not_exists(pk)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    }));
  } catch (err) {
    const made = isConditionFailure(err) ? itemFromConditionFailure<Volume & { createdByRequest?: string }>(err) : undefined;
    if (made?.createdByRequest === req.requestId) return made;
    await giveBackVolume(deps.table, req.projectId, id, { size: req.size, at: now }).catch(() => undefined);
    throw err;
  }
  // Written after its charge's lease: the charge may have been given back as a dead create's
  // (quotas.ts settleStale), so the volume goes again. Never on AWS: the API times out first.
  if (clock() >= now + deps.leaseMs) {
    await deleteOwn(deps.table, id, req.requestId);
    await giveBackVolume(deps.table, req.projectId, id, { size: req.size, at: now });
    throw new ServiceUnavailable('The request took too long; nothing was changed. Try again.');
  }
  return volume;
}

/** The stored item of a volume: its key, the request that made it, and its places in the lists' indexes. */
export function volumeItem(volume: Volume, requestId: string): Record<string, unknown> {
  const at = `${volume.created}#${volume.id}`;
  return {
    ...keys.volume(volume.id), ...volume, createdByRequest: requestId,
    // The all-servers index sorts on gsi1sk: no second copy of it (gsi2sk) for that index.
    gsi1pk: byProject(volume.projectId), gsi1sk: at, gsi2pk: allVolumesKey(volume.id),
  };
}

async function deleteOwn(table: Table, id: string, requestId: string) {
  await table.db.send(new DeleteCommand({
    TableName: table.name, Key: keys.volume(id),
    ConditionExpression: '#status = :available AND #createdBy = :request',
    ExpressionAttributeNames: { '#status': 'status', '#createdBy': 'createdByRequest' },
    ExpressionAttributeValues: { ':available': 'available', ':request': requestId },
  })).catch((err: unknown) => { if (!isConditionFailure(err)) throw err; });
}

export async function readVolume(table: Table, id: string): Promise<Volume | undefined> {
  const out = await table.db.send(new GetCommand({ TableName: table.name, Key: keys.volume(id), ConsistentRead: true }));
  const item = out.Item as Volume | undefined;
  // A VOLUME# item that Cinder never made (an older version's implicit volume) is none of Cinder's.
  return item && typeof item.size === 'number' ? item : undefined;
}

/** A volume the caller may see: its project's, or any for an administrator; Cinder's 404 otherwise. */
export async function getVolume(table: Table, caller: Caller, id: string): Promise<Volume> {
  const volume = await readVolume(table, id);
  if (!isVisible(volume, caller)) throw new NotFound(volumeNotFound(id));
  return volume;
}

/** Every volume of a project (or of every project: each all-volumes partition side by side), newest first. */
export async function listVolumes(table: Table, scope: { projectId: string } | 'all'): Promise<Volume[]> {
  if (scope !== 'all') return partitionItems(table, INDEX_BY_PROJECT, 'gsi1pk', byProject(scope.projectId));
  const partitions = [ALL_VOLUMES_BEFORE, ...Array.from({ length: VOLUME_INDEX_SHARDS }, (_, n) => `VOLUMES#${n}`)];
  const found = (await Promise.all(partitions.map((pk) => partitionItems(table, INDEX_ALL_SERVERS, 'gsi2pk', pk)))).flat();
  const newestFirst = (v: Volume) => `${v.created}#${v.id}`;
  return found.sort((a, b) => (newestFirst(a) < newestFirst(b) ? 1 : newestFirst(a) > newestFirst(b) ? -1 : 0));
}

/** One index partition's volumes, newest first, every page. */
async function partitionItems(table: Table, index: string, key: string, value: string): Promise<Volume[]> {
  const items: Volume[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await queryIndexedItems<Volume>(table, {
      IndexName: index, KeyConditionExpression: '#k = :v',
      ExpressionAttributeNames: { '#k': key }, ExpressionAttributeValues: { ':v': value },
      ScanIndexForward: false, ExclusiveStartKey: start,
    });
    items.push(...out.items);
    start = out.next;
  } while (start);
  return items;
}

/** Name, description and metadata (metadata replaced whole, as Cinder's update does). */
export async function updateVolume(
  table: Table, caller: Caller, id: string,
  change: { name?: string | null; description?: string | null; metadata?: Record<string, string> }, now: number,
): Promise<Volume> {
  const sets = ['#updated = :updated'];
  const values: Record<string, unknown> = { ':updated': new Date(now).toISOString(), ':project': caller.projectId };
  if (change.name !== undefined) { sets.push('#name = :name'); values[':name'] = change.name; }
  if (change.description !== undefined) { sets.push('#description = :description'); values[':description'] = change.description; }
  if (change.metadata !== undefined) { sets.push('#metadata = :metadata'); values[':metadata'] = change.metadata; }
  const condition = `attribute_exists(#size)${caller.isAdmin ? '' : ' AND #project = :project'}`;
  const expression = `SET ${sets.join(', ')}`;
  try {
    const out = await table.db.send(new UpdateCommand({
      TableName: table.name, Key: keys.volume(id), ConditionExpression: condition, UpdateExpression: expression,
      ...usedPlaceholders([condition, expression], {
        '#size': 'size', '#project': 'projectId', '#updated': 'updated', '#name': 'name', '#description': 'description', '#metadata': 'metadata',
      }, values),
      ReturnValues: 'ALL_NEW',
    }));
    return out.Attributes as Volume;
  } catch (err) {
    if (isConditionFailure(err)) throw new NotFound(volumeNotFound(id));
    throw err;
  }
}

const DELETE_REFUSED = 'Invalid volume: Volume status must be available or error or error_restoring or error_extending or '
  + 'error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be '
  + 'disassociated from snapshots after volume transfer.';

/**
 * Delete: ONE conditional write, from a deletable status (available: no server holds it, nor
 * reserves it), then the project's quota given back. Nova's attach of it afterwards is a 404.
 */
export async function deleteVolume(deps: VolumeDeps, caller: Caller, id: string): Promise<void> {
  const statuses = Object.fromEntries(DELETABLE.map((s, i) => [`:s${i}`, s]));
  let gone: Volume;
  try {
    const out = await deps.table.db.send(new DeleteCommand({
      TableName: deps.table.name, Key: keys.volume(id),
      ConditionExpression: `attribute_exists(#size) AND #status IN (${Object.keys(statuses).join(', ')})${caller.isAdmin ? '' : ' AND #project = :project'}`,
      ExpressionAttributeNames: { '#size': 'size', '#status': 'status', ...(caller.isAdmin ? {} : { '#project': 'projectId' }) },
      ExpressionAttributeValues: { ...statuses, ...(caller.isAdmin ? {} : { ':project': caller.projectId }) },
      ReturnValues: 'ALL_OLD', ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    }));
    gone = out.Attributes as Volume;
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    const held = itemFromConditionFailure<Volume>(err);
    if (!isVisible(held && typeof held.size === 'number' ? held : undefined, caller)) throw new NotFound(volumeNotFound(id));
    throw new BadRequest(DELETE_REFUSED, { cause: err });
  }
  await giveBackVolume(deps.table, gone.projectId, id, { size: gone.size });
}

/**
 * Extend: the project's quota charged with the growth, then ONE conditional write from the
 * status Cinder extends from (available; in-use from 3.42, `attached`) to `extending`, which
 * holds the volume (an attach or a delete is refused) while the backend grows it; then the new
 * size, back to the status it came from. A refused extend gives its charge back. One that dies
 * while extending leaves it to the sweeper (error_extending, as Cinder's failed extend).
 */
export async function extendVolume(deps: VolumeDeps, caller: Caller, id: string, newSize: number, attached: boolean): Promise<void> {
  const clock = deps.now ?? Date.now;
  const volume = await getVolume(deps.table, caller, id);
  if (newSize <= volume.size) {
    throw new BadRequest(`Invalid input received: New size for extend must be greater than current size. (current: ${volume.size}, extended: ${newSize}).`);
  }
  const expected = attached && volume.status === 'in-use' ? 'in-use' : 'available';
  const refused = (status: string) => new BadRequest(`Invalid volume: Volume ${id} status must be '{'status': '${expected}'}' to extend, currently ${status}.`);
  if (volume.status !== expected) throw refused(volume.status);
  const now = clock();
  await chargeGrowth({ table: deps.table, leaseMs: deps.leaseMs }, volume.projectId, id, volume.size, newSize, now);
  try {
    await deps.table.db.send(new UpdateCommand({
      TableName: deps.table.name, Key: keys.volume(id),
      ConditionExpression: '#status = :expected AND #size = :size',
      UpdateExpression: 'SET #status = :extending, #to = :to, #previous = :expected, #lease = :lease, #shard = :shard, #updated = :now',
      ExpressionAttributeNames: {
        '#status': 'status', '#size': 'size', '#to': 'extendingTo', '#previous': 'previousStatus', '#lease': 'leaseUntil',
        '#shard': 'leaseShard', '#updated': 'updated',
      },
      ExpressionAttributeValues: {
        ':expected': expected, ':size': volume.size, ':extending': 'extending', ':to': newSize, ':lease': now + deps.leaseMs,
        ':shard': leaseShardOf(id), ':now': new Date(now).toISOString(),
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    }));
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    await giveBackGrowth(deps.table, volume.projectId, id, volume.size, newSize, now);
    const held = itemFromConditionFailure<Volume>(err);
    if (!held) throw new NotFound(volumeNotFound(id));
    throw refused(held.status);
  }
  await (deps.backend ?? simulatedBackend).extend(volume, newSize);
  await deps.table.db.send(new UpdateCommand({
    TableName: deps.table.name, Key: keys.volume(id),
    ConditionExpression: '#status = :extending AND #to = :to',
    UpdateExpression: 'SET #status = #previous, #size = :to, #updated = :now REMOVE #to, #previous, #lease, #shard',
    ExpressionAttributeNames: {
      '#status': 'status', '#size': 'size', '#to': 'extendingTo', '#previous': 'previousStatus', '#lease': 'leaseUntil',
      '#shard': 'leaseShard', '#updated': 'updated',
    },
    ExpressionAttributeValues: { ':extending': 'extending', ':to': newSize, ':now': new Date(clock()).toISOString() },
  })).catch((err: unknown) => {
    // The sweeper or an administrator ended the extend first (its lease ran out): theirs stands.
    if (!isConditionFailure(err)) throw err;
    throw new ServiceUnavailable('The extend did not complete in time; the volume is in error_extending.');
  });
}

/** The sweeper's: an extend whose API invocation died while extending ends as Cinder's failed one. */
export async function endExpiredExtend(table: Table, volume: Volume, now: number): Promise<boolean> {
  if (volume.status !== 'extending' || volume.leaseUntil === undefined || volume.leaseUntil >= now) return false;
  try {
    await table.db.send(new UpdateCommand({
      TableName: table.name, Key: keys.volume(volume.id),
      ConditionExpression: '#status = :extending AND #lease = :lease',
      UpdateExpression: 'SET #status = :failed REMOVE #to, #previous, #lease, #shard',
      ExpressionAttributeNames: { '#status': 'status', '#lease': 'leaseUntil', '#to': 'extendingTo', '#previous': 'previousStatus', '#shard': 'leaseShard' },
      ExpressionAttributeValues: { ':extending': 'extending', ':lease': volume.leaseUntil, ':failed': 'error_extending' },
    }));
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

/**
 * os-reset_status (administrators): the status set as given, as Cinder's does, without regard to
 * what holds the volume. One conditional write (the volume exists).
 */
export async function resetVolumeStatus(table: Table, id: string, status: string, now: number): Promise<void> {
  try {
    await table.db.send(new UpdateCommand({
      TableName: table.name, Key: keys.volume(id),
      ConditionExpression: 'attribute_exists(#size)',
      UpdateExpression: 'SET #status = :status, #updated = :now',
      ExpressionAttributeNames: { '#size': 'size', '#status': 'status', '#updated': 'updated' },
      ExpressionAttributeValues: { ':status': status, ':now': new Date(now).toISOString() },
    }));
  } catch (err) {
    if (isConditionFailure(err)) throw new NotFound(volumeNotFound(id));
    throw err;
  }
}
