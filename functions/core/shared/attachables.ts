import { DeleteCommand, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { readInstance } from '../compute/claims.js';
import { BadRequest, DriverError, NotFound } from './errors.js';
import { takenOverClaims, type Attachment, type AttachmentMap, type Instance } from '../compute/instance.js';
import { isConditionFailure, itemFromConditionFailure, keys, leaseShardOf, type Table } from './table.js';

export type { Attachment } from '../compute/instance.js';

// Volumes and ports: resources that belong to at most one instance. Each has its own item whose
// status moves available -> attaching -> in-use by conditional writes (Cinder's reserve). The
// attachment itself (a block-device mapping, or a virtual interface) lives in a map on the
// instance item, so a server view reads one item and admission picks a device without a read.
// Every write is single-item and conditional; a multi-item step is an ordered sequence whose
// compensation is the reverse, each undo conditioned on the request that made the change.
//
// A reservation is made BEFORE the instance is claimed (issue 11: a volume held elsewhere is
// refused with one failed write and never claims the instance), so an API invocation that dies
// between the two writes leaves it `attaching` for a request that never ran. It therefore carries
// a short lease (`leaseUntil`, on the sweeper's sparse lease index like a claim), longer than any
// API invocation can live: admission gives its claim back if the claim answered after that lease
// (admission.ts). Past the lease, the request has either claimed the instance (visible on the
// instance item), or ended, or never will: a later reserve of the same resource, or the sweeper,
// reads the instance once and takes the reservation back only when it shows neither a claim nor
// an attachment by that request (reclaimReservation). That read is on the rare takeover path
// only: a live race's loser still gets its 400 from the one failed write. Claiming first instead
// would make every refused attach claim (and block) the instance for a moment and cost it three
// writes; a lease keeps the refusal one write and bounds the leak by the lease plus one sweep.

export type AttachableStatus = 'available' | 'attaching' | 'in-use';

export interface AttachableItem {
  readonly id: string;
  readonly status: AttachableStatus;
  /** The project that first attached it: it belongs to that project from then on. */
  readonly projectId?: string;
  readonly instanceId?: string;
  readonly requestId?: string;
  /** While `attaching`: when its request may be presumed dead unless the instance shows it (epoch ms). */
  readonly leaseUntil?: number;
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
}

export const Volumes: AttachableKind = {
  noun: 'volume', item: keys.volume, map: 'volumes',
  missingAttachment: 'VolumeBDMNotFound', notFound: (id) => `Volume ${id} could not be found.`,
};
export const Ports: AttachableKind = {
  noun: 'port', item: keys.port, map: 'ports',
  missingAttachment: 'PortNotFound', notFound: (id) => `Port id ${id} could not be found.`,
};

/**
 * Reserve for one instance of `projectId`: an id seen for the first time is available, and
 * becomes that project's. Exactly one of several racing instances wins; the others get a 400
 * naming who holds it. Another project's volume or port is a 404, as an id Cinder or Neutron
 * does not show that project: it learns nothing of it, not even whether it is in use. A
 * reservation whose lease ran out without its request claiming the instance is taken over.
 */
export async function reserve(
  table: Table, kind: AttachableKind,
  req: { id: string; instanceId: string; projectId: string; requestId: string; now: number; leaseMs: number },
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await table.db.send(new UpdateCommand({
        TableName: table.name,
        Key: kind.item(req.id),
        // Unparenthesised (AND binds tighter than OR): dynalite's parser backtracks over each group.
        // The last alternative: this very request reserved it before it died, and its retry
        // (Idempotency-Key, same request id) reserves it again.
        ConditionExpression: 'attribute_not_exists(pk) OR #status = :available AND attribute_not_exists(#project) '
          + 'OR #status = :available AND #project = :project OR #status = :attaching AND #request = :request AND #project = :project',
        UpdateExpression: 'SET #id = :id, #status = :attaching, #instance = :instance, #request = :request, #updated = :now, '
          + '#lease = :lease, #shard = :shard, '
          + '#project = if_not_exists(#project, :project), #createdBy = if_not_exists(#createdBy, :request)',
        ExpressionAttributeNames: {
          '#id': 'id', '#status': 'status', '#instance': 'instanceId', '#request': 'requestId', '#updated': 'updated',
          '#project': 'projectId', '#createdBy': 'createdByRequest', '#lease': 'leaseUntil', '#shard': 'leaseShard',
        },
        ExpressionAttributeValues: {
          ':id': req.id, ':available': 'available', ':attaching': 'attaching', ':instance': req.instanceId,
          ':request': req.requestId, ':now': new Date(req.now).toISOString(), ':project': req.projectId,
          ':lease': req.now + req.leaseMs, ':shard': leaseShardOf(req.id),
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }));
      return;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const held = itemFromConditionFailure<AttachableItem>(err) ?? await readAttachable(table, kind, req.id);
      if (held?.projectId !== undefined && held.projectId !== req.projectId) throw new NotFound(kind.notFound(req.id));
      // The one rare case worth a read: a reservation past its lease may belong to a dead request.
      if (attempt === 1 && held && reservationExpired(held, req.now)
        && await reclaimReservation(table, kind, held, req.now) === 'freed') continue;
      if (held?.instanceId === req.instanceId) {
        throw new BadRequest(`Invalid ${kind.noun}: ${kind.noun} ${req.id} is already attached to this server`, { cause: err });
      }
      throw new BadRequest(
        `Invalid ${kind.noun}: ${kind.noun} ${req.id} is ${held?.status ?? 'unavailable'}`
        + (held?.instanceId ? ` (attached to another server)` : ''),
        { cause: err },
      );
    }
  }
}

const reservationExpired = (item: AttachableItem, now: number) =>
  item.status === 'attaching' && item.leaseUntil !== undefined && item.leaseUntil < now;

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
  const instance = await readInstance(table, item.instanceId);
  if (attachmentOn(instance, kind, item.id)?.requestId === item.requestId) {
    return await markAttached(table, kind, req) ? 'attached' : 'moved';
  }
  const held = [instance?.claim, ...takenOverClaims(instance)].some((c) => c?.requestId === item.requestId);
  if (held) {
    const followed = await transition(table, kind, item.id, {
      condition: '#instance = :instance AND #request = :request AND #status = :attaching',
      expression: 'SET #lease = :lease',
      values: {
        ':instance': req.instanceId, ':request': req.requestId, ':attaching': 'attaching',
        ':lease': Math.max(instance?.leaseUntil ?? now, now),
      },
    });
    return followed ? 'live' : 'moved';
  }
  return await unreserve(table, kind, req, { onlyIfLeaseBefore: now }) ? 'freed' : 'moved';
}

/** attaching -> in-use, only for the request that reserved it (false on a repeat). */
export async function markAttached(
  table: Table, kind: AttachableKind, req: { id: string; instanceId: string; requestId: string },
): Promise<boolean> {
  return transition(table, kind, req.id, {
    condition: '#instance = :instance AND #request = :request AND #status = :attaching',
    expression: 'SET #status = :inUse REMOVE #lease, #shard',
    values: { ':instance': req.instanceId, ':request': req.requestId, ':attaching': 'attaching', ':inUse': 'in-use' },
  });
}

/**
 * Undo the reservation (or attachment) this request made. A no-op if the resource moved on.
 * `onlyIfLeaseBefore`: only a reservation still `attaching` whose lease ran out (reclaimReservation).
 */
export async function unreserve(
  table: Table, kind: AttachableKind, req: { id: string; instanceId: string; requestId: string },
  options: { onlyIfLeaseBefore?: number } = {},
): Promise<boolean> {
  const expired = options.onlyIfLeaseBefore === undefined ? '' : ' AND #status = :attaching AND #lease < :leaseBefore';
  const expiredValues = options.onlyIfLeaseBefore === undefined ? {} : { ':attaching': 'attaching', ':leaseBefore': options.onlyIfLeaseBefore };
  // An id first seen by this very request leaves no trace: the item goes, and with it the owner
  // project the reservation recorded, so a refused or failed attach takes nothing from anyone.
  try {
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
  });
}

/** Give the resource back (detach, delete). A no-op if it is no longer this instance's. */
export async function releaseAttachable(
  table: Table, kind: AttachableKind, req: { id: string; instanceId: string },
): Promise<boolean> {
  return transition(table, kind, req.id, {
    condition: '#instance = :instance',
    expression: 'SET #status = :available REMOVE #instance, #request, #lease, #shard',
    values: { ':instance': req.instanceId, ':available': 'available' },
  });
}

async function transition(
  table: Table, kind: AttachableKind, id: string,
  t: { condition: string; expression: string; values: Record<string, unknown> },
): Promise<boolean> {
  const names: Record<string, string> = { '#status': 'status', '#instance': 'instanceId' };
  const text = `${t.condition} ${t.expression}`;
  if (text.includes('#request')) names['#request'] = 'requestId';
  if (text.includes('#lease')) names['#lease'] = 'leaseUntil';
  if (text.includes('#shard')) names['#shard'] = 'leaseShard';
  try {
    await table.db.send(new UpdateCommand({
      TableName: table.name, Key: kind.item(id),
      ConditionExpression: t.condition, UpdateExpression: t.expression,
      ExpressionAttributeNames: names, ExpressionAttributeValues: t.values,
    }));
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

export async function readAttachable(table: Table, kind: AttachableKind, id: string): Promise<AttachableItem | undefined> {
  const out = await table.db.send(new GetCommand({ TableName: table.name, Key: kind.item(id), ConsistentRead: true }));
  return out.Item as AttachableItem | undefined;
}

/** One attachment of one kind on an instance item (own keys only: an id is user input). */
export function attachmentOn(instance: Instance | undefined, kind: AttachableKind, id: string): Attachment | undefined {
  const map = instance?.[kind.map];
  return map && Object.hasOwn(map, id) ? map[id] : undefined;
}

/** The attachments of one kind on an instance item. */
export function attachmentsOf(instance: Instance | undefined, kind: AttachableKind): Attachment[] {
  return Object.values(instance?.[kind.map] ?? {});
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
      ConditionExpression: 'attribute_exists(#map.#id)',
      UpdateExpression: 'SET #map.#id.#touched = :now',
      ExpressionAttributeNames: { '#map': kind.map, '#id': req.id, '#touched': 'touched' },
      ExpressionAttributeValues: { ':now': new Date(req.now).toISOString() },
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
  return attachmentOn(await readInstance(table, instanceId), kind, id);
}

export async function listAttachments(table: Table, kind: AttachableKind, instanceId: string): Promise<Attachment[]> {
  return attachmentsOf(await readInstance(table, instanceId), kind);
}
