import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, keys, type Table } from '../shared/table.js';

// A run is one delivery of a queued operation working under the operation's claim. The first
// delivery to take a claim up says so on an item of its own, RUN#<token> beside the instance,
// written only if absent: that write does not wait behind the requests that pile up on a busy
// instance's item (every refused admission is a write there), and a duplicate delivery of the
// same message finds it and backs off. Only a run that takes the work over from one that died,
// or a first run taken up so late that its claim's lease needs renewing, writes its runner id on
// the instance item (takeUp.ts beginWork); from then on the first run's writes, fenced on "no
// runner on the claim", fail.

/** What the first run wrote on its RUN# item. */
export interface RunRecord {
  readonly runner: string;
  /** The first run's lease, never renewed here: its checkpoints renew the claim's runUntil instead. */
  readonly runUntil: number;
  /** When the first run began: the start of the action's compute event. */
  readonly eventStart: string;
}

/** A run that has taken its claim up: who it is and how its writes to the instance are fenced. */
export interface Run {
  readonly runner: string;
  /**
   * Whether the runner's id is on the claim: a takeover, or a take-up that had to renew the
   * claim's lease. Otherwise it is the first run, whose writes require the claim to name no runner.
   */
  readonly onInstance: boolean;
  readonly eventStart: string;
}

/** Run items outlive any claim: they are read only while their claim is live. */
const RUN_RETENTION_S = 24 * 3600;

/** The condition every write of `run` to its claimed instance adds to the token's fence. */
export function runFence(run: Run, names: Record<string, string>, values: Record<string, unknown>): string {
  names['#claim'] = 'claim';
  names['#runner'] = 'runner';
  if (!run.onInstance) return 'attribute_not_exists(#claim.#runner)';
  values[':runner'] = run.runner;
  return '#claim.#runner = :runner';
}

/** The first take-up of claim `token`: true if this run is the first, false if another run was. */
export async function recordFirstRun(
  table: Table, instanceId: string, token: number, record: RunRecord, claimLeaseMs: number,
): Promise<boolean> {
  try {
    await table.db.send(new PutCommand({
      TableName: table.name,
      Item: {
        ...keys.run(instanceId, token), ...record,
        expiresAt: Math.floor((record.runUntil + claimLeaseMs) / 1000) + RUN_RETENTION_S,
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    }));
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

export async function readRun(table: Table, instanceId: string, token: number): Promise<RunRecord | undefined> {
  const out = await table.db.send(new GetCommand({
    TableName: table.name, Key: keys.run(instanceId, token), ConsistentRead: true,
  }));
  return out.Item as RunRecord | undefined;
}

/** The first run gives its lease back (it failed in-process), so a redelivery need not wait it out. */
export async function endFirstRunLease(table: Table, instanceId: string, token: number, runner: string): Promise<void> {
  try {
    await table.db.send(new UpdateCommand({
      TableName: table.name, Key: keys.run(instanceId, token),
      UpdateExpression: 'SET #runUntil = :zero', ConditionExpression: '#runner = :runner',
      ExpressionAttributeNames: { '#runUntil': 'runUntil', '#runner': 'runner' },
      ExpressionAttributeValues: { ':zero': 0, ':runner': runner },
    }));
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
  }
}
