import type { Instance, PendingMove } from './instance.js';
import { findMigration, type MoveOrigin } from './migrations.js';
import type { Allocation } from '../placement/hosts.js';
import type { Table } from '../shared/table.js';

// A server waiting for its confirm or revert (VERIFY_RESIZE) keeps on its item only which
// migration it waits on: the 16 bytes of the record's uuid (27 with the attribute's name, where
// the uuid as text would take 47). Its claim by the confirm is then under 1 KB, a write unit
// (docs/write-units.md): what the move left to go back to is on the record (Migration.before),
// made with the move under its claim. The pointer stays on the item: admission names the
// migration in the confirm's message from the claimed item with no read (reservations.ts), and a
// delete or a late duplicate finds the source it keeps through it. Items of the previous version
// hold the whole move (PendingMove, `oldFlavorId`, `preResizeVmState`, `allocation.previous`).

/** The item's pointer to the migration `uuid`. */
export function pendingMoveTo(uuid: string): Uint8Array {
  return new Uint8Array(Buffer.from(uuid.replaceAll('-', ''), 'hex'));
}

/** The migration a waiting server's item points at, whichever version wrote it; no read. */
export function pendingMigrationOf(instance: Pick<Instance, 'pendingMove'> | undefined): string | undefined {
  const move = instance?.pendingMove;
  if (move === undefined) return undefined;
  if (!(move instanceof Uint8Array)) return move.migration;
  const hex = Buffer.from(move).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A waiting move as its confirm or revert ends it. */
export interface WaitingMove {
  readonly migration: string;
  /** A cold migration's source, its allocation kept there until the move ends. */
  readonly source?: NonNullable<PendingMove['source']>;
  /** A resize's allocation before it, on the server's host. */
  readonly allocationBefore?: Allocation;
  /** What a revert goes back to, and the vm_state a confirm or revert ends in. */
  readonly oldFlavorId?: string;
  readonly preResizeVmState?: MoveOrigin['vmState'];
}

type Waiting = Pick<Instance, 'pendingMove' | 'allocation' | 'oldFlavorId' | 'preResizeVmState'>;

/**
 * The move `instance` waits on: from its item when the previous version wrote it whole (no
 * read), else from its migration record (one read).
 */
export async function waitingMove(table: Table, instance: Waiting | undefined): Promise<WaitingMove | undefined> {
  const move = instance?.pendingMove;
  if (!instance || move === undefined) return undefined;
  if (!(move instanceof Uint8Array)) {
    return {
      migration: move.migration,
      ...(move.source ? { source: move.source } : {}),
      ...(instance.allocation?.previous ? { allocationBefore: instance.allocation.previous } : {}),
      ...(instance.oldFlavorId !== undefined ? { oldFlavorId: instance.oldFlavorId } : {}),
      ...(instance.preResizeVmState !== undefined ? { preResizeVmState: instance.preResizeVmState } : {}),
    };
  }
  const migration = pendingMigrationOf(instance)!;
  const record = await findMigration(table, migration);
  const before = record?.before;
  if (!record || !before) return { migration, ...(record ? { oldFlavorId: record.oldFlavorId } : {}) };
  const { sourceCompute: host, sourceNode: node } = record;
  return {
    migration, oldFlavorId: record.oldFlavorId, preResizeVmState: before.vmState,
    ...(record.migrationType === 'migration' && host && before.allocation
      ? { source: { host, node: node ?? host, availabilityZone: before.availabilityZone ?? null, allocation: before.allocation } } : {}),
    ...(record.migrationType === 'resize' && before.allocation ? { allocationBefore: before.allocation } : {}),
  };
}
