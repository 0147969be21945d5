import { randomUUID } from 'node:crypto';
import { operationRow } from './catalogue.js';
import { beginWork, renewClaim, yieldWork } from './takeUp.js';
import { readInstance } from './readInstance.js';
import { NotYet, type ComputeDriver, type OperationContext } from './driver.js';
import { DriverError, FencedOut } from '../shared/errors.js';
import { takenOverClaims } from './instance.js';
import type { OperationMessage } from './queue.js';
import { liveMigrationSteps } from './migrations.js';
import { placementOfSuperseded, Placings } from './placing.js';
import { Reservations } from './reservations.js';
import { abandonSuperseded, settleOperation, type Result } from './settle.js';
import type { TaskState } from './states.js';
import type { Table } from '../shared/table.js';

export interface WorkerDeps {
  readonly table: Table;
  readonly driver: ComputeDriver;
  /** How long a running operation may go without a checkpoint before another delivery may take it over. */
  readonly runLeaseMs: number;
  /** How long the claim may go without progress before the sweeper ends it (the redelivery budget). */
  readonly claimLeaseMs: number;
  readonly now?: () => number;
}

/**
 * Keeps the message being worked on invisible to other consumers; called at each checkpoint. Given
 * by the queue's consumer wherever a run may outlast the visibility timeout (the local runtime,
 * which has no function timeout); on Lambda the timeout is shorter than the visibility timeout.
 */
export type Heartbeat = () => Promise<void>;

/**
 * done: the operation ended (success or failure, recorded). dropped: the message was stale or a
 * duplicate, nothing ran. retry: another delivery of it is running now; come back later.
 * A ResumeLater: the driver is waiting on its backend; the claim stays and the run is given
 * back, and the message must come back after that many seconds to go on.
 */
export type WorkOutcome = 'done' | 'dropped' | 'retry' | ResumeLater;

export interface ResumeLater {
  readonly resumeAfterSeconds: number;
}

/**
 * Runs one queued operation under its claim. A crash (any error that is not the driver's) is
 * thrown to the caller so the message is redelivered; the claim stays, fenced by its token.
 */
export async function runOperation(deps: WorkerDeps, msg: OperationMessage, heartbeat?: Heartbeat): Promise<WorkOutcome> {
  const { table, driver, runLeaseMs, claimLeaseMs } = deps;
  const now = deps.now ?? Date.now;
  const runner = randomUUID();
  const begun = await beginWork(table, { instanceId: msg.instanceId, token: msg.token, runner, now: now(), runLeaseMs, claimLeaseMs });
  if (begun.kind === 'busy') return 'retry';
  if (begun.kind === 'stale') {
    await abandonSuperseded(table, msg.instanceId, msg, now(), begun.instance);
    await placementOfSuperseded(table, msg, begun.instance);
    return 'dropped';
  }

  const { instance, run } = begun;
  const row = operationRow(msg.op);
  // The take-up just proved the token and the run's lease: a checkpoint straight after it (the
  // first step's) would prove nothing more, so it costs no write unless it moves task_state.
  let fencedJustNow = true;
  // A run that takes over from a dead one starts the driver again from its first step, but the
  // task_state shown never goes back: a step the dead run already passed only renews the leases.
  let reached = instance.taskState ? row.taskStates.indexOf(instance.taskState) : -1;
  const ctx: OperationContext = {
    op: msg.op, requestId: msg.requestId, instance, params: msg.params, takenOver: takenOverClaims(instance),
    fence: { instanceId: instance.id, token: msg.token },
    checkpoint: async (requested?: TaskState) => {
      if (requested && !row.taskStates.includes(requested)) {
        throw new Error(`${msg.op} has no task_state ${requested}`);
      }
      const taskState = requested && row.taskStates.indexOf(requested) > reached ? requested : undefined;
      if (taskState) reached = row.taskStates.indexOf(taskState);
      const redundant = fencedJustNow && !taskState;
      fencedJustNow = false;
      if (redundant) return;
      await renewClaim(table, { instanceId: instance.id, token: msg.token, now: now(), runLeaseMs, claimLeaseMs, taskState, run });
      await heartbeat?.();
    },
  };

  let result: Result;
  // The server as the driver and the release's vm_state see it: a confirm or a revert adds what
  // the move it ends went from (its old flavor, its vm_state), kept on the migration record.
  let seen = instance;
  try {
    // Cinder's volume shows the attach or detach running (attaching, detaching) from here; undone
    // with the reservation if the operation fails or is superseded (as a superseded driver is).
    await Reservations[msg.op]?.begin?.(table, msg, instance.id);
    // Placement first (placing.ts says why here): its host goes to the driver and, with the release, to the instance.
    const { beforeMove, ...placed } = await Placings[msg.op]?.({
      table, instance, now: now(), leaseMs: claimLeaseMs, requestId: msg.requestId, token: msg.token, params: msg.params,
    }) ?? {};
    if (beforeMove) seen = { ...instance, ...beforeMove };
    const migration = msg.op === 'live_migrate' ? { migration: liveMigrationSteps(table, msg.requestId, now, ctx.fence) } : {};
    const driven = await driver[msg.op]({ ...ctx, instance: seen, ...migration, params: { ...ctx.params, ...placed } });
    // Both may clear fields (a confirm: the driver its flavor's record, the placement its pending move).
    const clear = [...placed.clear ?? [], ...driven.clear ?? []];
    result = { ok: true, patch: { ...placed, ...driven, ...(clear.length > 0 ? { clear } : {}) } };
  } catch (err) {
    if (err instanceof FencedOut) {
      if (!await takenOverByAnotherRun(table, msg)) {
        await abandonSuperseded(table, instance.id, msg, now());
        await placementOfSuperseded(table, msg, await readInstance(table, instance.id));
      }
      return 'dropped';
    }
    if (err instanceof NotYet) {
      // The next delivery takes the run over at once (its lease ended here) and renews the leases.
      await yieldWork(table, { instanceId: instance.id, token: msg.token, run });
      return { resumeAfterSeconds: err.afterSeconds };
    }
    if (!(err instanceof DriverError)) {
      await yieldWork(table, { instanceId: instance.id, token: msg.token, run }).catch(() => undefined);
      throw err;
    }
    result = { ok: false, message: err.message, code: err.code };
  }
  const settled = await settleOperation(table, { instance: seen, claim: msg, token: msg.token, result, now: now(), run });
  if (!settled && !await takenOverByAnotherRun(table, msg)) await abandonSuperseded(table, instance.id, msg, now());
  return settled ? 'done' : 'dropped';
}

/**
 * Our lease ran out and a redelivery of the same operation took it over (same token, same
 * request, another runner): that run owns the outcome now; this one stops and writes nothing.
 */
async function takenOverByAnotherRun(table: Table, msg: OperationMessage): Promise<boolean> {
  const current = await readInstance(table, msg.instanceId);
  return current?.version === msg.token && current.taskState !== undefined && current.claim?.requestId === msg.requestId;
}
