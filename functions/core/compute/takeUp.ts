import { claimLeaseEnd, type Instance } from './instance.js';
import { fencedUpdate } from './fencedUpdate.js';
import { readInstance } from './readInstance.js';
import { endFirstRunLease, readRun, recordFirstRun, runFence, type Run, type RunRecord } from './runs.js';
import type { TaskState } from './states.js';
import { FencedOut } from '../shared/errors.js';
import type { Table } from '../shared/table.js';

// The worker's side of a claim: taking it up, checkpointing under it, giving the run back.

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
  const leaseCovers = (claimLeaseEnd(instance) ?? 0) >= req.now + req.claimLeaseMs - req.runLeaseMs / 10;
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
    names: { '#claim': 'claim', '#runner': 'runner', '#runUntil': 'runUntil', '#lease': 'leaseRenewedUntil', '#eventStart': 'eventStart' },
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
  // The renewal, not the admitted lease: the lease index's key stays where admission put it.
  const names: Record<string, string> = { '#lease': 'leaseRenewedUntil', '#updated': 'updated', '#claim': 'claim', '#runUntil': 'runUntil' };
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
