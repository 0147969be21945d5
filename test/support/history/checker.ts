import { isOperationName, operationRow, resolveVmOutcome, type OperationName } from '../../../functions/core/compute/catalogue.js';
import type { VmState } from '../../../functions/core/compute/states.js';
import { claimLeaseEnd } from '../../../functions/core/compute/instance.js';
import type { HistoryEvent, RequestEvent, WriteEvent } from './events.js';
import { findOverlaps, type HoldInterval } from './overlap.js';
import { QUOTA_DEFAULTS } from '../../../functions/core/placement/quotas/limits.js';

// The invariants of taskgate's design, checked over a recorded history. Each check is a pure
// function of the history and names the invariant it found broken.

export type Invariant =
  | 'overlap' | 'terminal' | 'lease' | 'fenced' | 'ownership' | 'transition' | 'idempotency' | 'keyEffect' | 'deletion' | 'address'
  | 'capacity' | 'quota' | 'antiAffinity';

export interface Violation {
  readonly invariant: Invariant;
  readonly message: string;
}

export interface CheckOptions {
  /** The sweeper's interval: a claim may outlive its lease by at most one sweep... */
  readonly sweepIntervalMs: number;
  /** ...plus this much for the sweep itself to run (0 in unit tests). */
  readonly sweepSlackMs?: number;
}

/** Requests that queue work on a 2xx answer (lock, unlock and reads do not). */
const QUEUED = (r: RequestEvent) => isOperationName(r.op) && r.status >= 200 && r.status < 300 && !!r.requestId;

const writes = (h: readonly HistoryEvent[]) => h.filter((e): e is WriteEvent => e.kind === 'write');
const isInstanceMeta = (w: WriteEvent) => w.pk.startsWith('INSTANCE#') && w.sk === 'META';
const instanceOf = (w: WriteEvent) => w.pk.slice('INSTANCE#'.length);

/** No two operations' fenced work on one instance overlaps in time. */
export function checkOverlap(history: readonly HistoryEvent[]): Violation[] {
  const spans = new Map<string, { resource: string; holder: string; firstEnd: number; lastStart: number }>();
  for (const w of writes(history)) {
    if (!w.ok || w.actor.role !== 'worker' || !w.actor.requestId || !w.actor.instanceId) continue;
    if (!isInstanceMeta(w) && !w.actor.driver) continue;
    const id = `${w.actor.instanceId} ${w.actor.requestId}`;
    const span = spans.get(id) ?? { resource: w.actor.instanceId, holder: w.actor.requestId, firstEnd: w.end, lastStart: w.start };
    span.firstEnd = Math.min(span.firstEnd, w.end);
    span.lastStart = Math.max(span.lastStart, w.start);
    spans.set(id, span);
  }
  // Only what certainly happened inside the span: after the first write answered, before the last was sent.
  const intervals: HoldInterval[] = [...spans.values()].map((s) => ({
    resource: s.resource, holder: s.holder, start: s.firstEnd, end: s.lastStart,
  }));
  return findOverlaps(intervals).map((o) => ({
    invariant: 'overlap',
    message: `operations ${o.first.holder} and ${o.second.holder} overlap on instance ${o.resource}`,
  }));
}

/** Every accepted request ends in exactly one terminal outcome (its action finished once). */
export function checkTerminal(history: readonly HistoryEvent[]): Violation[] {
  const finishes = new Map<string, number>();
  for (const w of writes(history)) {
    if (!w.ok || !w.sk.startsWith('ACTION#') || !w.after?.finishTime) continue;
    const requestId = w.sk.slice('ACTION#'.length);
    finishes.set(requestId, (finishes.get(requestId) ?? 0) + 1);
  }
  // A delete of a server already being deleted is Nova's 204 too, but queues nothing (no claim,
  // no action): a delete counts as accepted only where its claim landed.
  const claimed = new Set<string>();
  for (const w of writes(history)) if (w.ok && isInstanceMeta(w) && w.after?.claim?.requestId) claimed.add(w.after.claim.requestId);
  const accepted = new Map<string, RequestEvent>();
  for (const e of history) {
    if (e.kind === 'request' && QUEUED(e) && (e.op !== 'delete' || claimed.has(e.requestId!))) accepted.set(e.requestId!, e);
  }
  const found: Violation[] = [];
  for (const [requestId, r] of accepted) {
    const n = finishes.get(requestId) ?? 0;
    if (n !== 1) {
      found.push({
        invariant: 'terminal',
        message: `${r.op} ${requestId} on ${r.instanceId ?? 'a new server'} was accepted (${r.status}) and ended ${n} times`,
      });
    }
  }
  return found;
}

interface Snapshot { readonly w: WriteEvent; readonly item: Record<string, any> }

function snapshotsByInstance(history: readonly HistoryEvent[]): Map<string, Snapshot[]> {
  const by = new Map<string, Snapshot[]>();
  for (const w of writes(history)) {
    if (!w.ok || !isInstanceMeta(w) || !w.after) continue;
    by.set(instanceOf(w), [...(by.get(instanceOf(w)) ?? []), { w, item: w.after }]);
  }
  for (const list of by.values()) list.sort((a, b) => a.item.version - b.item.version || a.w.seq - b.w.seq);
  return by;
}

/** No claim outlives its lease plus one sweep (and none is left at the end past that). */
export function checkLeases(history: readonly HistoryEvent[], options: CheckOptions): Violation[] {
  const allowance = options.sweepIntervalMs + (options.sweepSlackMs ?? 0);
  const final = history.find((e) => e.kind === 'final');
  const found: Violation[] = [];
  // An item removed outright (a create whose message could not be sent) ends its claim there.
  const removed = new Map(writes(history).filter((w) => w.ok && w.command === 'Delete' && isInstanceMeta(w)).map((w) => [instanceOf(w), w.end]));
  for (const [instanceId, snaps] of snapshotsByInstance(history)) {
    for (let i = 0; i < snaps.length; i++) {
      const claim = snaps[i]!.item.claim;
      if (!claim) continue;
      const version = snaps[i]!.item.version;
      if (i > 0 && snaps[i - 1]!.item.version === version) continue; // not where this claim began
      // The lease as admitted, or as last renewed (leaseRenewedUntil), whichever is later.
      let leaseUntil = claimLeaseEnd(snaps[i]!.item)!;
      let j = i + 1;
      for (; j < snaps.length && snaps[j]!.item.version === version; j++) leaseUntil = claimLeaseEnd(snaps[j]!.item) ?? leaseUntil;
      const ended = snaps[j];
      const endedAt = ended ? Date.parse(ended.item.updated) : removed.get(instanceId) ?? final?.at;
      if (endedAt !== undefined && endedAt > leaseUntil + allowance) {
        found.push({
          invariant: 'lease',
          message: `claim of ${claim.op} ${claim.requestId} on ${instanceId} ${ended ? 'was released' : 'was still held'} `
            + `${endedAt - leaseUntil} ms after its lease ran out (allowed: ${allowance} ms)`,
        });
      }
    }
  }
  return found;
}

/**
 * A write a superseded worker may still make: its own action record, its own run item (a late
 * delivery's take-up writes it beside the read that finds the claim gone; functions/core/compute/runs.ts),
 * the undo of its own reservation; and the same for each claim its own claim had taken over,
 * which it ends before its release (settle.ts endTakenOver) and which the claim that superseded
 * it ends too, each write conditioned so that only the first counts.
 */
/** A Migration record's ends that are not a success: what ending it as superseded or failed writes. */
const STOPPED_MIGRATION = ['error', 'failed', 'cancelled'];

function isOwnCleanup(w: WriteEvent, requestId: string, token: number, tookOver: readonly string[]): boolean {
  if (w.sk === `RUN#${token}`) return true;
  return [requestId, ...tookOver].some((owner) => {
    if (w.sk === `ACTION#${owner}`) return true;
    // The image its createImage or createBackup made, discarded (the image service's "Instance
    // disappeared during snapshot"); its upload is fenced by the claim and never lands this late.
    if (w.pk === 'IMAGES' && w.after?.request_id === owner && w.after?.status === 'deleted') return true;
    // The Migration record its resize or move made, stopped (functions/core/compute/migrations.ts
    // failMigration: conditioned on its being open, so it happens once whoever ends it first).
    if (w.pk === 'MIGRATIONS' && w.after?.requestId === owner && STOPPED_MIGRATION.includes(w.after?.status)) return true;
    if (w.values?.[':request'] !== owner) return false;
    // Its reservation given back, or its volume back in-use from the detaching it had begun.
    return w.command === 'Delete' || (w.command === 'Update' && w.values?.[':available'] === 'available')
      || (w.command === 'Update' && w.values?.[':detaching'] === 'detaching' && w.after?.status === 'in-use');
  });
}

/**
 * Placement's ledger is not fenced by the claim (the host item is another item, and a write cannot
 * be conditioned on two): a worker taken over between its take-up and its allocation may still
 * allocate, and then gives it back itself (functions/core/compute/placing.ts
 * placementOfSuperseded). Such a write is its own cleanup if it gives back, or if what it
 * allocated did not outlive the run: at rest no host holds it. The capacity invariant checks,
 * independently, that no host ever went over its capacity and that nothing leaked.
 */
function isCompensatedPlacement(w: WriteEvent, finalHosts: readonly Record<string, any>[]): boolean {
  if (w.pk !== 'HOSTS') return false;
  const made = (w.values?.[':entry'] ?? w.values?.[':to']) as { at?: number } | undefined;
  if (!made) return true;
  return !finalHosts.some((h) => Object.values(h.allocations ?? {}).some((a: any) => a.at === made.at && `HOST#${h.name}` === w.sk));
}

/**
 * A taken-over resize's worker putting the host's entry back to the one before its own resize
 * (placing.ts undoResizeAllocation: conditioned on the entry this request made, marked
 * `resizedBy`): its own cleanup, whatever the server does next (a server that stays keeps the
 * allocation it had before the resize, at rest as before it).
 */
function isUndoneOwnResize(w: WriteEvent, run: readonly WriteEvent[], requestId: string): boolean {
  if (w.pk !== 'HOSTS' || w.values?.[':at'] === undefined || w.values?.[':to'] === undefined) return false;
  return run.some((p) => p.pk === w.pk && p.sk === w.sk && p.start < w.start
    && (p.values?.[':to'] as { resizedBy?: string; at?: number } | undefined)?.resizedBy === requestId
    && (p.values?.[':to'] as { at?: number }).at === w.values?.[':at']);
}

/**
 * A confirm's or a revert's worker stopping the Migration record it had itself taken into
 * confirming or reverting before its claim was taken over (the record is the resize's or the
 * migration's: reservations.ts endingMove, conditioned on its being in one of those, so once).
 */
function isStoppedMoveItEnded(w: WriteEvent, endedBefore: ReadonlySet<string>): boolean {
  return w.pk === 'MIGRATIONS' && endedBefore.has(w.sk) && STOPPED_MIGRATION.includes(w.after?.status);
}

/**
 * The id a move's worker draws from the Migration counter before it records the migration (the
 * record itself is fenced, migrations.ts): drawn by a worker taken over, it is a gap in the ids.
 */
const isDrawnMigrationId = (w: WriteEvent): boolean => w.pk === 'MIGRATIONS' && w.sk === 'COUNTER';

/** Once its claim was taken over, a worker changes nothing but its own cleanup. */
export function checkFencing(history: readonly HistoryEvent[]): Violation[] {
  const all = writes(history);
  const finalHosts = (history.find((e) => e.kind === 'final')?.items ?? []).filter((i) => i.pk === 'HOSTS' && String(i.sk).startsWith('HOST#'));
  const snaps = snapshotsByInstance(history);
  const found: Violation[] = [];
  const runs = new Map<string, WriteEvent[]>();
  for (const w of all) {
    if (!w.ok || w.actor.role !== 'worker' || !w.actor.requestId || w.actor.token === undefined) continue;
    const id = `${w.actor.instanceId} ${w.actor.requestId} ${w.actor.token}`;
    runs.set(id, [...(runs.get(id) ?? []), w]);
  }
  for (const run of runs.values()) {
    const { instanceId, requestId, token } = run[0]!.actor;
    // The first write to move the version past the token ends the claim: a takeover (or a reset)
    // by another, or the request's own release by one of its runs. After its own release the
    // request still settles what it reserved and records its action (settle.ts; a redelivery that
    // finds the release done does it again, abandonSuperseded), whatever is claimed next; but no
    // driver of it may still be at work.
    const superseding = (snaps.get(instanceId!) ?? []).find((s) => s.item.version > token!);
    if (!superseding) continue;
    const released = superseding.w.actor.role === 'worker' && superseding.w.actor.requestId === requestId;
    const own = (snaps.get(instanceId!) ?? []).find((s) => s.item.version === token);
    const tookOver = ((own?.item.takenOver ?? []) as { requestId: string }[]).map((c) => c.requestId);
    const endedBefore = new Set(run.filter((w) => w.pk === 'MIGRATIONS' && w.start <= superseding.w.end
      && ['confirming', 'reverting'].includes(w.after?.status)).map((w) => w.sk));
    for (const w of run) {
      if (released && !w.actor.driver) continue;
      if (w.start > superseding.w.end && !isOwnCleanup(w, requestId!, token!, tookOver) && !isCompensatedPlacement(w, finalHosts)
        && !isStoppedMoveItEnded(w, endedBefore) && !isDrawnMigrationId(w) && !isUndoneOwnResize(w, run, requestId!)) {
        found.push({
          invariant: 'fenced',
          message: `worker of ${requestId} (token ${token}) wrote ${w.command} ${w.pk}/${w.sk} after its claim `
            + `was taken over (version ${superseding.item.version} by ${superseding.w.actor.role})`,
        });
      }
    }
  }
  return found;
}

/** The volumes and ports an instance item holds: its `volumes` and `ports` maps, keyed by id. */
function holdingsOf(item: Record<string, any>): string[] {
  return [
    ...Object.keys(item.volumes ?? {}).map((id) => `volume ${id}`),
    ...Object.keys(item.ports ?? {}).map((id) => `port ${id}`),
  ];
}

/** A volume or port is attached to at most one instance at a time, and ends held consistently. */
export function checkOwnership(history: readonly HistoryEvent[]): Violation[] {
  const found: Violation[] = [];
  // Replayed in the order the writes answered: which instance items hold which resources.
  const heldBy = new Map<string, Set<string>>();
  const holding = new Map<string, string[]>();
  for (const w of [...writes(history)].sort((a, b) => a.seq - b.seq)) {
    if (!w.ok || !isInstanceMeta(w)) continue;
    const instanceId = instanceOf(w);
    const now = w.command === 'Delete' || !w.after ? [] : holdingsOf(w.after);
    for (const r of holding.get(instanceId) ?? []) heldBy.get(r)?.delete(instanceId);
    for (const r of now) {
      const set = heldBy.get(r) ?? new Set<string>();
      set.add(instanceId);
      heldBy.set(r, set);
      if (set.size > 1) found.push({ invariant: 'ownership', message: `${r} attached to ${[...set].join(' and ')} at once` });
    }
    holding.set(instanceId, now);
  }
  const final = history.find((e) => e.kind === 'final');
  if (!final) return found;
  const items = final.items;
  const instances = new Map(items.filter((i) => i.sk === 'META' && String(i.pk).startsWith('INSTANCE#')).map((i) => [i.id, i]));
  const resources = new Map(items.filter((i) => /^(VOLUME|PORT)#/.test(i.pk)).map((i) => [i.pk, i]));
  for (const instance of instances.values()) {
    for (const [kind, map] of [['VOLUME', instance.volumes], ['PORT', instance.ports]] as const) {
      for (const id of Object.keys(map ?? {})) {
        const owner = resources.get(`${kind}#${id}`);
        if (instance.deleted) {
          found.push({ invariant: 'ownership', message: `${kind.toLowerCase()} ${id} still attached to deleted instance ${instance.id}` });
        } else if (owner?.instanceId !== instance.id || !(owner?.status === 'in-use' || owner?.status === 'detaching')) {
          found.push({
            invariant: 'ownership',
            message: `${kind.toLowerCase()} ${id} attached to ${instance.id} but held by ${owner?.instanceId ?? 'nobody'} (${owner?.status ?? 'no item'})`,
          });
        }
      }
    }
  }
  for (const r of resources.values()) {
    if (r.status === 'available') continue;
    const instance = instances.get(r.instanceId);
    const attached = !!(r.pk.startsWith('VOLUME') ? instance?.volumes : instance?.ports)?.[r.id];
    // A volume's reservation is Cinder's `reserved`, `attaching` once its worker took it up.
    if ((r.status === 'attaching' || r.status === 'reserved') && instance?.claim?.requestId !== r.requestId) {
      found.push({ invariant: 'ownership', message: `${r.pk} left attaching by ${r.requestId}, which no longer runs (leaked reservation)` });
    } else if ((r.status === 'in-use' || r.status === 'detaching') && (!attached || !instance || instance.deleted)) {
      found.push({ invariant: 'ownership', message: `${r.pk} in-use by ${r.instanceId} without an attachment there` });
    }
  }
  return found;
}

/** Every change of an instance's states is one the catalogue allows. */
export function checkTransitions(history: readonly HistoryEvent[]): Violation[] {
  const found: Violation[] = [];
  const bad = (instanceId: string, message: string) => found.push({ invariant: 'transition', message: `${instanceId}: ${message}` });
  for (const [instanceId, snaps] of snapshotsByInstance(history)) {
    const first = snaps[0]!.item;
    if (snaps[0]!.w.command === 'Put' && snaps[0]!.w.actor.role !== 'harness'
      && !(first.vmState === 'building' && first.taskState === 'scheduling' && first.claim?.op === 'create')) {
      bad(instanceId, `created as ${first.vmState}/${first.taskState}`);
    }
    // The vm_state a resize or cold migration was admitted in: what its confirm or revert goes
    // back to (the item keeps it only as the previous version wrote it; now on the migration record).
    let preResize: VmState | undefined;
    for (let i = 1; i < snaps.length; i++) {
      const p = snaps[i - 1]!.item;
      const n = snaps[i]!.item;
      const moved = `${p.vmState}/${p.taskState ?? '-'} -> ${n.vmState}/${n.taskState ?? '-'} (v${p.version} -> v${n.version})`;
      if (p.deleted) {
        if (n.version !== p.version || n.vmState !== p.vmState || n.taskState !== p.taskState) bad(instanceId, `changed after deletion: ${moved}`);
        continue;
      }
      if (n.version === p.version) {
        if (n.vmState !== p.vmState || n.claim?.requestId !== p.claim?.requestId) bad(instanceId, `changed without a new token: ${moved}`);
        else if (n.taskState !== p.taskState) {
          const states = n.claim ? operationRow(n.claim.op as OperationName).taskStates as readonly string[] : [];
          if (states.indexOf(n.taskState) < states.indexOf(p.taskState)) bad(instanceId, `task_state went back: ${moved}`);
        }
        continue;
      }
      if (n.version !== p.version + 1) continue; // a snapshot in between was not seen
      if (n.claim && n.claim.requestId !== p.claim?.requestId) {
        const row = operationRow(n.claim.op as OperationName);
        if (n.vmState !== p.vmState) bad(instanceId, `vm_state changed by a claim: ${moved}`);
        if (n.taskState !== row.taskStates[0]) bad(instanceId, `${n.claim.op} claimed with task_state ${n.taskState}: ${moved}`);
        if (!row.allowedTaskStates.includes(p.taskState ?? null)) {
          bad(instanceId, p.claim ? `${n.claim.op} took over ${p.claim.op}: ${moved}` : `${n.claim.op} admitted while idle: ${moved}`);
        } else if (!p.claim && row.allowedVmStates !== 'any' && !row.allowedVmStates.includes(p.vmState)) {
          bad(instanceId, `${n.claim.op} admitted in vm_state ${p.vmState}: ${moved}`);
        }
      } else if (!n.claim && p.claim) {
        const row = operationRow(p.claim.op as OperationName);
        const admitted = p.vmState as VmState;
        const before = p.preResizeVmState ?? preResize;
        if ((p.claim.op === 'resize' || p.claim.op === 'migrate') && n.vmState === 'resized') preResize = admitted;
        const allowed = new Set<string>([
          resolveVmOutcome(row.onSuccess, admitted, before),
          resolveVmOutcome(row.onFailure, admitted, before),
          admitted, // given back untouched (admission's compensation)
        ]);
        if (p.claim.op === 'delete') allowed.add('deleted');
        if (!allowed.has(n.vmState)) bad(instanceId, `${p.claim.op} ended in vm_state ${n.vmState}: ${moved}`);
      } else {
        bad(instanceId, `token moved on without a claim changing hands: ${moved}`);
      }
    }
  }
  return found;
}

const TRANSIENT = (status: number) => status === 409 || status === 429 || status >= 500;

/** A retry with the same key and body gets the first answer (or 409 while it still runs). */
export function checkIdempotency(history: readonly HistoryEvent[]): Violation[] {
  const groups = new Map<string, RequestEvent[]>();
  for (const e of history) {
    if (e.kind !== 'request' || !e.idempotencyKey) continue;
    const id = `${e.client} ${e.idempotencyKey}`;
    groups.set(id, [...(groups.get(id) ?? []), e]);
  }
  const found: Violation[] = [];
  for (const [id, list] of groups) {
    const kept = list.filter((r) => !TRANSIENT(r.status)).sort((a, b) => a.start - b.start);
    const first = kept[0];
    for (const r of kept.slice(1)) {
      if (r.status !== first!.status || r.requestId !== first!.requestId || JSON.stringify(r.answer) !== JSON.stringify(first!.answer)) {
        found.push({
          invariant: 'idempotency',
          message: `key ${id}: answered ${r.status} ${r.requestId}, first answered ${first!.status} ${first!.requestId}`,
        });
      }
    }
  }
  return found;
}

/**
 * One key, one effect: whatever crashed when, the requests under one Idempotency-Key admit their
 * work once. The key's record names the request it runs as (`requestId`; `owner` in records of
 * the previous version, and the holder after a takeover), so every request id a key's record ever
 * named is the key's; an effect is a claim landing on an instance under one of them (a create's
 * item, or an operation's claim), counted once per landing, not per write that keeps it, unless
 * its own request undid it before answering.
 */
export function checkKeyEffects(history: readonly HistoryEvent[]): Violation[] {
  const keyOf = new Map<string, string>();
  for (const w of writes(history)) {
    if (!w.ok || !w.pk.startsWith('IDEMPOTENCY#') || !w.after) continue;
    for (const id of [w.after.requestId, w.after.owner]) if (typeof id === 'string') keyOf.set(id, w.pk);
  }
  // Undone by its own request, which then answered 503 and gave its key back: a create's item
  // deleted again, or a claim given back, its action ended as never queued. Not an effect.
  const removed = new Set(writes(history).filter((w) => w.ok && w.command === 'Delete' && isInstanceMeta(w)).map(instanceOf));
  const final = history.find((e) => e.kind === 'final');
  const neverQueued = new Set((final?.items ?? [])
    .filter((i) => String(i.sk).startsWith('ACTION#') && i.traceback === 'The operation could not be queued').map((i) => i.requestId));
  const effects = new Map<string, string[]>();
  for (const [instanceId, snaps] of snapshotsByInstance(history)) {
    snaps.forEach(({ item }, i) => {
      const requestId = item.claim?.requestId as string | undefined;
      const key = requestId === undefined ? undefined : keyOf.get(requestId);
      if (!key || snaps[i - 1]?.item.claim?.requestId === requestId) return;
      if (neverQueued.has(requestId) || (item.claim.op === 'create' && removed.has(instanceId))) return;
      effects.set(key, [...(effects.get(key) ?? []), `${item.claim.op} ${requestId} on ${instanceId} (v${item.version})`]);
    });
  }
  return [...effects].filter(([, list]) => list.length > 1).map(([key, list]) => ({
    invariant: 'keyEffect' as const, message: `key ${key.slice(12, 24)}... took effect ${list.length} times: ${list.join('; ')}`,
  }));
}

/**
 * An answered delete is carried out: every delete whose claim landed ends with its server
 * deleted, or with its own action failed (the driver's fault, its lease run out, its message
 * dead-lettered: a delete that failed, as Nova's can, the server in ERROR). Never with the delete
 * superseded by another operation while the server stays.
 */
export function checkDeletions(history: readonly HistoryEvent[]): Violation[] {
  const final = history.find((e) => e.kind === 'final');
  if (!final) return [];
  const claimed = new Set<string>();
  for (const w of writes(history)) {
    if (w.ok && isInstanceMeta(w) && w.after?.claim?.op === 'delete') claimed.add(w.after.claim.requestId);
  }
  const items = new Map(final.items.map((i) => [`${i.pk} ${i.sk}`, i]));
  const found: Violation[] = [];
  for (const r of history) {
    if (r.kind !== 'request' || r.op !== 'delete' || r.status !== 204 || !r.requestId || !claimed.has(r.requestId)) continue;
    const instanceId = r.instanceId!;
    const instance = items.get(`INSTANCE#${instanceId} META`);
    if (!instance || instance.deleted) continue;
    const action = items.get(`INSTANCE#${instanceId} ACTION#${r.requestId}`);
    const failed = action?.result === 'Error' && !/^Superseded/.test(String(action.traceback ?? ''));
    if (!failed) {
      found.push({
        invariant: 'deletion',
        message: `delete ${r.requestId} of ${instanceId} was answered ${r.status}, but the server ends ${instance.vmState} `
          + `(its action: ${action ? `${action.result ?? 'unfinished'} ${action.traceback ?? ''}`.trim() : 'none'})`,
      });
    }
  }
  return found;
}

/**
 * At rest, a fixed IP is held by exactly the port that lists it: no address item without its
 * port (a leak), none a port lists without its item, no address listed by two ports; and every
 * membership of a network names a port on it (functions/core/networks/).
 */
export function checkAddresses(history: readonly HistoryEvent[]): Violation[] {
  const final = history.find((e) => e.kind === 'final');
  if (!final) return [];
  const found: Violation[] = [];
  const bad = (message: string) => found.push({ invariant: 'address', message });
  const ports = new Map(final.items.filter((i) => String(i.pk).startsWith('PORT#') && i.sk === 'META').map((i) => [i.id as string, i]));
  const held = new Map<string, string>();
  for (const item of final.items.filter((i) => String(i.pk).startsWith('SUBNET#') && String(i.sk).startsWith('IP#'))) {
    const where = `${String(item.pk).slice(7)} ${String(item.sk).slice(3)}`;
    held.set(where, item.portId);
    const port = ports.get(item.portId);
    if (!port?.fixedIps?.some((f: { subnetId: string; ipAddress: string }) => `${f.subnetId} ${f.ipAddress}` === where)) {
      bad(`address ${where} held for port ${item.portId}, which ${port ? 'does not list it' : 'does not exist'} (leaked)`);
    }
  }
  const listedBy = new Map<string, string>();
  for (const port of ports.values()) {
    for (const f of (port.fixedIps ?? []) as { subnetId: string; ipAddress: string }[]) {
      const where = `${f.subnetId} ${f.ipAddress}`;
      if (listedBy.has(where)) bad(`address ${where} listed by ports ${listedBy.get(where)} and ${port.id}`);
      listedBy.set(where, port.id);
      if (held.get(where) !== port.id) bad(`port ${port.id} lists ${where}, which its address item does not give it`);
    }
  }
  for (const m of final.items.filter((i) => String(i.pk).startsWith('NETWORK#') && String(i.sk).startsWith('PORT#'))) {
    if (ports.get(m.portId)?.networkId !== m.networkId) bad(`membership of port ${m.portId} on network ${m.networkId} without its port`);
  }
  return found;
}

/**
 * No host is ever over its capacity (every write that left a host item, checked on what it
 * left), and at rest each host's used figures are the sum of its allocations, none of them held
 * for a server that is gone (functions/core/placement/allocations.ts).
 */
export function checkCapacity(history: readonly HistoryEvent[]): Violation[] {
  const found: Violation[] = [];
  const bad = (message: string) => found.push({ invariant: 'capacity', message });
  const isHost = (pk: string, sk: string) => pk === 'HOSTS' && sk.startsWith('HOST#');
  for (const w of [...writes(history)].sort((a, b) => a.seq - b.seq)) {
    if (!w.ok || !w.after || !isHost(w.pk, w.sk)) continue;
    const h = w.after;
    if (h.usedVcpus > h.vcpus || h.usedRam > h.ram || h.usedDisk > h.disk) {
      bad(`host ${h.name} over capacity after write ${w.seq}: ${h.usedVcpus}/${h.vcpus} vCPUs, ${h.usedRam}/${h.ram} MiB, ${h.usedDisk}/${h.disk} GiB`);
    }
  }
  const final = history.find((e) => e.kind === 'final');
  if (!final) return found;
  const live = new Set(final.items.filter((i) => String(i.pk).startsWith('INSTANCE#') && i.sk === 'META' && !i.deleted).map((i) => i.id as string));
  for (const h of final.items.filter((i) => isHost(String(i.pk), String(i.sk)))) {
    const allocations = Object.entries((h.allocations ?? {}) as Record<string, { vcpus: number; ram: number; disk: number }>);
    const sum = (f: (a: { vcpus: number; ram: number; disk: number }) => number) => allocations.reduce((n, [, a]) => n + f(a), 0);
    if (h.usedVcpus !== sum((a) => a.vcpus) || h.usedRam !== sum((a) => a.ram) || h.usedDisk !== sum((a) => a.disk)) {
      bad(`host ${h.name} uses ${h.usedVcpus} vCPUs, ${h.usedRam} MiB, ${h.usedDisk} GiB, not the sum of its allocations`);
    }
    for (const [serverId] of allocations) if (!live.has(serverId)) bad(`host ${h.name} still allocated to server ${serverId}, which is gone (leaked)`);
  }
  return found;
}

/**
 * No project's compute usage ever passes its limit: every write that left a usage item, against
 * the limits at rest (the project's own, else the default class's, else Nova's defaults); and at
 * rest its counters are the sum of its charges.
 */
export function checkQuotas(history: readonly HistoryEvent[]): Violation[] {
  const final = history.find((e) => e.kind === 'final');
  const items = final?.items ?? [];
  const set = (pk: string) => items.find((i) => i.pk === pk && i.sk === 'LIMITS') ?? {};
  const limitOf = (projectId: string, r: 'instances' | 'cores' | 'ram'): number => {
    const own = set(`QUOTA#${projectId}`)[r];
    const byClass = set('QUOTACLASS#default')[r];
    return typeof own === 'number' ? own : typeof byClass === 'number' ? byClass : QUOTA_DEFAULTS[r];
  };
  const found: Violation[] = [];
  for (const w of writes(history)) {
    if (!w.ok || !w.after || !w.pk.startsWith('SERVERUSAGE#') || w.sk !== 'META') continue;
    const projectId = w.pk.slice('SERVERUSAGE#'.length);
    for (const r of ['instances', 'cores', 'ram'] as const) {
      const limit = limitOf(projectId, r);
      if (limit >= 0 && Number(w.after[r] ?? 0) > limit) {
        found.push({ invariant: 'quota', message: `project ${projectId} uses ${w.after[r]} ${r} after write ${w.seq}, over its limit of ${limit}` });
      }
    }
  }
  // At rest, each project's counters are the sum of its charges (their items, and the previous
  // version's map): a charge and its counters are written together, or neither is. A project
  // spread over usage slices (quotas/slices.ts) has its charges under several partitions
  // (`SERVERCHARGES<n>#<project>`), and its counters count the room its slices hold too
  // (`SERVERUSAGE<s>#<project>`).
  const ofProject = (prefix: string, pk: unknown, projectId: string) => {
    const m = new RegExp(`^${prefix}(\\d*)#`).exec(String(pk));
    return m !== null && String(pk).slice(m[0].length) === projectId;
  };
  for (const usage of items.filter((i) => String(i.pk).startsWith('SERVERUSAGE#') && i.sk === 'META')) {
    const projectId = String(usage.pk).slice('SERVERUSAGE#'.length);
    const charges = [
      ...items.filter((i) => ofProject('SERVERCHARGES', i.pk, projectId) && String(i.sk).startsWith('CHARGE#')),
      ...Object.values((usage.counted ?? {}) as Record<string, { cores: number; ram: number }>),
    ];
    const slices = items.filter((i) => ofProject('SERVERUSAGE', i.pk, projectId) && i.pk !== usage.pk && i.sk === 'META');
    const held = (name: string) => slices.reduce((n, s) => n + Number(s[name] ?? 0), 0);
    const sums = {
      instances: charges.length + held('roomInstances'),
      cores: charges.reduce((n, c) => n + Number(c.cores), 0) + held('roomCores'),
      ram: charges.reduce((n, c) => n + Number(c.ram), 0) + held('roomRam'),
    };
    for (const r of ['instances', 'cores', 'ram'] as const) {
      if (Number(usage[r] ?? 0) !== sums[r]) {
        const what = slices.length > 0 ? 'its charges and its slices\' room' : 'its charges';
        found.push({ invariant: 'quota', message: `project ${projectId} counts ${usage[r] ?? 0} ${r} at rest, ${what} ${sums[r]}` });
      }
    }
  }
  return found;
}

/**
 * Members of an anti-affinity server group never share a host: the instance items replayed in
 * the order their writes answered, each live member where its item says it is placed, at most
 * the group's max_server_per_host (1 by default) on one host at any moment.
 */
export function checkAntiAffinity(history: readonly HistoryEvent[]): Violation[] {
  const groups = new Map<string, { policy?: string; rules?: { max_server_per_host?: number } }>();
  const groupItem = (pk: string, sk: string) => pk === 'SERVERGROUPS' && sk.startsWith('GROUP#');
  for (const w of writes(history)) if (w.ok && w.after && groupItem(w.pk, w.sk)) groups.set(w.after.id, w.after);
  for (const i of history.find((e) => e.kind === 'final')?.items ?? []) if (groupItem(String(i.pk), String(i.sk))) groups.set(i.id, i);
  const limit = (groupId: string) => {
    const g = groups.get(groupId);
    return g?.policy === 'anti-affinity' ? g.rules?.max_server_per_host ?? 1 : undefined;
  };
  const placed = new Map<string, { group: string; host: string }>();
  const found: Violation[] = [];
  for (const w of [...writes(history)].sort((a, b) => a.seq - b.seq)) {
    if (!w.ok || !isInstanceMeta(w)) continue;
    const instanceId = instanceOf(w);
    const item = w.command === 'Delete' ? undefined : w.after;
    if (!item || item.deleted || !item.host || !item.serverGroupId) {
      placed.delete(instanceId);
      continue;
    }
    placed.set(instanceId, { group: item.serverGroupId, host: item.host });
    const max = limit(item.serverGroupId);
    if (max === undefined) continue;
    const together = [...placed].filter(([, p]) => p.group === item.serverGroupId && p.host === item.host).map(([id]) => id);
    if (together.length > max) {
      found.push({
        invariant: 'antiAffinity',
        message: `anti-affinity group ${item.serverGroupId} has ${together.length} members on host ${item.host} after write ${w.seq}: ${together.join(', ')}`,
      });
    }
  }
  return found;
}

export function checkHistory(history: readonly HistoryEvent[], options: CheckOptions): Violation[] {
  return [
    ...checkCapacity(history), ...checkQuotas(history), ...checkAntiAffinity(history),
    ...checkOverlap(history), ...checkTerminal(history), ...checkLeases(history, options), ...checkFencing(history),
    ...checkOwnership(history), ...checkTransitions(history), ...checkIdempotency(history), ...checkKeyEffects(history),
    ...checkDeletions(history), ...checkAddresses(history),
  ];
}
