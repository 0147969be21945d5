import { getServer } from './instanceStore.js';
import type { Caller, Instance } from './instance.js';
import { ABORTABLE, advanceMigration, LIVE_IN_PROGRESS, migrationsOf, type Migration, type MigrationStatus } from './migrations.js';
import { invalidStateMessage } from './refusals.js';
import { authorize, type PolicyName } from '../shared/policy.js';
import { BadRequest, Conflict, NotFound } from '../shared/errors.js';
import type { Table } from '../shared/table.js';

// A server's live migrations (Nova's server_migrations.py): the ones in progress, shown; and
// force_complete (2.22) and abort (2.24) of one, each ONE conditional write on the migration's
// status, which the live-migration worker's own steps are conditioned on too (migrations.ts
// liveMigrationSteps): an abort either lands before the worker's switch-over, and the migration
// stops with the server on its source, or after it, and is refused.

/** The server (404 first, as Nova's get_instance), then the policy on it. */
async function serverFor(table: Table, caller: Caller, instanceId: string, policy: PolicyName): Promise<Instance> {
  const instance = await getServer(table, caller, instanceId);
  authorize(caller, policy);
  return instance;
}

/** GET /servers/{id}/migrations: its live migrations in progress. */
export async function liveMigrationsInProgress(table: Table, caller: Caller, instanceId: string): Promise<Migration[]> {
  await serverFor(table, caller, instanceId, 'os_compute_api:servers:migrations:index');
  return (await migrationsOf(table, instanceId)).filter((m) => m.migrationType === 'live-migration' && LIVE_IN_PROGRESS.includes(m.status));
}

/** GET /servers/{id}/migrations/{migration_id}: Nova's three 404s for one that is not a live migration in progress. */
export async function liveMigrationInProgress(table: Table, caller: Caller, instanceId: string, id: number): Promise<Migration> {
  await serverFor(table, caller, instanceId, 'os_compute_api:servers:migrations:show');
  const found = (await migrationsOf(table, instanceId)).find((m) => m.id === id);
  if (!found) throw new NotFound(`In-progress live migration ${id} is not found for server ${instanceId}.`);
  if (found.migrationType !== 'live-migration') throw new NotFound(`Migration ${id} for server ${instanceId} is not live-migration.`);
  if (!LIVE_IN_PROGRESS.includes(found.status)) throw new NotFound(`Live migration ${id} for server ${instanceId} is not in progress.`);
  return found;
}

async function migrationOf(table: Table, instanceId: string, id: number, missing: (message: string) => Error): Promise<Migration> {
  const found = (await migrationsOf(table, instanceId)).find((m) => m.id === id);
  if (!found) throw missing(`Migration ${id} not found for instance ${instanceId}`);
  return found;
}

const invalidMigrationState = (m: Migration, instanceId: string, method: string, status: MigrationStatus | undefined) =>
  new BadRequest(`Migration ${m.id} state of instance ${instanceId} is ${status ?? m.status}. Cannot ${method} while the migration is in this state.`);

/**
 * POST .../migrations/{id}/action force_complete: compute/api.py live_migrate_force_complete,
 * @check_instance_state(vm_state=[ACTIVE], task_state=[MIGRATING]); only a running migration
 * (Nova's 400 otherwise). The worker reads the mark before its next copy pass.
 */
export async function forceComplete(table: Table, caller: Caller, instanceId: string, id: number, now = Date.now()): Promise<void> {
  const instance = await serverFor(table, caller, instanceId, 'os_compute_api:servers:migrations:force_complete');
  if (instance.vmState !== 'active') throw new Conflict(invalidStateMessage('force_complete', instanceId, 'vm_state', instance.vmState));
  if (instance.taskState !== 'migrating') throw new Conflict(invalidStateMessage('force_complete', instanceId, 'task_state', String(instance.taskState ?? 'None')));
  const migration = await migrationOf(table, instanceId, id, (m) => new BadRequest(m));
  const out = await advanceMigration(table, migration.uuid, ['running'], 'running', now, { forceComplete: true });
  if (!out.ok) throw invalidMigrationState(migration, instanceId, 'force complete', out.migration?.status);
}

/**
 * DELETE .../migrations/{id}: compute/api.py live_migrate_abort, @check_instance_state(task_state=
 * [MIGRATING]); running only before 2.65, queued and preparing too from it (Nova's 400 otherwise).
 * Decided by ONE conditional write: the migration cancelled only from one of those statuses.
 */
export async function abortLiveMigration(
  table: Table, caller: Caller, instanceId: string, id: number, inQueueToo: boolean, now = Date.now(),
): Promise<void> {
  const instance = await serverFor(table, caller, instanceId, 'os_compute_api:servers:migrations:delete');
  if (instance.taskState !== 'migrating') {
    throw new Conflict(invalidStateMessage('abort live migration', instanceId, 'task_state', String(instance.taskState ?? 'None')));
  }
  const migration = await migrationOf(table, instanceId, id, (m) => new NotFound(m));
  const allowed: readonly MigrationStatus[] = inQueueToo ? ABORTABLE : ['running'];
  const out = await advanceMigration(table, migration.uuid, allowed, 'cancelled', now);
  if (!out.ok) throw invalidMigrationState(migration, instanceId, 'abort live migration', out.migration?.status);
}
