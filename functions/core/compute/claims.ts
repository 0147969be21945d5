import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { allowsTaskState, operationRow, preempts, type OperationName } from './catalogue.js';
import { Conflict, FencedOut, NotFound, type DomainError } from '../shared/errors.js';
import {
  isVisibleTo, type Caller, type Claim, type Fault, type Instance, type InstancePatch, type Outcome,
} from './instance.js';
import { endFirstRunLease, readRun, recordFirstRun, runFence, type Run, type RunRecord } from './runs.js';
import type { TaskState, VmState } from './states.js';
import {
  isConditionFailure, itemFromConditionFailure, keys, leaseShardOf, usedPlaceholders, type Table,
} from '../shared/table.js';

// The claim store: admission, fenced progress and release, each ONE conditional UpdateItem on
// the instance item. Nothing here reads before it writes; a read happens only to explain a
// refusal when the backend does not return the old item with the failure.

const CLAIM_ATTEMPTS = 3;

export interface ClaimRequest {
  readonly instanceId: string;
  readonly op: OperationName;
  readonly caller: Caller;
  readonly requestId: string;
  readonly params?: Record<string, unknown>;
  readonly now: number;
  /** How long the claim may wait for a worker before the sweeper may expire it. */
  readonly leaseMs: number;
  /** Conditions of the operation beyond its catalogue row, each with the refusal it stands for; all must hold. */
  readonly guards?: readonly ClaimGuard[];
  /** Instance fields the claim's own write sets (rebuild's new image and name, as Nova saves them at the API). */
  readonly fields?: Record<string, unknown>;
}

/**
 * The refusal of an operation that is already running (a second delete while deleting): Nova
 * accepts it again (204) but taskgate takes no second claim.
 */
export class AlreadyInProgress extends Conflict {}

export interface ClaimGuard {
  readonly condition: string;
  readonly names: Record<string, string>;
  readonly values: Record<string, unknown>;
  /** Given the item as it is, the error to answer when the guard is what failed. */
  readonly refusal: (instance: Instance) => DomainError | undefined;
  /**
   * Nova decides this before the instance's state (detach: the attachment lookup comes before
   * @check_instance_state), rather than after it (resize: the flavor check is inside the method).
   */
  readonly beforeState?: true;
}

/**
 * "The instance is no longer claimed", in one place: task_state, the claim (and its list copy),
 * its lease (and the sparse index entry) and the claims it took over go, and the fencing token
 * moves on. Whoever clears them ends the taken-over claims first (settle.ts endTakenOver). Release, an
 * admission's give-back and reset-state all use it.
 */
export const CLEARED_CLAIM = {
  remove: ['#ts', '#claim', '#claimList', '#shard', '#lease', '#preempted', '#takenOver'],
  add: '#ver :one',
  names: {
    '#ts': 'taskState', '#claim': 'claim', '#claimList': 'claimAsList', '#shard': 'leaseShard', '#lease': 'leaseUntil',
    '#preempted': 'preempted', '#takenOver': 'takenOver', '#ver': 'version',
  },
  values: { ':one': 1 },
} as const;

/** An update expression from SET parts and extra REMOVE parts, clearing the claim. */
export function clearingClaim(sets: readonly string[], removes: readonly string[] = []): string {
  const set = sets.length > 0 ? `SET ${sets.join(', ')} ` : '';
  return `${set}REMOVE ${[...CLEARED_CLAIM.remove, ...removes].join(', ')} ADD ${CLEARED_CLAIM.add}`;
}

export interface Claimed {
  readonly token: number;
  readonly instance: Instance;
}

/** Nova's 409 text for an operation refused by state (nova/exception.py InstanceInvalidState). */
export function invalidStateMessage(verb: string, instanceId: string, attr: 'task_state' | 'vm_state', value: string) {
  return `Cannot '${verb}' instance ${instanceId} while it is in ${attr} ${value}`;
}

/**
 * Why `op` may not claim `instance` now, or undefined if it may. The order is Nova's: existence
 * and ownership, then the lock (@check_instance_lock wraps @check_instance_state), then
 * vm_state, then task_state (check_instance_state tests them in that order). The same catalogue
 * row builds the claim's condition in claimInstance.
 */
export function refusalFor(
  op: OperationName, instanceId: string, caller: Caller, instance: Instance | undefined,
): DomainError | undefined {
  if (!isVisibleTo(instance, caller)) return new NotFound(`Instance ${instanceId} could not be found.`);
  const row = operationRow(op);
  if (instance.locked && !caller.isAdmin) return new Conflict(`Instance ${instanceId} is locked`);
  if (row.allowedVmStates !== 'any' && !row.allowedVmStates.includes(instance.vmState)) {
    return new Conflict(invalidStateMessage(row.verb, instanceId, 'vm_state', instance.vmState));
  }
  if (!allowsTaskState(row, instance.taskState)) {
    // A second delete of a server being deleted: Nova's delete has no task_state check and
    // answers 204 again; taskgate takes no second claim (the route answers 204 for this).
    if (preempts(row) && instance.taskState === row.taskStates[0]) {
      return new AlreadyInProgress(invalidStateMessage(row.verb, instanceId, 'task_state', instance.taskState));
    }
    return new Conflict(invalidStateMessage(row.verb, instanceId, 'task_state', String(instance.taskState ?? 'None')));
  }
  return undefined;
}

/** The refusal for a failed claim, each guard's in Nova's place among the state checks. */
function claimRefusal(req: ClaimRequest, current: Instance | undefined): DomainError | undefined {
  const guards = req.guards ?? [];
  if (isVisibleTo(current, req.caller)) {
    for (const guard of guards) {
      const early = guard.beforeState && guard.refusal(current);
      if (early) return early;
    }
  }
  const byState = refusalFor(req.op, req.instanceId, req.caller, current);
  if (byState || !current) return byState;
  for (const guard of guards) {
    const late = guard.refusal(current);
    if (late) return late;
  }
  return undefined;
}

/** Admission: ONE conditional write that checks state, lock and project and sets the claim. */
export async function claimInstance(table: Table, req: ClaimRequest): Promise<Claimed> {
  const row = operationRow(req.op);
  const names: Record<string, string> = {
    '#vm': 'vmState', '#ts': 'taskState', '#proj': 'projectId', '#locked': 'locked',
    '#claim': 'claim', '#claimList': 'claimAsList', '#ver': 'version', '#deleted': 'deleted', '#shard': 'leaseShard',
    '#lease': 'leaseUntil', '#updated': 'updated',
  };
  const values: Record<string, unknown> = {
    ':ts': row.taskStates[0], ':one': 1, ':shard': leaseShardOf(req.instanceId),
    ':lease': req.now + req.leaseMs, ':updated': new Date(req.now).toISOString(),
  };
  // Every clause costs the backend a little on the hot path: a member's project check already
  // implies that the item exists, one allowed vm_state is an equality, not a list, and a deleted
  // server (vm_state deleted, set by the same write that marks it) fails any list of vm_states
  // that leaves deleted out.
  const required: string[] = req.caller.isAdmin ? ['attribute_exists(pk)'] : [];
  if (!req.caller.isAdmin) {
    required.push('#proj = :proj', '#locked = :false');
    values[':proj'] = req.caller.projectId;
    values[':false'] = false;
  }
  if (row.allowedVmStates === 'any' || row.allowedVmStates.includes('deleted')) {
    required.push('attribute_not_exists(#deleted)');
  } else {
    const placeholders = row.allowedVmStates.map((state, i) => {
      values[`:vm${i}`] = state;
      return `:vm${i}`;
    });
    required.push(placeholders.length === 1 ? `#vm = ${placeholders[0]}` : `#vm IN (${placeholders.join(', ')})`);
  }
  for (const guard of req.guards ?? []) {
    if (/\bOR\b/.test(guard.condition)) throw new Error(`a claim guard is a conjunction, without OR: ${guard.condition}`);
    required.push(guard.condition);
    Object.assign(names, guard.names);
    Object.assign(values, guard.values);
  }
  const busyStates = row.allowedTaskStates.filter((t) => t !== null);
  const taskStateAlternatives = [
    ...(row.allowedTaskStates.includes(null) ? ['attribute_not_exists(#ts)'] : []),
    ...(busyStates.length > 0
      ? [`#ts IN (${busyStates.map((state, i) => { values[`:ts${i}`] = state; return `:ts${i}`; }).join(', ')})`]
      : []),
  ];
  // Without parentheses, as a disjunction of conjunctions (AND binds tighter than OR): dynalite's
  // expression parser spends about 0.3 ms backtracking over each parenthesised group, more than
  // the rest of the write; DynamoDB evaluates both forms alike.
  const condition = taskStateAlternatives.map((alternative) => [...required, alternative].join(' AND ')).join(' OR ');

  const claim: Claim = {
    requestId: req.requestId, op: req.op, userId: req.caller.userId, projectId: req.caller.projectId,
    params: req.params ?? {}, claimedAt: req.now,
  };
  const sets = [
    '#ts = :ts', '#claim = :claim', '#claimList = :claimList', '#shard = :shard', '#lease = :lease', '#updated = :updated',
  ];
  if (preempts(row)) {
    // Keep the claim being taken over, appended to those it had taken over itself (every operand
    // is read from the item as it was before this write), so that the new owner ends them all
    // and gives back what they reserved. A whole chain of takeovers is kept, not just the last.
    sets.push(
      '#takenOver = list_append(if_not_exists(#takenOver, :noClaims), if_not_exists(#claimList, :noClaims))',
      '#preempted = if_not_exists(#claim, :noClaim)',
    );
    names['#takenOver'] = 'takenOver';
    names['#preempted'] = 'preempted';
    values[':noClaims'] = [];
    values[':noClaim'] = null;
  }
  values[':claim'] = claim;
  values[':claimList'] = [claim];
  for (const [field, value] of Object.entries(req.fields ?? {})) {
    names[`#f_${field}`] = field;
    values[`:f_${field}`] = value;
    sets.push(`#f_${field} = :f_${field}`);
  }

  const expression = `SET ${sets.join(', ')} ADD #ver :one`;
  const input = {
    TableName: table.name,
    Key: keys.instance(req.instanceId),
    ConditionExpression: condition,
    UpdateExpression: expression,
    ...usedPlaceholders([condition, expression], names, values),
    ReturnValues: 'ALL_NEW',
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  } as const;
  for (let attempt = 1; ; attempt++) {
    try {
      const out = await table.db.send(new UpdateCommand({ ...input }));
      const instance = out.Attributes as Instance;
      return { token: instance.version, instance };
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const current = itemFromConditionFailure<Instance>(err) ?? await readInstance(table, req.instanceId);
      // Held by this very request: the retry of a request that died holding its Idempotency-Key,
      // racing what that request still did (request ids are otherwise never reused).
      if (current?.claim?.requestId === req.requestId) return { token: current.version, instance: current };
      const refusal = claimRefusal(req, current);
      if (refusal) throw refusal;
      // The read saw a state that admits us: the blocking claim was released in between.
      if (attempt >= CLAIM_ATTEMPTS) {
        throw new Conflict(`Instance ${req.instanceId} is busy; try again`);
      }
    }
  }
}

export async function readInstance(table: Table, instanceId: string): Promise<Instance | undefined> {
  const out = await table.db.send(new GetCommand({
    TableName: table.name, Key: keys.instance(instanceId), ConsistentRead: true,
  }));
  return out.Item as Instance | undefined;
}

/**
 * A write fenced by the claim's token; undefined when the claim has moved on. The version alone is
 * the fence: every write that takes a claim or clears one (CLEARED_CLAIM) moves it on. `condition`
 * is a conjunction; `anyOf`, alternatives each joined to the fence (unparenthesised, as in
 * claimInstance).
 */
async function fencedUpdate(
  table: Table, instanceId: string, token: number,
  update: {
    expression: string; names: Record<string, string>; values: Record<string, unknown>; condition?: string; anyOf?: readonly string[];
  },
): Promise<Instance | undefined> {
  const fence = ['#ver = :token', update.condition].filter(Boolean).join(' AND ');
  const condition = update.anyOf ? update.anyOf.map((alternative) => `${fence} AND ${alternative}`).join(' OR ') : fence;
  try {
    const out = await table.db.send(new UpdateCommand({
      TableName: table.name,
      Key: keys.instance(instanceId),
      ConditionExpression: condition,
      UpdateExpression: update.expression,
      ...usedPlaceholders([condition, update.expression],
        { '#ver': 'version', '#ts': 'taskState', ...update.names }, { ':token': token, ...update.values }),
      ReturnValues: 'ALL_NEW',
    }));
    return out.Attributes as Instance;
  } catch (err) {
    if (isConditionFailure(err)) return undefined;
    throw err;
  }
}

export type BeginResult =
  | { readonly kind: 'started'; readonly instance: Instance; readonly run: Run }
  | { readonly kind: 'stale'; readonly instance: Instance | undefined }
  | { readonly kind: 'busy' };

const isCurrent = (instance: Instance | undefined, token: number): instance is Instance =>
  instance !== undefined && instance.version === token && instance.taskState !== undefined;

/**
 * A worker takes up a claimed operation: still our token, and no other worker running it with a
 * live run lease (a redelivery while the first delivery still works is told to come back later;
 * one that finds the run lease expired takes over from a worker that died hard).
 *
 * The first delivery writes nothing on the instance: its RUN# item (runs.ts) and a read of the
 * instance, side by side, prove the claim current and the run its own, and on a busy instance
 * neither waits behind the refused admissions queued on the instance's item. It may do so while
 * the claim's lease still covers what a take-up would renew it to, less a tenth of a run lease:
 * the renewal would change next to nothing, so the sweeper's deadline and the redelivery budget
 * it covers are as a take-up's write would leave them. Otherwise (a message that waited), and for
 * every takeover, the take-up is one fenced write that names the runner on the claim and renews
 * the claim's lease to cover the rest of the redelivery budget.
 */
export async function beginWork(
  table: Table, req: { instanceId: string; token: number; runner: string; now: number; runLeaseMs: number; claimLeaseMs: number },
): Promise<BeginResult> {
  const mine: RunRecord = { runner: req.runner, runUntil: req.now + req.runLeaseMs, eventStart: new Date(req.now).toISOString() };
  const [first, instance] = await Promise.all([
    recordFirstRun(table, req.instanceId, req.token, mine, req.claimLeaseMs),
    readInstance(table, req.instanceId),
  ]);
  if (!isCurrent(instance, req.token)) return { kind: 'stale', instance };
  const claim = instance.claim;
  // Taken up within a tenth of a run lease of the claim's admission (or its last renewal), as
  // nearly every message is (9 s with the default leases).
  const leaseCovers = (instance.leaseUntil ?? 0) >= req.now + req.claimLeaseMs - req.runLeaseMs / 10;
  if (first && claim?.runner === undefined && claim?.runUntil === undefined && leaseCovers) {
    return { kind: 'started', instance, run: { runner: req.runner, onInstance: false, eventStart: mine.eventStart } };
  }
  const firstRun = first ? mine : await readRun(table, req.instanceId, req.token);
  // The first run's lease is on its own item and never renewed there (its checkpoints renew the
  // claim's runUntil, which the write below checks): once read as over, it stays over.
  if (firstRun && firstRun.runner !== req.runner && firstRun.runUntil >= req.now) return { kind: 'busy' };
  const taken = await fencedUpdate(table, req.instanceId, req.token, {
    // NOT ... >= is also true when runUntil is missing: no run has checkpointed or taken over.
    condition: 'NOT #claim.#runUntil >= :now',
    // The compute event's start is the first run's (on a redelivery the first start stays).
    expression: 'SET #claim.#runner = :runner, #claim.#runUntil = :runUntil, #lease = :lease, '
      + '#claim.#eventStart = if_not_exists(#claim.#eventStart, :eventStart)',
    names: { '#claim': 'claim', '#runner': 'runner', '#runUntil': 'runUntil', '#lease': 'leaseUntil', '#eventStart': 'eventStart' },
    values: {
      ':runner': req.runner, ':now': req.now, ':runUntil': req.now + req.runLeaseMs, ':lease': req.now + req.claimLeaseMs,
      ':eventStart': firstRun?.eventStart ?? mine.eventStart,
    },
  });
  if (taken) {
    return { kind: 'started', instance: taken, run: { runner: req.runner, onInstance: true, eventStart: taken.claim?.eventStart ?? mine.eventStart } };
  }
  const current = await readInstance(table, req.instanceId);
  return isCurrent(current, req.token) ? { kind: 'busy' } : { kind: 'stale', instance: current };
}

/**
 * A worker that failed in-process gives the run back, so its redelivery need not wait out the
 * run lease. The claim's lease stays: it already covers the redeliveries to come.
 */
export async function yieldWork(table: Table, req: { instanceId: string; token: number; run: Run }): Promise<void> {
  const names: Record<string, string> = { '#runUntil': 'runUntil' };
  const values: Record<string, unknown> = {};
  const condition = runFence(req.run, names, values);
  await Promise.all([
    req.run.onInstance ? undefined : endFirstRunLease(table, req.instanceId, req.token, req.run.runner),
    fencedUpdate(table, req.instanceId, req.token, {
      condition,
      expression: req.run.onInstance ? 'REMOVE #claim.#runner, #claim.#runUntil' : 'REMOVE #claim.#runUntil',
      names, values,
    }),
  ]);
}

/** A fenced checkpoint between driver steps: renews both leases, may enter the next task_state. */
export async function renewClaim(
  table: Table,
  req: {
    instanceId: string; token: number; now: number; runLeaseMs: number; claimLeaseMs: number; taskState?: TaskState; run?: Run;
  },
): Promise<void> {
  const names: Record<string, string> = { '#lease': 'leaseUntil', '#updated': 'updated', '#claim': 'claim', '#runUntil': 'runUntil' };
  const values: Record<string, unknown> = {
    ':lease': req.now + req.claimLeaseMs, ':runUntil': req.now + req.runLeaseMs, ':updated': new Date(req.now).toISOString(),
  };
  let expression = 'SET #lease = :lease, #claim.#runUntil = :runUntil, #updated = :updated';
  if (req.taskState) {
    expression += ', #ts = :next';
    values[':next'] = req.taskState;
  }
  if (req.run && !req.run.onInstance) {
    // The first run's event start, on the claim from its first checkpoint (the live action shows it).
    expression += ', #claim.#eventStart = if_not_exists(#claim.#eventStart, :eventStart)';
    names['#eventStart'] = 'eventStart';
    values[':eventStart'] = req.run.eventStart;
  }
  // A runner whose lease ran out and whose work another delivery took over is fenced out too:
  // else both would run the operation at once, under the same token.
  const condition = req.run ? runFence(req.run, names, values) : undefined;
  const ok = await fencedUpdate(table, req.instanceId, req.token, { expression, names, values, condition });
  if (!ok) throw new FencedOut(req.instanceId, req.token);
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
}

const DELETED_RETENTION_MS = 7 * 24 * 3600 * 1000;

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
  const removes: string[] = [];
  const { clear = [], attach, detach, ...fields } = rel.patch ?? {};
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
    Object.assign(names, { '#amap': attach.map, '#aid': attach.attachment.id });
    values[':attachment'] = attach.attachment;
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
    conditions.push('#lease < :leaseBefore');
    values[':leaseBefore'] = rel.onlyIfLeaseBefore;
  }
  if (rel.run) conditions.push(runFence(rel.run, names, values));
  const condition = conditions.length > 0 ? conditions.join(' AND ') : undefined;
  return fencedUpdate(table, rel.instanceId, rel.token, {
    expression: clearingClaim(sets, removes), names, values, condition,
  });
}

/** Admission's compensation: give the claim back untouched when a later admission step failed. */
export async function abandonClaim(table: Table, instanceId: string, token: number): Promise<boolean> {
  const out = await fencedUpdate(table, instanceId, token, {
    expression: clearingClaim([]), names: { ...CLEARED_CLAIM.names }, values: { ...CLEARED_CLAIM.values },
  });
  return out !== undefined;
}
