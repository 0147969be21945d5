import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { itemsOf } from '../shared/indexedItems.js';
import { listingKeys } from '../shared/projectListing.js';
import { readServer, withAttachments } from './attachmentItems.js';
import { CLEARED_CLAIM, clearingClaim, takenOverRemoval } from './release.js';
import { fencedUpdate } from './fencedUpdate.js';
import { invalidStateMessage } from './refusals.js';
import { readInstance } from './readInstance.js';
import { BadRequest, Conflict, Forbidden, NotFound } from '../shared/errors.js';
import { allows, authorize } from '../shared/policy.js';
import { isVisibleTo, requestOf, takenOverAttributes, takenOverClaims, type Caller, type Instance } from './instance.js';
import { abandonSuperseded } from './settle.js';
import type { VmState } from './states.js';
import {
  INDEX_ALL_SERVERS, INDEX_BY_PROJECT, isConditionFailure, itemFromConditionFailure, keys, SERVER_SHARDS, usedPlaceholders,
  type Table,
} from '../shared/table.js';

// Reads, and the operations that change no task_state and need no queue (lock, reset-state).

/** A server the caller may see, with its attachments' details (one Query: attachmentItems.ts). */
export async function getServer(table: Table, caller: Caller, instanceId: string): Promise<Instance> {
  const instance = await readServer(table, instanceId);
  if (!isVisibleTo(instance, caller)) throw new NotFound(`Instance ${instanceId} could not be found.`);
  return instance;
}

export interface ServerPage {
  readonly servers: Instance[];
  /** Present when more servers follow: the id to pass as the next marker. */
  readonly next?: string;
}

/**
 * A project's servers (or, with `allProjects`, every project's: admins' all_tenants), newest
 * first, from the project index (its one partition, or its listing partitions when spread) or the
 * sharded all-servers index (Queries, never a Scan). The
 * marker is a server id, as in Nova: its creation time positions the page.
 */
export async function listServers(
  table: Table, caller: Caller,
  q: { limit: number; marker?: string; filter?: (s: Instance) => boolean; projectId?: string; allProjects?: boolean },
): Promise<ServerPage> {
  const projectId = q.projectId ?? caller.projectId;
  let after: string | undefined;
  if (q.marker) {
    const marker = await readInstance(table, q.marker);
    if (!marker || marker.deleted || (!q.allProjects && marker.projectId !== projectId)) {
      // Nova's answer to a marker it cannot place is 400, not 404.
      throw new BadRequest(`marker [${q.marker}] not found`);
    }
    after = `${marker.created}#${marker.id}`;
  }
  const servers: Instance[] = [];
  if (q.limit <= 0) return { servers };
  const sources = q.allProjects
    ? Array.from({ length: SERVER_SHARDS }, (_, shard) =>
      indexPages(table, INDEX_ALL_SERVERS, 'gsi2pk', 'gsi1sk', `SERVERS#${shard}`, after, q.limit))
    // A project's one partition, or each of its listing partitions (projectListing.ts), merged the same way.
    : listingKeys(table, 'PROJECT', projectId).map((pk) => indexPages(table, INDEX_BY_PROJECT, 'gsi1pk', 'gsi1sk', pk, after, q.limit));
  const entries = newestFirst(sources);
  for (;;) {
    // The index holds keys only (indexedItems.ts): the servers themselves are read a batch at a
    // time, as many as the page still needs and one more (to tell whether a next page exists).
    const batch: Indexed[] = [];
    const want = Math.min(q.limit + 1 - servers.length, BATCH_SIZE);
    while (batch.length < want) {
      const next = await entries.next();
      if (next.done) break;
      batch.push(next.value);
    }
    if (batch.length === 0) return { servers };
    // Their attachments' details: one more BatchGetItem when a server on the page has any.
    for (const item of await withAttachments(table, await itemsOf<Instance>(table, batch))) {
      if (item.deleted || (q.filter && !q.filter(item))) continue;
      if (servers.length === q.limit) return { servers, next: servers.at(-1)!.id };
      servers.push(item);
    }
  }
}

/** How many servers one BatchGetItem reads. */
const BATCH_SIZE = 100;

type Indexed = Record<string, unknown> & { sortKey: string };

/** One index partition's entries (keys), newest first, below `after` when given, page by page. */
async function* indexPages(
  table: Table, index: string, pkName: string, skName: string, pk: string, after: string | undefined, limit: number,
): AsyncGenerator<Indexed> {
  let start: Record<string, unknown> | undefined;
  do {
    const out = await table.db.send(new QueryCommand({
      TableName: table.name, IndexName: index,
      KeyConditionExpression: after ? '#pk = :pk AND #sk < :after' : '#pk = :pk',
      ExpressionAttributeNames: { '#pk': pkName, ...(after ? { '#sk': skName } : {}) },
      ExpressionAttributeValues: { ':pk': pk, ...(after ? { ':after': after } : {}) },
      // One more than the page, so the same Query tells whether a next page exists.
      ScanIndexForward: false, ExclusiveStartKey: start, Limit: Math.max(limit + 1, 25),
    }));
    for (const entry of (out.Items ?? []) as Record<string, string>[]) yield { ...entry, sortKey: entry[skName]! };
    start = out.LastEvaluatedKey;
  } while (start);
}

/** Merges partitions that are each newest first into one newest-first stream. */
async function* newestFirst(sources: AsyncGenerator<Indexed>[]): AsyncGenerator<Indexed> {
  const heads = await Promise.all(sources.map((s) => s.next()));
  for (;;) {
    let best = -1;
    heads.forEach((h, i) => {
      if (!h.done && (best < 0 || h.value.sortKey > (heads[best]!.value as Indexed).sortKey)) best = i;
    });
    if (best < 0) return;
    yield heads[best]!.value as Indexed;
    heads[best] = await sources[best]!.next();
  }
}

/**
 * Lock or unlock, each ONE conditional write (no read before it: a read-then-write would let a
 * concurrent admin lock slip in between). Nova's rules: locking a server that is already locked
 * is a no-op for its owner (it never turns an admin's lock into the owner's); an admin's lock
 * only an admin lifts (403 unlock_override); another project's server is a 404. The lock reason
 * (2.73) lives and dies with the lock.
 */
export async function setLocked(
  table: Table, caller: Caller, instanceId: string, locked: boolean, reason?: string,
): Promise<void> {
  const conditions = ['attribute_exists(pk)', 'attribute_not_exists(#deleted)'];
  const names: Record<string, string> = {
    '#locked': 'locked', '#by': 'lockedBy', '#deleted': 'deleted', '#proj': 'projectId', '#reason': 'lockedReason',
  };
  const values: Record<string, unknown> = { ':proj': caller.projectId };
  if (!caller.isAdmin) conditions.push('#proj = :proj');
  if (locked) {
    // Already locked, and the caller's own project's: nothing to do.
    conditions.push('(attribute_not_exists(#locked) OR #locked = :false OR #proj <> :proj)');
    values[':false'] = false;
    values[':true'] = true;
    values[':by'] = caller.isAdmin ? 'admin' : 'owner';
    if (reason !== undefined) values[':reason'] = reason;
  } else {
    if (!caller.isAdmin) conditions.push('(attribute_not_exists(#by) OR #by <> :admin)');
    values[':admin'] = 'admin';
    values[':false'] = false;
  }
  const condition = conditions.join(' AND ');
  const expression = locked
    ? `SET #locked = :true, #by = :by${reason !== undefined ? ', #reason = :reason REMOVE' : ' REMOVE #reason'}`.replace(/ REMOVE$/, '')
    : 'SET #locked = :false REMOVE #by, #reason';
  try {
    await table.db.send(new UpdateCommand({
      TableName: table.name, Key: keys.instance(instanceId),
      ConditionExpression: condition, UpdateExpression: expression,
      ...usedPlaceholders([condition, expression], names, values),
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    }));
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    // Only to explain the refusal: the write has already been decided.
    const current = itemFromConditionFailure<Instance>(err) ?? await readInstance(table, instanceId);
    if (!isVisibleTo(current, caller)) throw new NotFound(`Instance ${instanceId} could not be found.`);
    if (!locked && current.lockedBy === 'admin' && !caller.isAdmin) {
      throw new Forbidden('Policy doesn\'t allow os_compute_api:os-lock-server:unlock:unlock_override to be performed.');
    }
    // Locking what its owner already locked: Nova's no-op.
  }
}

/**
 * os-resetState (admin): sets vm_state, clears task_state and the claim (and the claims it took
 * over), and moves the fencing token on, so whatever worker held the claim can no longer write.
 *
 * Except a delete's: a delete that was answered is carried out. Nova's reset only rewrites the
 * database row, and the compute host goes on deleting (nova/api/openstack/compute/admin_actions.py
 * `_reset_state`; compute/manager.py `terminate_instance` checks no task_state); here the reset
 * would fence the delete's worker out and leave the server standing, so it is refused with 409
 * while `deleting`, in the same write (no read: a delete landing in between is seen by it).
 */
export async function resetState(table: Table, caller: Caller, instanceId: string, vmState: VmState): Promise<void> {
  // Nova finds the server before it checks the rule: another project's server is 404 to a
  // non-administrator, like one that does not exist; its own project's, 403. An administrator
  // passes both and reads nothing here (the write's condition finds the server).
  if (!allows(caller, 'os_compute_api:os-admin-actions:reset_state') && !isVisibleTo(await readInstance(table, instanceId), caller)) {
    throw new NotFound(`Instance ${instanceId} could not be found.`);
  }
  authorize(caller, 'os_compute_api:os-admin-actions:reset_state');
  try {
    const out = await table.db.send(new UpdateCommand({
      TableName: table.name, Key: keys.instance(instanceId),
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#deleted) AND NOT #ts = :deleting',
      UpdateExpression: clearingClaim(['#vm = :vm', '#updated = :now']),
      ExpressionAttributeNames: { ...CLEARED_CLAIM.names, '#vm': 'vmState', '#updated': 'updated', '#deleted': 'deleted' },
      ExpressionAttributeValues: { ...CLEARED_CLAIM.values, ':vm': vmState, ':now': new Date().toISOString(), ':deleting': 'deleting' },
      ReturnValues: 'ALL_OLD',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    }));
    // The live claim and every claim it had taken over are superseded now: each ends once.
    const before = out.Attributes as Instance | undefined;
    for (const superseded of [before?.claim && requestOf(before.claim, before), ...takenOverClaims(before)]) {
      if (superseded) await abandonSuperseded(table, instanceId, superseded, Date.now());
    }
    // Their records, each under a name the reset could not know before its write: removed after
    // it, fenced on the token it moved to. If a claim came first, its own release removes them
    // (they are on the item it took), and ending them again there changes nothing.
    const taken = takenOverRemoval(takenOverAttributes(before));
    if (before && taken.removes.length > 0) {
      await fencedUpdate(table, instanceId, before.version + 1, { expression: `REMOVE ${taken.removes.join(', ')}`, names: taken.names, values: {} });
    }
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    const current = itemFromConditionFailure<Instance>(err) ?? await readInstance(table, instanceId);
    if (current && !current.deleted && current.taskState === 'deleting') {
      throw new Conflict(invalidStateMessage('os-resetState', instanceId, 'task_state', 'deleting'), { cause: err });
    }
    throw new NotFound(`Instance ${instanceId} could not be found.`, { cause: err });
  }
}

