import type { Fault, Instance, InstancePatch, Outcome } from './instance.js';
import { entryOf, putAttachmentItem, removeAttachmentItem } from './attachmentItems.js';
import { fencedUpdate } from './fencedUpdate.js';
import { runFence, type Run } from './runs.js';
import type { VmState } from './states.js';
import type { Table } from '../shared/table.js';

// The end of a claim: the worker's or the sweeper's release, and admission's give-back.

/**
 * "The instance is no longer claimed", in one place: task_state, the claim, its lease (and the
 * sparse index entry) and the previous versions' records of it (the list copy, the claims taken
 * over) go, and the fencing token moves on; the claims taken over, each under a name of its own,
 * go by name (takenOverRemoval). Whoever clears them ends the taken-over claims first (settle.ts
 * endTakenOver). Release, an admission's give-back and reset-state all use it.
 */
export const CLEARED_CLAIM = {
  remove: ['#ts', '#claim', '#claimList', '#shard', '#lease', '#renewed', '#preempted', '#takenOver'],
  add: '#ver :one',
  names: {
    '#ts': 'taskState', '#claim': 'claim', '#claimList': 'claimAsList', '#shard': 'leaseShard', '#lease': 'leaseUntil', '#renewed': 'leaseRenewedUntil',
    '#preempted': 'preempted', '#takenOver': 'takenOver', '#ver': 'version',
  },
  values: { ':one': 1 },
} as const;

/**
 * REMOVE parts (and their names) for the claims `names` taken over: the attributes the item
 * taken up at this token holds (instance.ts takenOverAttributes). Under the same token no other
 * write adds one (only an admission does, and it moves the token on).
 */
export function takenOverRemoval(takenOver: readonly string[] = []): { removes: string[]; names: Record<string, string> } {
  const names = Object.fromEntries(takenOver.map((name, i) => [`#to${i}`, name]));
  return { removes: Object.keys(names), names };
}

/** An update expression from SET parts and extra REMOVE parts, clearing the claim. */
export function clearingClaim(sets: readonly string[], removes: readonly string[] = []): string {
  const set = sets.length > 0 ? `SET ${sets.join(', ')} ` : '';
  return `${set}REMOVE ${[...CLEARED_CLAIM.remove, ...removes].join(', ')} ADD ${CLEARED_CLAIM.add}`;
}

export interface Release {
  readonly instanceId: string;
  readonly token: number;
  readonly vmState: VmState;
  readonly patch?: InstancePatch;
  readonly fault?: Fault;
  readonly outcome: Outcome;
  readonly now: number;
  /** Only the sweeper: release only if the lease really has expired. */
  readonly onlyIfLeaseBefore?: number;
  /** Only the worker: release only if its run was not taken over by another delivery. */
  readonly run?: Run;
  /** The attributes of the claims this claim took over, from the item taken up (takenOverRemoval). */
  readonly takenOver?: readonly string[];
}

const DELETED_RETENTION_MS = 7 * 24 * 3600 * 1000;

/** Nova's default availability zone: what a server without one shows (api/views.ts, api/listQuery.ts). */
const DEFAULT_ZONE = 'nova';

/**
 * Release: ONE write that sets the outcome, clears task_state and the claim and moves the token
 * on, conditioned on the token still being ours. Returns false if we were fenced out.
 */
export async function releaseClaim(table: Table, rel: Release): Promise<Instance | undefined> {
  const names: Record<string, string> = {
    ...CLEARED_CLAIM.names, '#vm': 'vmState', '#updated': 'updated', '#outcome': 'lastOutcome',
  };
  const values: Record<string, unknown> = {
    ...CLEARED_CLAIM.values, ':vm': rel.vmState, ':updated': new Date(rel.now).toISOString(), ':outcome': rel.outcome,
  };
  const sets = ['#vm = :vm', '#updated = :updated', '#outcome = :outcome'];
  const taken = takenOverRemoval(rel.takenOver);
  Object.assign(names, taken.names);
  const removes: string[] = [...taken.removes];
  // A move's ending is settled after the release from what its worker holds, or by a redelivery
  // from its migration record (placing.ts): never on the item, billed per KB on every write. The
  // previous version's is taken off, settled first (settle.ts).
  const { clear = [], attach, detach, moveEnding: _settledAfter, ...patched } = rel.patch ?? {};
  const fields: Record<string, unknown> = { ...patched };
  names['#moveEnding'] = 'moveEnding';
  removes.push('#moveEnding');
  // Not stored where every reader takes their absence for them: a node that is its host (the
  // simulated hosts are their own node), the default availability zone, null.
  for (const [field, absent] of Object.entries(fields)) {
    const readAsAbsent = absent === null || (field === 'node' && absent === fields.host) || (field === 'availabilityZone' && absent === DEFAULT_ZONE);
    if (!readAsAbsent) continue;
    delete fields[field];
    names[`#f_${field}`] = field;
    removes.push(`#f_${field}`);
  }
  for (const [field, value] of Object.entries(fields)) {
    names[`#f_${field}`] = field;
    values[`:f_${field}`] = value;
    sets.push(`#f_${field} = :f_${field}`);
  }
  for (const field of clear) {
    names[`#f_${field}`] = field;
    removes.push(`#f_${field}`);
  }
  if (attach) {
    // Its details first, on an item of their own (shown only once the entry below is set).
    if (!await putAttachmentItem(table, attach.map, attach.attachment, rel.token)) return undefined;
    Object.assign(names, { '#amap': attach.map, '#aid': attach.attachment.id });
    values[':attachment'] = entryOf(attach.map, attach.attachment);
    sets.push('#amap.#aid = :attachment');
  }
  if (detach) {
    Object.assign(names, { '#dmap': detach.map, '#did': detach.id });
    removes.push('#dmap.#did');
  }
  if (rel.fault) {
    names['#fault'] = 'fault';
    values[':fault'] = rel.fault;
    sets.push('#fault = :fault');
  }
  if (rel.vmState === 'deleted') {
    // Gone from the project's listing; the item itself expires by TTL.
    Object.assign(names, {
      '#deleted': 'deleted', '#expires': 'expiresAt', '#g1pk': 'gsi1pk', '#g1sk': 'gsi1sk', '#g2pk': 'gsi2pk', '#g2sk': 'gsi2sk',
    });
    Object.assign(values, { ':true': true, ':expires': Math.floor((rel.now + DELETED_RETENTION_MS) / 1000) });
    sets.push('#deleted = :true', '#expires = :expires');
    removes.push('#g1pk', '#g1sk', '#g2pk', '#g2sk');
  }
  const conditions: string[] = [];
  if (rel.onlyIfLeaseBefore !== undefined) {
    // NOT ... >= holds when the claim was never renewed too.
    conditions.push('#lease < :leaseBefore', 'NOT #renewed >= :leaseBefore');
    values[':leaseBefore'] = rel.onlyIfLeaseBefore;
  }
  if (rel.run) conditions.push(runFence(rel.run, names, values));
  const condition = conditions.length > 0 ? conditions.join(' AND ') : undefined;
  const released = await fencedUpdate(table, rel.instanceId, rel.token, {
    expression: clearingClaim(sets, removes), names, values, condition,
  });
  // The details of what it detached, once no entry names them (a crash before this leaves them unread).
  if (released && detach) await removeAttachmentItem(table, rel.instanceId, detach.map, detach.id, rel.token);
  return released;
}

/**
 * Admission's compensation: give the claim back untouched when a later admission step failed
 * (`takenOver`: the attributes of the claims it took over, from the item its claim returned).
 */
export async function abandonClaim(table: Table, instanceId: string, token: number, takenOver?: readonly string[]): Promise<boolean> {
  const taken = takenOverRemoval(takenOver);
  const out = await fencedUpdate(table, instanceId, token, {
    expression: clearingClaim([], taken.removes), names: { ...CLEARED_CLAIM.names, ...taken.names }, values: { ...CLEARED_CLAIM.values },
  });
  return out !== undefined;
}
