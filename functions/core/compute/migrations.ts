import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { fencedItemUpdate, fencedPut, type ClaimFence } from '../shared/fencedPut.js';
import type { MigrationSteps } from './driver.js';
import { DriverError } from '../shared/errors.js';
import type { Allocation } from '../placement/hosts.js';
import type { VmState } from './states.js';
import { derivedUuid } from '../shared/ids.js';
import { isConditionFailure, itemFromConditionFailure, type Table } from '../shared/table.js';

// Nova's Migration object (nova/objects/migration.py): one item per move of a server, resize
// included (Nova records a resize as a migration too). Its uuid comes from the request that moves
// the server, so a redelivered worker finds the record its first run made, and a failed or
// superseded request's give-back finds it with no read. Only the worker that holds the move's
// claim writes it, and every status change is ONE conditional write on the status it expects:
// an abort (DELETE .../migrations/{id}) is the same kind of write, so whichever of the worker's
// next step and the abort comes first wins, and the other sees it.

export type MigrationType = 'migration' | 'resize' | 'live-migration' | 'evacuation';

/**
 * Nova's statuses: a cold move or resize pre-migrating, migrating, post-migrating, finished, then
 * confirming/confirmed or reverting/reverted; a live migration queued, preparing, running,
 * post-migrating, completed (cancelled when aborted); an evacuation accepted, pre-migrating, done;
 * error (or failed) when it fails.
 */
export type MigrationStatus =
  | 'accepted' | 'queued' | 'preparing' | 'running' | 'pre-migrating' | 'migrating' | 'post-migrating'
  | 'finished' | 'confirming' | 'confirmed' | 'reverting' | 'reverted' | 'completed' | 'done'
  | 'cancelled' | 'error' | 'failed';

/** Where a live migration can still be aborted (Nova 2.65: queued and preparing too; before it, running only). */
export const ABORTABLE: readonly MigrationStatus[] = ['queued', 'preparing', 'running'];
/** A live migration in progress (server_migrations.py): the only ones its per-server API shows. */
export const LIVE_IN_PROGRESS: readonly MigrationStatus[] = ['queued', 'preparing', 'running', 'post-migrating'];
/** Statuses a move still leaves (every other one is where it ended). */
const OPEN: readonly MigrationStatus[] = [
  'accepted', 'queued', 'preparing', 'running', 'pre-migrating', 'migrating', 'post-migrating', 'finished', 'confirming', 'reverting',
];

export interface Migration {
  /** Nova's integer id, from a counter item (the per-server API's path takes it). */
  readonly id: number;
  readonly uuid: string;
  readonly instanceUuid: string;
  readonly migrationType: MigrationType;
  readonly status: MigrationStatus;
  readonly sourceCompute: string | null;
  readonly sourceNode: string | null;
  readonly destCompute: string | null;
  readonly destNode: string | null;
  readonly oldFlavorId: string;
  readonly newFlavorId: string;
  readonly userId: string;
  readonly projectId: string;
  /** The request that moves the server: its claim's. */
  readonly requestId: string;
  /** force_complete (2.22) asked for: the worker finishes the copy without waiting. */
  readonly forceComplete?: boolean;
  /**
   * The allocation the move no longer needs once its release is written (a live migration's or
   * an evacuation's source, a confirmed migration's source, a reverted one's target), put here by
   * the step before the release: a redelivery after a crash between the release and its give-back
   * finds it here, and the server's item, billed per KB on every write, does not carry it.
   */
  readonly giveBack?: { readonly host: string; readonly allocation: Allocation };
  /**
   * A resize's or a cold migration's way back, as the move found the server: its vm_state, its
   * zone and its allocation (a cold migration's on its source, a resize's before it, on the same
   * host). Written with the record, so the server's item waiting for its confirm or revert
   * (billed per KB on every write) keeps only its pointer here (pendingMove.ts). Records of the
   * previous version have none: their server's item kept all of it.
   */
  readonly before?: MoveOrigin;
  readonly created: string;
  readonly updated: string;
}

export interface MoveOrigin {
  readonly vmState: VmState;
  readonly availabilityZone?: string | null;
  readonly allocation?: Allocation;
}

const PK = 'MIGRATIONS';
const COUNTER = { pk: PK, sk: 'COUNTER' };
const keyOf = (uuid: string) => ({ pk: PK, sk: `MIGRATION#${uuid}` });

/** The migration a moving request makes: the same uuid however often it is asked. */
export const migrationUuidFor = (requestId: string): string => derivedUuid('migration', requestId);

export type NewMigration = Omit<Migration, 'id' | 'uuid' | 'created' | 'updated'>;

/**
 * The record of a move, written once (a redelivery finds the first one and keeps it), and only
 * while the worker's claim holds (fencedPut.ts: a worker taken over records nothing, FencedOut).
 * The id it draws first is not fenced: a worker taken over between the two leaves a gap in the
 * ids, as a rolled-back insert leaves one in Nova's autoincrement, and nothing else.
 */
export async function recordMigration(table: Table, m: NewMigration, now: number, fence: ClaimFence): Promise<Migration> {
  const counter = await table.db.send(new UpdateCommand({
    TableName: table.name, Key: COUNTER, UpdateExpression: 'ADD #n :one', ExpressionAttributeNames: { '#n': 'next' },
    ExpressionAttributeValues: { ':one': 1 }, ReturnValues: 'UPDATED_NEW',
  }));
  const at = new Date(now).toISOString();
  const uuid = migrationUuidFor(m.requestId);
  const item: Migration = { ...m, id: Number(counter.Attributes!.next), uuid, created: at, updated: at };
  try {
    await fencedPut(table, fence, { item: { ...keyOf(uuid), ...item }, condition: 'attribute_not_exists(pk)' });
    return item;
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    return (await findMigration(table, uuid))!;
  }
}

/**
 * A move's way back (`before`) added to its record, under the move's claim, if the record has
 * none: one the previous version made before its worker was taken over by this version's (its
 * server's item will point here, and keep nothing else of the move). Once: a second time finds it.
 */
export async function recordMoveOrigin(table: Table, fence: ClaimFence, uuid: string, before: MoveOrigin): Promise<void> {
  try {
    await fencedItemUpdate(table, fence, {
      key: keyOf(uuid), update: 'SET #before = :before', condition: 'attribute_exists(pk) AND attribute_not_exists(#before)',
      names: { '#before': 'before' }, values: { ':before': before },
    });
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
  }
}

const strip = ({ pk: _p, sk: _s, ...m }: Record<string, unknown>) => (m.uuid ? (m as unknown as Migration) : undefined);

export type Advanced = { readonly ok: true; readonly migration: Migration } | { readonly ok: false; readonly migration?: Migration };

type MigrationExtra = Partial<Pick<Migration, 'destCompute' | 'destNode' | 'forceComplete' | 'giveBack'>>;

/** The update that moves a migration to `to` from one of `from`, with `extra` set beside the status. */
function statusChange(from: readonly MigrationStatus[], to: MigrationStatus, now: number, extra: MigrationExtra) {
  const names: Record<string, string> = { '#status': 'status', '#updated': 'updated' };
  const values: Record<string, unknown> = { ':to': to, ':updated': new Date(now).toISOString() };
  const sets = ['#status = :to', '#updated = :updated'];
  from.forEach((f, i) => { values[`:from${i}`] = f; });
  for (const [field, value] of Object.entries(extra)) {
    names[`#x_${field}`] = field;
    values[`:x_${field}`] = value;
    sets.push(`#x_${field} = :x_${field}`);
  }
  return {
    update: `SET ${sets.join(', ')}`, condition: `#status IN (${from.map((_f, i) => `:from${i}`).join(', ')})`, names, values,
  };
}

/**
 * ONE conditional write: the migration moves to `to` only from one of `from` (what the writer
 * expects it to be). Refused, it answers the migration as it is (an abort that came first, a
 * redelivery that already moved it on). For the API's writes (abort, force-complete) and what a
 * move leaves to do after its release; a worker before its release uses advanceMigrationUnderClaim.
 */
export async function advanceMigration(
  table: Table, uuid: string, from: readonly MigrationStatus[], to: MigrationStatus, now: number, extra: MigrationExtra = {},
): Promise<Advanced> {
  const change = statusChange(from, to, now, extra);
  try {
    const out = await table.db.send(new UpdateCommand({
      TableName: table.name, Key: keyOf(uuid), UpdateExpression: change.update, ConditionExpression: change.condition,
      ExpressionAttributeNames: change.names, ExpressionAttributeValues: change.values,
      ReturnValues: 'ALL_NEW', ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    }));
    return { ok: true, migration: strip(out.Attributes!)! };
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    const old = itemFromConditionFailure<Record<string, unknown>>(err);
    return { ok: false, migration: old ? strip(old) : undefined };
  }
}

/**
 * advanceMigration by a worker while its claim holds (the status a move, a confirm or a revert
 * takes on before its release): in a transaction with a check of the claim (fencedPut.ts), so a
 * worker taken over writes nothing and stops (FencedOut), where a plain write could still move the
 * record of a server another operation now holds. Refused by the record's status, it reads the
 * record (a transaction returns no item): that happens only when an abort came first.
 */
export async function advanceMigrationUnderClaim(
  table: Table, fence: ClaimFence, uuid: string, from: readonly MigrationStatus[], to: MigrationStatus, now: number, extra: MigrationExtra = {},
): Promise<{ readonly ok: true } | { readonly ok: false; readonly migration?: Migration }> {
  try {
    await fencedItemUpdate(table, fence, { key: keyOf(uuid), ...statusChange(from, to, now, extra) });
    return { ok: true };
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    return { ok: false, migration: await findMigration(table, uuid) };
  }
}

/** A failed or superseded move's record ends in `to` unless it already ended (so twice is once). */
export async function failMigration(table: Table, requestId: string, to: MigrationStatus, now: number): Promise<void> {
  await advanceMigration(table, migrationUuidFor(requestId), OPEN, to, now);
}

export async function findMigration(table: Table, uuid: string): Promise<Migration | undefined> {
  const out = await table.db.send(new QueryCommand({
    TableName: table.name, KeyConditionExpression: 'pk = :pk AND sk = :sk', ConsistentRead: true,
    ExpressionAttributeValues: { ':pk': PK, ':sk': keyOf(uuid).sk },
  }));
  return out.Items?.[0] ? strip(out.Items[0]) : undefined;
}

/** Every migration, newest first (Nova's default order: created_at, id descending). */
export async function listMigrations(table: Table): Promise<Migration[]> {
  const found: Migration[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await table.db.send(new QueryCommand({
      TableName: table.name, KeyConditionExpression: 'pk = :pk AND begins_with(sk, :m)', ConsistentRead: true,
      ExpressionAttributeValues: { ':pk': PK, ':m': 'MIGRATION#' }, ExclusiveStartKey: start,
    }));
    for (const item of out.Items ?? []) {
      const m = strip(item);
      if (m) found.push(m);
    }
    start = out.LastEvaluatedKey;
  } while (start);
  return found.sort((a, b) => b.created.localeCompare(a.created) || b.id - a.id);
}

/** One server's migrations, newest first. */
export async function migrationsOf(table: Table, instanceUuid: string): Promise<Migration[]> {
  return (await listMigrations(table)).filter((m) => m.instanceUuid === instanceUuid);
}

/** What a live migration that an abort stopped ends with (its action's error; the server stays where it was). */
export const MIGRATION_CANCELLED = 'The live migration was aborted.';

/** The statuses a move ended in without moving: an abort, or a failure recorded by its give-back. */
const STOPPED: readonly MigrationStatus[] = ['cancelled', 'error', 'failed'];

/**
 * The live-migration worker's steps on its record. Each moves forward with one write conditioned
 * on the status before it; refused, the record tells why: stopped (an abort came first) is the
 * operation's failure, further along is a redelivery of a run that already got there.
 */
export function liveMigrationSteps(table: Table, requestId: string, now: () => number, fence: ClaimFence): MigrationSteps {
  const uuid = migrationUuidFor(requestId);
  const before: Record<'running' | 'post-migrating', readonly MigrationStatus[]> = {
    running: ['queued', 'preparing'], 'post-migrating': ['running'],
  };
  return {
    advance: async (to) => {
      const out = await advanceMigrationUnderClaim(table, fence, uuid, before[to], to, now());
      if (!out.ok) refuseStopped(out.migration);
    },
    forcedComplete: async () => (await findMigration(table, uuid))?.forceComplete === true,
  };
}

/** A move whose record says it was stopped (aborted, or failed) goes no further. */
export function refuseStopped(migration: Migration | undefined): void {
  if (!migration || STOPPED.includes(migration.status)) throw new DriverError(MIGRATION_CANCELLED, 400);
}
