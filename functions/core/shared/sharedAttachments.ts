import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { attachmentFrom, readServer } from '../compute/attachmentItems.js';
import { claimLeaseEnd, takenOverClaims } from '../compute/instance.js';
import { BadRequest } from './errors.js';
import { isConditionFailure, itemFromConditionFailure, leaseShardOf, usedPlaceholders, type Table } from './table.js';
import type { AttachableItem, AttachableKind } from './attachables.js';

// A multiattach volume (Cinder's `multiattach="<is> True"` volume type) may be in-use by several
// servers at once, so one holder on the item (instanceId, requestId: the exclusive case, which
// stays ONE conditional write, attachables.ts) cannot describe it. Its holders are a map on the
// same item, one entry per server, each moving reserved -> attaching -> in-use -> detaching on its
// own by conditional writes on its own entry. The item's `status` says only whether any entry
// exists: `in-use` while one does, `available` once none does, so Cinder's delete and extend,
// conditioned on `available`, can never remove or resize a volume some server holds. The finer
// status Cinder shows is derived from the entries (functions/core/volumes/volume.ts).
//
// The lease index has one lease per item: it carries the latest reservation's, and the sweeper,
// finding it due, reclaims every entry whose own lease ran out and sets the item's lease to the
// next one still running (reclaimSharedExpired).

export type SharedStatus = 'reserved' | 'attaching' | 'in-use' | 'detaching';

export interface SharedAttachment {
  readonly requestId: string;
  readonly status: SharedStatus;
  readonly created: string;
  /** While reserved or attaching: when its request may be presumed dead unless its server shows it. */
  readonly leaseUntil?: number;
  readonly device?: string;
  readonly attachedAt?: string;
  /** The detach under way, while detaching. */
  readonly detachRequestId?: string;
}

const NAMES = {
  '#att': 'attachments', '#status': 'status', '#multi': 'multiattach', '#project': 'projectId',
  '#lease': 'leaseUntil', '#shard': 'leaseShard', '#updated': 'updated',
  '#st': 'status', '#req': 'requestId', '#elease': 'leaseUntil', '#device': 'device', '#at': 'attachedAt',
  '#detach': 'detachRequestId',
};

/** One update of the item, conditioned; false (with the item as it was) when the condition failed. */
async function update(
  table: Table, kind: AttachableKind, id: string, instanceId: string,
  t: { condition: string; expression: string; values: Record<string, unknown>; returnNew?: boolean },
): Promise<{ ok: boolean; item?: AttachableItem }> {
  try {
    const out = await table.db.send(new UpdateCommand({
      TableName: table.name, Key: kind.item(id), ConditionExpression: t.condition, UpdateExpression: t.expression,
      ...usedPlaceholders([t.condition, t.expression], { ...NAMES, '#inst': instanceId }, t.values),
      ReturnValues: t.returnNew ? 'ALL_NEW' : 'NONE', ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    }));
    return { ok: true, item: out.Attributes as AttachableItem | undefined };
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    return { ok: false, item: itemFromConditionFailure<AttachableItem>(err) };
  }
}

export const sharedEntry = (item: AttachableItem | undefined, instanceId: string): SharedAttachment | undefined =>
  item?.attachments && Object.hasOwn(item.attachments, instanceId) ? item.attachments[instanceId] : undefined;

/**
 * Reserve a multiattach volume for one more server: one conditional write on its own entry. It
 * may already be in use by others; not by this server (Nova's 400), and not while it is anything
 * but available or in-use (extending, error...).
 */
export async function reserveShared(
  table: Table, kind: AttachableKind, held: AttachableItem,
  req: { id: string; instanceId: string; projectId: string; requestId: string; now: number; leaseMs: number },
): Promise<void> {
  const entry: SharedAttachment = {
    requestId: req.requestId, status: 'reserved', created: new Date(req.now).toISOString(), leaseUntil: req.now + req.leaseMs,
  };
  const out = await update(table, kind, req.id, req.instanceId, {
    condition: '#multi = :true AND #project = :project AND #status IN (:available, :inUse) AND attribute_not_exists(#att.#inst) '
      + 'OR #multi = :true AND #project = :project AND #att.#inst.#req = :request',
    expression: 'SET #att.#inst = :entry, #status = :inUse, #lease = :lease, #shard = :shard, #updated = :now',
    values: {
      ':true': true, ':project': req.projectId, ':available': 'available', ':inUse': 'in-use', ':request': req.requestId,
      ':entry': entry, ':lease': entry.leaseUntil, ':shard': leaseShardOf(req.id), ':now': new Date(req.now).toISOString(),
    },
  });
  if (out.ok) return;
  const now = out.item ?? held;
  if (sharedEntry(now, req.instanceId)) {
    throw new BadRequest(`Invalid volume: volume ${req.id} is already attached to this server`);
  }
  throw new BadRequest(kind.unavailable?.(req.id, now) ?? `Invalid volume: volume ${req.id} is ${now.status}`);
}

/** This request's entry: reserved -> attaching (its worker took the operation up). */
export const beginAttachingShared = (table: Table, kind: AttachableKind, req: { id: string; instanceId: string; requestId: string }) =>
  ok(update(table, kind, req.id, req.instanceId, {
    condition: '#att.#inst.#req = :request AND #att.#inst.#st = :reserved',
    expression: 'SET #att.#inst.#st = :attaching',
    values: { ':request': req.requestId, ':reserved': 'reserved', ':attaching': 'attaching' },
  }));

/** This request's entry: reserved or attaching -> in-use, with the device Nova chose. */
export const markAttachedShared = (
  table: Table, kind: AttachableKind, req: { id: string; instanceId: string; requestId: string; device?: string },
) => ok(update(table, kind, req.id, req.instanceId, {
  condition: '#att.#inst.#req = :request AND #att.#inst.#st IN (:reserved, :attaching)',
  expression: `SET #att.#inst.#st = :inUse, #att.#inst.#at = :at${req.device ? ', #att.#inst.#device = :device' : ''} REMOVE #att.#inst.#elease`,
  values: {
    ':request': req.requestId, ':reserved': 'reserved', ':attaching': 'attaching', ':inUse': 'in-use',
    ':at': new Date().toISOString(), ...(req.device ? { ':device': req.device } : {}),
  },
}));

/** This server's entry: in-use -> detaching, for the detach `requestId`. */
export const beginDetachingShared = (table: Table, kind: AttachableKind, req: { id: string; instanceId: string; requestId: string }) =>
  ok(update(table, kind, req.id, req.instanceId, {
    condition: '#att.#inst.#st = :inUse',
    expression: 'SET #att.#inst.#st = :detaching, #att.#inst.#detach = :request',
    values: { ':inUse': 'in-use', ':detaching': 'detaching', ':request': req.requestId },
  }));

/** A detach that failed or was superseded: its entry back to in-use. */
export const undoDetachingShared = (table: Table, kind: AttachableKind, req: { id: string; instanceId: string; requestId: string }) =>
  ok(update(table, kind, req.id, req.instanceId, {
    condition: '#att.#inst.#st = :detaching AND #att.#inst.#detach = :request',
    expression: 'SET #att.#inst.#st = :inUse REMOVE #att.#inst.#detach',
    values: { ':inUse': 'in-use', ':detaching': 'detaching', ':request': req.requestId },
  }));

/**
 * Take one server's entry off (a reservation undone, a detach done, a server deleted):
 * `requestId` when only that request's reservation may go, `leaseBefore` when only one whose
 * lease ran out. The last entry leaving makes the volume available in the same write; when two
 * leave at once, neither sees itself last, and the one that finds the map empty afterwards makes
 * it available (a conditional write on the map being empty).
 */
export async function removeShared(
  table: Table, kind: AttachableKind,
  req: { id: string; instanceId: string; requestId?: string; leaseBefore?: number },
): Promise<boolean> {
  const own = [
    'attribute_exists(#att.#inst)',
    ...(req.requestId ? ['#att.#inst.#req = :request'] : []),
    ...(req.leaseBefore !== undefined ? ['#att.#inst.#st IN (:reserved, :attaching) AND #att.#inst.#elease < :before'] : []),
  ].join(' AND ');
  const values = {
    ...(req.requestId ? { ':request': req.requestId } : {}),
    ...(req.leaseBefore !== undefined ? { ':reserved': 'reserved', ':attaching': 'attaching', ':before': req.leaseBefore } : {}),
  };
  const last = await update(table, kind, req.id, req.instanceId, {
    condition: `${own} AND size(#att) = :one`,
    expression: 'SET #status = :available REMOVE #att.#inst, #lease, #shard',
    values: { ...values, ':one': 1, ':available': 'available' },
  });
  if (last.ok) return true;
  if (!sharedEntry(last.item, req.instanceId)) return false;
  const removed = await update(table, kind, req.id, req.instanceId, {
    condition: own, expression: 'REMOVE #att.#inst', values, returnNew: true,
  });
  if (!removed.ok) return false;
  if (Object.keys(removed.item?.attachments ?? {}).length === 0) {
    await update(table, kind, req.id, req.instanceId, {
      condition: 'size(#att) = :zero AND #status = :inUse',
      expression: 'SET #status = :available REMOVE #lease, #shard',
      values: { ':zero': 0, ':inUse': 'in-use', ':available': 'available' },
    });
  }
  return true;
}

/**
 * The sweeper's visit of a multiattach volume whose item lease ran out: each entry past its own
 * lease is decided from its server's item as an exclusive reservation is (attachables.ts
 * reclaimReservation): attached there (made in-use), held by its request's claim (its lease now
 * follows the claim's), or neither (taken off). Then the item's lease becomes the earliest one
 * still running, or goes. Returns how many entries were taken off.
 */
export async function reclaimSharedExpired(table: Table, kind: AttachableKind, item: AttachableItem, now: number): Promise<number> {
  let freed = 0;
  for (const [instanceId, entry] of Object.entries(item.attachments ?? {})) {
    if (!(entry.status === 'reserved' || entry.status === 'attaching') || (entry.leaseUntil ?? 0) >= now) continue;
    // With its attachments' details: which request attached it is on the attachment's own item.
    const instance = await readServer(table, instanceId);
    const onInstance = instance?.[kind.map]?.[item.id];
    const mapped = onInstance === undefined ? undefined : attachmentFrom(instanceId, item.id, onInstance);
    if (mapped?.requestId === entry.requestId) {
      await markAttachedShared(table, kind, { id: item.id, instanceId, requestId: entry.requestId, device: mapped.device });
    } else if ([instance?.claim, ...takenOverClaims(instance)].some((c) => c?.requestId === entry.requestId)) {
      await update(table, kind, item.id, instanceId, {
        condition: '#att.#inst.#req = :request', expression: 'SET #att.#inst.#elease = :lease',
        values: { ':request': entry.requestId, ':lease': Math.max(claimLeaseEnd(instance) ?? now, now) },
      });
    } else if (await removeShared(table, kind, { id: item.id, instanceId, requestId: entry.requestId, leaseBefore: now })) {
      freed++;
    }
  }
  const current = (await table.db.send(new GetCommand({ TableName: table.name, Key: kind.item(item.id), ConsistentRead: true }))).Item as
    AttachableItem | undefined;
  if (!current?.multiattach || current.leaseUntil === undefined) return freed;
  const running = Object.values(current.attachments ?? {}).map((e) => e.leaseUntil).filter((l): l is number => l !== undefined);
  await update(table, kind, item.id, '-', running.length === 0
    ? { condition: '#lease = :seen', expression: 'REMOVE #lease, #shard', values: { ':seen': current.leaseUntil } }
    : { condition: '#lease = :seen', expression: 'SET #lease = :next', values: { ':seen': current.leaseUntil, ':next': Math.min(...running) } });
  return freed;
}

async function ok(p: Promise<{ ok: boolean }>): Promise<boolean> {
  return (await p).ok;
}
