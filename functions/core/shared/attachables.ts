import { DeleteCommand, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { attachmentFrom, readServer } from '../compute/attachmentItems.js';
import { BadRequest, DriverError, NotFound, type DomainError } from './errors.js';
import { expirePort, letGoOfPort, portRefusal } from '../networks/ports.js';
import {
  beginAttachingShared, beginDetachingShared, markAttachedShared, reclaimSharedExpired, removeShared, reserveShared,
  undoDetachingShared, type SharedAttachment,
} from './sharedAttachments.js';
import { claimLeaseEnd, takenOverClaims, type Attachment, type AttachmentMap, type Instance } from '../compute/instance.js';
import { isConditionFailure, itemFromConditionFailure, keys, leaseShardOf, usedPlaceholders, type Table } from './table.js';

export type { Attachment } from '../compute/instance.js';

// Volumes and ports: resources that belong to at most one instance (a multiattach volume: to
// several). Each has its own item whose status moves from available through a reservation to
// in-use by conditional writes (Cinder's reserve). The
// attachment itself (a block-device mapping, or a virtual interface) lives in a map on the
// instance item, so a server view reads one item and admission picks a device without a read.
// Every write is single-item and conditional; a multi-item step is an ordered sequence whose
// compensation is the reverse, each undo conditioned on the request that made the change.
//
// A reservation is made BEFORE the instance is claimed (issue 11: a volume held elsewhere is
// refused with one failed write and never claims the instance), so an API invocation that dies
// between the two writes leaves it reserved for a request that never ran. It therefore carries
// a short lease (`leaseUntil`, on the sweeper's sparse lease index like a claim), longer than any
// API invocation can live: admission gives its claim back if the claim answered after that lease
// (admission.ts). Past the lease, the request has either claimed the instance (visible on the
// instance item), or ended, or never will: a later reserve of the same resource, or the sweeper,
// reads the instance once and takes the reservation back only when it shows neither a claim nor
// an attachment by that request (reclaimReservation). That read is on the rare takeover path
// only: a live race's loser still gets its 400 from the one failed write. Claiming first instead
// would make every refused attach claim (and block) the instance for a moment and cost it three
// writes; a lease keeps the refusal one write and bounds the leak by the lease plus one sweep.

// Volumes are Cinder's (functions/core/volumes/): made by Cinder's create before Nova may attach
// them, and their status is Cinder's: available -> reserved (the reservation, before the claim)
// -> attaching (its worker took the operation up) -> in-use -> detaching (a detach's worker runs)
// -> available. A multiattach volume keeps its holders in a map instead (sharedAttachments.ts);
// each function here falls through to it only when the item says multiattach, so the exclusive
// case stays one conditional write. Ports are Neutron's (functions/core/networks/ports.ts): reserved
// straight to `attaching`, and let go of in their own way (a port Nova made goes with its addresses).

export type AttachableStatus = 'available' | 'reserved' | 'attaching' | 'in-use' | 'detaching' | (string & {});

export interface AttachableItem {
  readonly id: string;
  readonly status: AttachableStatus;
  /** The project that first attached it: it belongs to that project from then on. */
  readonly projectId?: string;
  readonly instanceId?: string;
  readonly requestId?: string;
  /** While reserved (or attaching): when its request may be presumed dead unless the instance shows it (epoch ms). */
  readonly leaseUntil?: number;
  /** Volumes: a volume type with `multiattach="<is> True"` made it; its holders are `attachments`. */
  readonly multiattach?: boolean;
  readonly attachments?: Readonly<Record<string, SharedAttachment>>;
  /** Volumes in use: the guest device and when the attach completed (Cinder's attachment view). */
  readonly device?: string;
  readonly attachedAt?: string;
  /** The detach under way, while `detaching`. */
  readonly detachRequestId?: string;
}

export interface AttachableKind {
  readonly noun: 'volume' | 'port';
  readonly item: (id: string) => { pk: string; sk: string };
  /** The instance item's map that holds this kind's attachments. */
  readonly map: AttachmentMap;
  /** What the driver reports when an attachment it expects is gone (Nova's exception name). */
  readonly missingAttachment: string;
  /** Nova's 404 for an id the project cannot see (Cinder's VolumeNotFound, Neutron's PortNotFound). */
  readonly notFound: (id: string) => string;
  /** The status a reservation holds it in until its request's worker takes it up. */
  readonly reservedStatus: AttachableStatus;
  /** Only an item its own service made may be reserved (Cinder's volumes); else an unknown id is available. */
  readonly mustExist: boolean;
  /** The refusal of a reservation of one that is not available, in its own service's words. */
  readonly unavailable?: (id: string, held: AttachableItem) => string;
  /** Ports: the refusal of one held elsewhere is Nova's 409 PortInUse (a 404 while Neutron removes it), not a 400. */
  readonly refusal?: (id: string, held: AttachableItem) => DomainError;
  /**
   * Ports: how a server lets go of one (unreserve, detach, delete). A port Nova made, or one
   * Neutron deleted meanwhile, goes with its addresses rather than turning available.
   */
  readonly letGo?: (table: Table, req: { id: string; instanceId: string; requestId?: string; onlyIfLeaseBefore?: number }) => Promise<boolean>;
  /** Ports: the sweeper's visit of one whose creation or removal outlived its lease; undefined leaves it to reclaimExpired. */
  readonly expire?: (table: Table, item: AttachableItem, now: number) => Promise<boolean | undefined>;
}

/** Cinder's refusal (cinder/volume/api.py _attachment_reserve), as Nova passes it on. */
const volumeUnavailable = (id: string, held: AttachableItem) =>
  `Invalid volume: Volume ${id} status must be ${held.multiattach ? 'available or in-use or downloading' : 'available or downloading'} `
  + `to reserve, but the current status is ${held.status}.`;

export const Volumes: AttachableKind = {
  noun: 'volume', item: keys.volume, map: 'volumes',
  missingAttachment: 'VolumeBDMNotFound', notFound: (id) => `Volume ${id} could not be found.`,
  reservedStatus: 'reserved', mustExist: true, unavailable: volumeUnavailable,
};
/** Ports are Neutron's (functions/core/networks/ports.ts): made before Nova may bind them to a server. */
export const Ports: AttachableKind = {
  noun: 'port', item: keys.port, map: 'ports',
  missingAttachment: 'PortNotFound', notFound: (id) => `Port id ${id} could not be found.`,
  reservedStatus: 'attaching', mustExist: true,
  refusal: (id, held) => portRefusal(id, held),
  letGo: (table, req) => letGoOfPort(table, req),
  expire: (table, item, now) => expirePort(table, item as never, now),
};

/**
 * Reserve for one instance of `projectId`. A volume must exist (Cinder made it) and be the
 * project's; a port id seen for the first time is available, and becomes that project's. Exactly one of several racing instances wins; the others get a 400
 * naming who holds it. Another project's volume or port is a 404, as an id Cinder or Neutron
 * does not show that project: it learns nothing of it, not even whether it is in use. A
 * reservation whose lease ran out without its request claiming the instance is taken over.
 */
export async function reserve(
  table: Table, kind: AttachableKind,
  req: { id: string; instanceId: string; projectId: string; requestId: string; now: number; leaseMs: number },
): Promise<AttachableItem | void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const out = await table.db.send(new UpdateCommand({
        TableName: table.name,
        Key: kind.item(req.id),
        // Unparenthesised (AND binds tighter than OR): dynalite's parser backtracks over each group.
        // The last alternative: this very request reserved it before it died, and its retry
        // (Idempotency-Key, same request id) reserves it again.
        ConditionExpression: kind.mustExist
          ? '#status = :available AND #project = :project AND NOT #multi = :true '
            + 'OR #status = :reserved AND #request = :request AND #project = :project'
          : 'attribute_not_exists(pk) OR #status = :available AND attribute_not_exists(#project) '
            + 'OR #status = :available AND #project = :project OR #status = :reserved AND #request = :request AND #project = :project',
        UpdateExpression: 'SET #id = :id, #status = :reserved, #instance = :instance, #request = :request, #updated = :now, '
          + '#lease = :lease, #shard = :shard, '
          + '#project = if_not_exists(#project, :project), #createdBy = if_not_exists(#createdBy, :request)',
        ExpressionAttributeNames: {
          '#id': 'id', '#status': 'status', '#instance': 'instanceId', '#request': 'requestId', '#updated': 'updated',
          '#project': 'projectId', '#createdBy': 'createdByRequest', '#lease': 'leaseUntil', '#shard': 'leaseShard',
          ...(kind.mustExist ? { '#multi': 'multiattach' } : {}),
        },
        ExpressionAttributeValues: {
          ':id': req.id, ':available': 'available', ':reserved': kind.reservedStatus, ':instance': req.instanceId,
          ':request': req.requestId, ':now': new Date(req.now).toISOString(), ':project': req.projectId,
          ':lease': req.now + req.leaseMs, ':shard': leaseShardOf(req.id), ...(kind.mustExist ? { ':true': true } : {}),
        },
        // The item as reserved: a port's address and MAC for the server's interface, without a read.
        ReturnValues: 'ALL_NEW', ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }));
      return out.Attributes as AttachableItem;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const held = itemFromConditionFailure<AttachableItem>(err) ?? await readAttachable(table, kind, req.id);
      if (held?.projectId !== undefined && held.projectId !== req.projectId) throw new NotFound(kind.notFound(req.id));
      if (!held && kind.mustExist) throw new NotFound(kind.notFound(req.id));
      if (held?.multiattach) return reserveShared(table, kind, held, req);
      // The one rare case worth a read: a reservation past its lease may belong to a dead request.
      if (attempt === 1 && held && reservationExpired(held, req.now)
        && await reclaimReservation(table, kind, held, req.now) === 'freed') continue;
      if (held && kind.refusal) throw kind.refusal(req.id, held);
      if (held?.instanceId === req.instanceId) {
        throw new BadRequest(`Invalid ${kind.noun}: ${kind.noun} ${req.id} is already attached to this server`, { cause: err });
      }
      if (held && kind.unavailable) throw new BadRequest(kind.unavailable(req.id, held), { cause: err });
      throw new BadRequest(
        `Invalid ${kind.noun}: ${kind.noun} ${req.id} is ${held?.status ?? 'unavailable'}`
        + (held?.instanceId ? ` (attached to another server)` : ''),
        { cause: err },
      );
    }
  }
}

/** Held by one request that has not finished attaching it: a reservation, or its worker's attach. */
const isHeldForAttach = (item: AttachableItem) => item.status === 'reserved' || item.status === 'attaching';

const reservationExpired = (item: AttachableItem, now: number) =>
  !item.multiattach && isHeldForAttach(item) && item.leaseUntil !== undefined && item.leaseUntil < now;

/**
 * The sweeper's visit of a volume or port whose lease ran out: its reservation (or, on a
 * multiattach volume, each of its holders' reservations) decided as reclaimReservation does.
 * True when one was given back.
 */
export async function reclaimExpired(table: Table, kind: AttachableKind, item: AttachableItem, now: number): Promise<boolean> {
  const own = await kind.expire?.(table, item, now);
  if (own !== undefined) return own;
  if (item.multiattach) return await reclaimSharedExpired(table, kind, item, now) > 0;
  if (!reservationExpired(item, now)) return false;
  return await reclaimReservation(table, kind, item, now) === 'freed';
}

/**
 * What became of a reservation whose lease ran out, decided from its instance item (one read):
 * - `attached`: its request's release put the attachment on the instance but died before marking
 *   the resource in-use; that is done now.
 * - `live`: its request holds the instance's claim (or is one of the claims that claim took over,
 *   whose owner gives the reservation back): the reservation's lease now follows the claim's lease.
 * - `freed`: the instance shows neither, and the lease guarantees its request can no longer
 *   claim it: the API invocation died between the reservation and the claim, or the operation
 *   ended in failure and died before giving it back. The reservation is undone.
 * Every write is conditioned on the reservation still being that request's, so the sweeper and a
 * reserve doing this at once, or a worker finishing meanwhile, cannot undo each other.
 */
export async function reclaimReservation(
  table: Table, kind: AttachableKind, item: AttachableItem, now: number,
): Promise<'attached' | 'live' | 'freed' | 'moved'> {
  if (!item.instanceId || !item.requestId) return 'moved';
  const req = { id: item.id, instanceId: item.instanceId, requestId: item.requestId };
  // With its attachments' details: which request attached it is on the attachment's own item.
  const instance = await readServer(table, item.instanceId);
  const mapped = attachmentOn(instance, kind, item.id);
  if (mapped?.requestId === item.requestId) {
    return await markAttached(table, kind, { ...req, device: mapped.device }) ? 'attached' : 'moved';
  }
  const held = [instance?.claim, ...takenOverClaims(instance)].some((c) => c?.requestId === item.requestId);
  if (held) {
    const followed = await transition(table, kind, item.id, {
      condition: '#instance = :instance AND #request = :request AND #status IN (:reserved, :attaching)',
      expression: 'SET #lease = :lease',
      values: {
        ':instance': req.instanceId, ':request': req.requestId, ':reserved': kind.reservedStatus, ':attaching': 'attaching',
        ':lease': Math.max(claimLeaseEnd(instance) ?? now, now),
      },
    });
    return followed ? 'live' : 'moved';
  }
  return await unreserve(table, kind, req, { onlyIfLeaseBefore: now }) ? 'freed' : 'moved';
}

/**
 * reserved -> attaching: the request's worker took the attach up (Cinder's attachment_update).
 * False, changing nothing, once the reservation is no longer that request's.
 */
export async function beginAttaching(
  table: Table, kind: AttachableKind, req: { id: string; instanceId: string; requestId: string },
): Promise<boolean> {
  return transition(table, kind, req.id, {
    condition: '#instance = :instance AND #request = :request AND #status = :reserved',
    expression: 'SET #status = :attaching',
    values: { ':instance': req.instanceId, ':request': req.requestId, ':reserved': kind.reservedStatus, ':attaching': 'attaching' },
  }, (old) => beginAttachingShared(table, kind, req));
}

/**
 * reserved or attaching -> in-use, only for the request that reserved it (false on a repeat),
 * recording the guest device the attach chose.
 */
export async function markAttached(
  table: Table, kind: AttachableKind, req: { id: string; instanceId: string; requestId: string; device?: string },
): Promise<boolean> {
  const device = req.device ? ', #device = :device, #attachedAt = :at' : '';
  return transition(table, kind, req.id, {
    condition: '#instance = :instance AND #request = :request AND #status IN (:reserved, :attaching)',
    expression: `SET #status = :inUse${device} REMOVE #lease, #shard`,
    values: {
      ':instance': req.instanceId, ':request': req.requestId, ':reserved': kind.reservedStatus, ':attaching': 'attaching',
      ':inUse': 'in-use', ...(req.device ? { ':device': req.device, ':at': new Date().toISOString() } : {}),
    },
  }, () => markAttachedShared(table, kind, req));
}

/** in-use -> detaching: a detach's worker took it up (Cinder's begin_detaching). */
export async function beginDetaching(
  table: Table, kind: AttachableKind, req: { id: string; instanceId: string; requestId: string },
): Promise<boolean> {
  return transition(table, kind, req.id, {
    condition: '#instance = :instance AND #status = :inUse',
    expression: 'SET #status = :detaching, #detach = :request',
    values: { ':instance': req.instanceId, ':inUse': 'in-use', ':detaching': 'detaching', ':request': req.requestId },
  }, () => beginDetachingShared(table, kind, req));
}

/** A detach that failed or was superseded: detaching -> in-use again (Cinder's roll_detaching). */
export async function undoDetaching(
  table: Table, kind: AttachableKind, req: { id: string; instanceId: string; requestId: string },
): Promise<boolean> {
  return transition(table, kind, req.id, {
    condition: '#instance = :instance AND #status = :detaching AND #detach = :request',
    expression: 'SET #status = :inUse REMOVE #detach',
    values: { ':instance': req.instanceId, ':inUse': 'in-use', ':detaching': 'detaching', ':request': req.requestId },
  }, () => undoDetachingShared(table, kind, req));
}

/**
 * Undo the reservation (or attachment) this request made. A no-op if the resource moved on.
 * `onlyIfLeaseBefore`: only a reservation still `attaching` whose lease ran out (reclaimReservation).
 */
export async function unreserve(
  table: Table, kind: AttachableKind, req: { id: string; instanceId: string; requestId: string },
  options: { onlyIfLeaseBefore?: number } = {},
): Promise<boolean> {
  if (kind.letGo) return kind.letGo(table, { ...req, ...options });
  const expired = options.onlyIfLeaseBefore === undefined ? '' : ' AND #status IN (:reserved, :attaching) AND #lease < :leaseBefore';
  const expiredValues = options.onlyIfLeaseBefore === undefined
    ? {} : { ':reserved': kind.reservedStatus, ':attaching': 'attaching', ':leaseBefore': options.onlyIfLeaseBefore };
  // An id first seen by this very request leaves no trace: the item goes, and with it the owner
  // project the reservation recorded, so a refused or failed attach takes nothing from anyone.
  // (A volume is Cinder's, never first seen here.)
  if (!kind.mustExist) try {
    await table.db.send(new DeleteCommand({
      TableName: table.name, Key: kind.item(req.id),
      ConditionExpression: `#instance = :instance AND #request = :request AND #createdBy = :request${expired}`,
      ExpressionAttributeNames: {
        '#instance': 'instanceId', '#request': 'requestId', '#createdBy': 'createdByRequest',
        ...(expired ? { '#status': 'status', '#lease': 'leaseUntil' } : {}),
      },
      ExpressionAttributeValues: { ':instance': req.instanceId, ':request': req.requestId, ...expiredValues },
    }));
    return true;
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
  }
  return transition(table, kind, req.id, {
    condition: `#instance = :instance AND #request = :request${expired}`,
    expression: 'SET #status = :available REMOVE #instance, #request, #lease, #shard',
    values: { ':instance': req.instanceId, ':request': req.requestId, ':available': 'available', ...expiredValues },
  }, () => removeShared(table, kind, { ...req, leaseBefore: options.onlyIfLeaseBefore }));
}

/** Give the resource back (detach, delete). A no-op if it is no longer this instance's. */
export async function releaseAttachable(
  table: Table, kind: AttachableKind, req: { id: string; instanceId: string },
): Promise<boolean> {
  if (kind.letGo) return kind.letGo(table, req);
  return transition(table, kind, req.id, {
    condition: '#instance = :instance',
    expression: 'SET #status = :available REMOVE #instance, #request, #lease, #shard, #device, #attachedAt, #detach',
    values: { ':instance': req.instanceId, ':available': 'available' },
  }, () => removeShared(table, kind, req));
}

/**
 * One conditional write on the holder fields. When it fails on a multiattach volume (whose
 * holders are a map, sharedAttachments.ts), `shared` makes the same move on the server's entry;
 * on anything else the failure is the answer, and nothing more is written.
 */
async function transition(
  table: Table, kind: AttachableKind, id: string,
  t: { condition: string; expression: string; values: Record<string, unknown> },
  shared?: (old: AttachableItem) => Promise<boolean>,
): Promise<boolean> {
  const names: Record<string, string> = {
    '#status': 'status', '#instance': 'instanceId', '#request': 'requestId', '#lease': 'leaseUntil', '#shard': 'leaseShard',
    '#device': 'device', '#attachedAt': 'attachedAt', '#detach': 'detachRequestId',
  };
  try {
    await table.db.send(new UpdateCommand({
      TableName: table.name, Key: kind.item(id),
      ConditionExpression: t.condition, UpdateExpression: t.expression,
      ...usedPlaceholders([t.condition, t.expression], names, t.values),
      ...(shared ? { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const } : {}),
    }));
    return true;
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    const old = shared ? itemFromConditionFailure<AttachableItem>(err) ?? await readAttachable(table, kind, id) : undefined;
    return old?.multiattach && shared ? shared(old) : false;
  }
}

export async function readAttachable(table: Table, kind: AttachableKind, id: string): Promise<AttachableItem | undefined> {
  const out = await table.db.send(new GetCommand({ TableName: table.name, Key: kind.item(id), ConsistentRead: true }));
  return out.Item as AttachableItem | undefined;
}

/** One attachment of one kind on an instance item (own keys only: an id is user input). */
export function attachmentOn(instance: Instance | undefined, kind: AttachableKind, id: string): Attachment | undefined {
  const map = instance?.[kind.map];
  return map && Object.hasOwn(map, id) ? attachmentFrom(instance.id, id, map[id]!) : undefined;
}

/** The attachments of one kind on an instance item. */
export function attachmentsOf(instance: Instance | undefined, kind: AttachableKind): Attachment[] {
  // In the order they were attached, as Nova lists a server's interfaces and volumes: a DynamoDB
  // map keeps no order of its own (DynamoDB Local and dynalite return its keys differently).
  return Object.entries(instance?.[kind.map] ?? {})
    .map(([id, entry]) => attachmentFrom(instance!.id, id, entry))
    .sort((a, b) => (a.created ?? '').localeCompare(b.created ?? '') || a.id.localeCompare(b.id));
}

/**
 * A driver's write to an existing attachment (rebuild re-attaching a volume). If the
 * attachment is gone the driver fails the way Nova's did: this is the blueprint's race.
 */
export async function touchAttachment(
  table: Table, kind: AttachableKind, req: { instanceId: string; id: string; now: number },
): Promise<void> {
  try {
    await table.db.send(new UpdateCommand({
      TableName: table.name, Key: keys.instance(req.instanceId),
      // The entry written back as it is: a write that fails when the attachment is gone.
      ConditionExpression: 'attribute_exists(#map.#id)',
      UpdateExpression: 'SET #map.#id = #map.#id',
      ExpressionAttributeNames: { '#map': kind.map, '#id': req.id },
    }));
  } catch (err) {
    if (isConditionFailure(err)) {
      throw new DriverError(`${kind.missingAttachment}: ${kind.noun} ${req.id} is not attached to instance ${req.instanceId}`, 500, { cause: err });
    }
    throw err;
  }
}

/**
 * Write an attachment onto the instance item outside any claim: for seeding tests and the
 * pre-blueprint baseline only. taskgate's own operations change the map in their fenced release.
 */
export async function writeAttachmentUnfenced(
  table: Table, kind: AttachableKind, attachment: Attachment | { instanceId: string; id: string; remove: true },
): Promise<void> {
  const remove = 'remove' in attachment;
  await table.db.send(new UpdateCommand({
    TableName: table.name, Key: keys.instance(attachment.instanceId),
    UpdateExpression: remove ? 'REMOVE #map.#id' : 'SET #map.#id = :attachment',
    ExpressionAttributeNames: { '#map': kind.map, '#id': attachment.id },
    ...(remove ? {} : { ExpressionAttributeValues: { ':attachment': attachment } }),
  }));
}

/** One attachment of a server (a read of the instance item). */
export async function getAttachment(
  table: Table, kind: AttachableKind, instanceId: string, id: string,
): Promise<Attachment | undefined> {
  return attachmentOn(await readServer(table, instanceId), kind, id);
}

export async function listAttachments(table: Table, kind: AttachableKind, instanceId: string): Promise<Attachment[]> {
  return attachmentsOf(await readServer(table, instanceId), kind);
}
