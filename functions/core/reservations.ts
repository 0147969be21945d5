import {
  deleteAttachment, getAttachment, listAttachments, Ports, reserve, unreserve, Volumes, type AttachableKind,
} from './attachables.js';
import type { OperationName } from './catalogue.js';
import { NotFound } from './errors.js';
import type { Claim } from './instance.js';
import type { Table } from './table.js';

// What some operations must hold besides the instance claim, acquired at admission under the
// claim (so no other operation on this instance can interleave), and how to give it back when
// the operation fails, is fenced out, expires, or is taken over by delete.

export interface ReservationContext {
  readonly instanceId: string;
  /** The instance's project: a volume or port it reserves becomes (or must be) that project's. */
  readonly projectId: string;
  readonly requestId: string;
  readonly params: Record<string, unknown>;
  readonly now: number;
}

export interface Reservation {
  /** Returns extra parameters for the worker (e.g. the device name chosen). */
  acquire(table: Table, ctx: ReservationContext): Promise<Record<string, unknown>>;
  /** Undo this request's reservation and any partial attachment it made; safe to repeat. */
  undo(table: Table, claim: Pick<Claim, 'requestId' | 'params'>, instanceId: string): Promise<void>;
}

const attaching = (kind: AttachableKind, idParam: string, extra: Reservation['acquire'] = async () => ({})): Reservation => ({
  async acquire(table, ctx) {
    await reserve(table, kind, {
      id: String(ctx.params[idParam]), instanceId: ctx.instanceId, projectId: ctx.projectId, requestId: ctx.requestId, now: ctx.now,
    });
    return extra(table, ctx);
  },
  async undo(table, claim, instanceId) {
    const id = String(claim.params[idParam]);
    await deleteAttachment(table, kind, { instanceId, id, requestId: claim.requestId });
    await unreserve(table, kind, { id, instanceId, requestId: claim.requestId });
  },
});

const mustBeAttached = (kind: AttachableKind, idParam: string): Reservation => ({
  async acquire(table, ctx) {
    const id = String(ctx.params[idParam]);
    if (!await getAttachment(table, kind, ctx.instanceId, id)) {
      throw new NotFound(kind === Volumes
        ? `Volume ${id} is not attached to ${ctx.instanceId}`
        : `Port ${id} is not attached to ${ctx.instanceId}`);
    }
    return {};
  },
  async undo() { /* nothing was reserved */ },
});

/** The next free guest device (vdb, vdc, ...); vda is the root disk. */
async function nextDevice(table: Table, ctx: ReservationContext): Promise<Record<string, unknown>> {
  const taken = new Set((await listAttachments(table, Volumes, ctx.instanceId)).map((a) => a.device));
  for (let c = 'b'.charCodeAt(0); c <= 'z'.charCodeAt(0); c++) {
    const device = `/dev/vd${String.fromCharCode(c)}`;
    if (!taken.has(device)) return { device };
  }
  throw new NotFound('No free device name left on this server');
}

export const Reservations: Partial<Record<OperationName, Reservation>> = {
  attach_volume: attaching(Volumes, 'volumeId', nextDevice),
  detach_volume: mustBeAttached(Volumes, 'volumeId'),
  attach_interface: attaching(Ports, 'portId'),
  detach_interface: mustBeAttached(Ports, 'portId'),
};

/** Undo whatever `claim` reserved; a no-op for operations that reserve nothing. */
export async function undoReservation(
  table: Table, instanceId: string, claim: Pick<Claim, 'op' | 'requestId' | 'params'> | null | undefined,
): Promise<void> {
  if (claim) await Reservations[claim.op]?.undo(table, claim, instanceId);
}
