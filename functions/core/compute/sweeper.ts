import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { Ports, readAttachable, reclaimExpired, Volumes, type AttachableKind } from '../shared/attachables.js';
import { readInstance } from './readInstance.js';
import { claimLeaseEnd, requestOf } from './instance.js';
import { settleOperation } from './settle.js';
import { endExpiredExtend } from '../volumes/volumes.js';
import type { Volume } from '../volumes/volume.js';
import { INDEX_BY_LEASE, LEASE_SHARDS, type Table } from '../shared/table.js';

/**
 * Releases claims whose lease expired (a crashed worker, a lost message) with the operation's
 * failure outcome and a fault, and reservations of volumes and ports whose request died before
 * claiming its instance (attachables.ts reclaimReservation). Found through the sparse lease
 * index, shard by shard: never a scan. A worker that renewed its lease meanwhile wins: the
 * release is fenced on the expiry. Returns how many claims and reservations it released.
 */
export async function sweepExpiredClaims(table: Table, now: number): Promise<number> {
  let released = 0;
  // One instance's failure must not leave every later expired claim for the next sweep.
  let failure: unknown;
  const sweepShard = async (shard: number) => {
    let start: Record<string, unknown> | undefined;
    do {
      const out = await table.db.send(new QueryCommand({
        TableName: table.name, IndexName: INDEX_BY_LEASE,
        KeyConditionExpression: 'leaseShard = :shard AND leaseUntil < :now',
        ExpressionAttributeValues: { ':shard': `LEASE#${shard}`, ':now': now },
        ExclusiveStartKey: start,
      }));
      for (const key of out.Items ?? []) {
        try {
          if (await expireItem(table, String(key.pk), now)) released++;
        } catch (err) {
          failure ??= err;
        }
      }
      start = out.LastEvaluatedKey;
    } while (start);
  };
  // LEASE_SHARDS partitions, nearly all empty at any moment: a few queried at once, so that a
  // sweep takes the time of LEASE_SHARDS / SHARDS_AT_ONCE queries, not of all of them in turn.
  let next = 0;
  await Promise.all(Array.from({ length: SHARDS_AT_ONCE }, async () => {
    for (let shard = next++; shard < LEASE_SHARDS; shard = next++) {
      try {
        await sweepShard(shard);
      } catch (err) {
        failure ??= err;
      }
    }
  }));
  if (failure) throw failure;
  return released;
}

const SHARDS_AT_ONCE = 16;

const RESERVABLE: Record<string, AttachableKind> = { VOLUME: Volumes, PORT: Ports };

async function expireItem(table: Table, pk: string, now: number): Promise<boolean> {
  const [prefix, id] = [pk.slice(0, pk.indexOf('#')), pk.slice(pk.indexOf('#') + 1)];
  if (prefix === 'INSTANCE') return expire(table, id, now);
  const kind = RESERVABLE[prefix];
  if (!kind) return false;
  const item = await readAttachable(table, kind, id);
  if (!item) return false;
  // A volume an extend holds (Cinder's `extending`) whose API invocation died.
  if (kind === Volumes && await endExpiredExtend(table, item as Volume, now)) return true;
  return reclaimExpired(table, kind, item, now);
}

async function expire(table: Table, instanceId: string, now: number): Promise<boolean> {
  const instance = await readInstance(table, instanceId);
  // Found by its lease as admitted (the index); a renewal since (a long operation's checkpoints) keeps it.
  const leaseEnd = claimLeaseEnd(instance);
  if (!instance?.claim || leaseEnd === undefined || leaseEnd >= now) return false;
  return settleOperation(table, {
    instance, claim: requestOf(instance.claim, instance), token: instance.version, now, onlyIfLeaseBefore: now,
    result: { ok: false, message: `Lease expired: operation ${instance.claim.op} (${instance.claim.requestId}) made no progress` },
  });
}
