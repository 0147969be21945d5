import { BatchGetCommand, GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { Forbidden, ServiceUnavailable } from '../../shared/errors.js';
import { cancellationCodes } from '../../shared/fencedPut.js';
import { isConditionFailure, keys, type Table } from '../../shared/table.js';
import { chargedAmong, chargeDeletion, chargeKey, readCharge, readCharges, usageKey, type Charge, type Counted } from './charges.js';
import { projectLimits, type Limits } from './limits.js';
import { chargeFromSlices, giveBackToSlice, readSlicedUsage, slicesOf } from './slices.js';

// A project's compute usage (instances, cores, ram) as three counters on one small item, charged
// at admission with ONE transaction per create request: the counters' `ADD instances :n, cores :c,
// ram :r`, conditioned on each staying within its limit (DynamoDB conditions have no arithmetic,
// so the bound `limit - asked` is computed here from the limits read just before), and the put of
// one charge item per server (charges.ts), conditioned on its absence. N creates at once therefore
// never pass the limit they were judged by, whatever their order, and none waits on another but
// for DynamoDB's own conflict between two transactions on the same counters (tried again).
//
// The charge item is what makes a retry of the same request (same server ids, from its request
// id) find its charge instead of charging twice, and a give-back exact and once: the delete of the
// item, conditioned on it as read, in the same transaction as the counters' decrement. The counters
// therefore always equal the sum of the charges, and the usage item stays the same few bytes
// whatever the project's size (docs/quotas.md).
//
// A concurrent quota update can only change which limit a create is judged by: a create that read
// the limits just before a lowering is admitted under the old one (as if it had come first), so
// usage may end above a freshly lowered limit, never above the limit a create read. Nova refuses a
// lowering below usage unless forced (quota_sets.py), with the same window between its check and
// its write. A raise is seen by the next create.
//
// A charge whose server never appeared (a create that died between the charge and its item) or
// whose server is gone without giving back (a delete that died after its release) is settled from
// the instance items once older than the lease: when a create would be refused and when usage is
// shown, so a count never leaks for longer than it takes to need it.
//
// A project the operator spread over usage slices (projectSpread.ts) is charged from an escrow of
// room its slices took from the counters (slices.ts), so that its creates and deletes do not all
// write the counters item; every other project is charged exactly as above.

export interface Usage {
  readonly instances: number;
  readonly cores: number;
  readonly ram: number;
}

export interface QuotaDeps {
  readonly table: Table;
  /** How old a charge must be before its server's absence means its create died. */
  readonly leaseMs: number;
}

const CHARGED = ['instances', 'cores', 'ram'] as const;
type Charged = typeof CHARGED[number];

/** DynamoDB's most items in one transaction is 100: the counters' update and 99 servers' charges. */
const SERVERS_PER_TRANSACTION = 99;
/** How often a charge or a give-back is tried again after a transaction it lost to, or a room that opened. */
const ATTEMPTS = 16;

export async function readUsage(table: Table, projectId: string): Promise<Usage> {
  if (slicesOf(table, projectId) > 1) return readSlicedUsage(table, projectId);
  const out = await table.db.send(new GetCommand({
    TableName: table.name, Key: usageKey(projectId), ConsistentRead: true, ProjectionExpression: CHARGED.join(', '),
  }));
  return asUsage(out.Item);
}

const asUsage = (item: Record<string, unknown> | undefined): Usage => ({
  instances: Number(item?.instances ?? 0), cores: Number(item?.cores ?? 0), ram: Number(item?.ram ?? 0),
});

export interface ServerSize {
  readonly vcpus: number;
  readonly ram: number;
}

const per = (size: ServerSize): Record<Charged, number> => ({ instances: 1, cores: size.vcpus, ram: size.ram });

/** Another transaction on the same items won: wait a little, more each time, spread apart. */
const pause = (attempt: number) => new Promise((resolve) => setTimeout(resolve, Math.random() * 2 ** Math.min(attempt, 8)));

type Outcome = 'done' | 'refused' | 'conflict';

/** A cancelled transaction: its condition failed (refused), or it lost to another on the same item (conflict). */
function cancelled(err: unknown): Outcome {
  if (err instanceof Error && err.name === 'TransactionConflictException') return 'conflict';
  const codes = cancellationCodes(err);
  if (!codes) throw err;
  if (codes.includes('ConditionalCheckFailed')) return 'refused';
  if (codes.includes('TransactionConflict')) return 'conflict';
  throw err;
}

/**
 * One transaction: the counters up by `serverIds.length` servers of `size` if they stay within
 * `limits`, and a charge item for each server unless it has one. `firstOfRequest` also refuses
 * a request the previous version charged (its map names the request's first server).
 */
async function chargeTogether(
  table: Table, projectId: string, serverIds: readonly string[], size: ServerSize, limits: Limits, now: number, firstOfRequest?: string,
): Promise<Outcome> {
  const unit = per(size);
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const within: string[] = [];
  for (const r of CHARGED) {
    names[`#${r}`] = r;
    values[`:add_${r}`] = serverIds.length * unit[r];
    if (limits[r] < 0) continue;
    values[`:max_${r}`] = limits[r] - serverIds.length * unit[r];
    within.push(`#${r} <= :max_${r}`);
  }
  const conditions: string[] = [];
  if (within.length > 0) {
    // A project's first charge makes its usage item (ADD on no item starts from 0): then only
    // the ask itself must fit, which is known here.
    const fitsEmpty = CHARGED.every((r) => limits[r] < 0 || (values[`:max_${r}`] as number) >= 0);
    conditions.push(fitsEmpty ? `(attribute_not_exists(pk) OR (${within.join(' AND ')}))` : within.join(' AND '));
  }
  if (firstOfRequest) {
    Object.assign(names, { '#counted': 'counted', '#first': firstOfRequest });
    conditions.push('attribute_not_exists(#counted.#first)');
  }
  try {
    await table.db.send(new TransactWriteCommand({
      TransactItems: [
        {
          Update: {
            TableName: table.name, Key: usageKey(projectId),
            ...(conditions.length > 0 ? { ConditionExpression: conditions.join(' AND ') } : {}),
            UpdateExpression: `ADD ${CHARGED.map((r) => `#${r} :add_${r}`).join(', ')}`,
            ExpressionAttributeNames: names, ExpressionAttributeValues: values,
          },
        },
        ...serverIds.map((id) => ({
          Put: {
            TableName: table.name, Item: { ...chargeKey(projectId, id), cores: size.vcpus, ram: size.ram, at: now },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        })),
      ],
    }));
    return 'done';
  } catch (err) {
    return cancelled(err);
  }
}

/**
 * Charge a create of between `min` and `serverIds.length` servers of `size`, as Nova does: all of
 * them if they fit, else as many as fit down to `min`, else Nova's 403. Returns how many were
 * charged: the first that many ids. Each attempt is one transaction (per 99 servers) charging
 * every server it names; a retry of the same request finds its charges and is not charged again.
 */
export async function chargeServers(
  deps: QuotaDeps, projectId: string, serverIds: readonly string[], size: ServerSize, min: number, now: number,
): Promise<number> {
  const limits = await projectLimits(deps.table, projectId);
  const unit = per(size);
  const spread = slicesOf(deps.table, projectId) > 1;
  let count = serverIds.length;
  let charged = 0;
  let settled = false;
  for (let attempt = 1; charged < count; attempt++) {
    if (attempt > ATTEMPTS) throw new ServiceUnavailable('The project\'s quota usage is busy: try again.');
    const together = serverIds.slice(charged, Math.min(count, charged + SERVERS_PER_TRANSACTION));
    const outcome = spread
      ? fromSlices(await chargeFromSlices(deps.table, projectId, together, unit, limits, now))
      : await chargeTogether(deps.table, projectId, together, size, limits, now, charged === 0 ? serverIds[0] : undefined);
    if (outcome === 'done') {
      charged += together.length;
      continue;
    }
    if (outcome === 'conflict') {
      await pause(attempt);
      continue;
    }
    // Refused: charged already (a retry of this request gets what it got then), or no room.
    const asked = charged === 0 ? serverIds : together;
    const found = await chargedAmong(deps.table, projectId, asked);
    const leading = asked.findIndex((id) => !found.has(id));
    if (leading !== 0) {
      if (charged === 0) return leading < 0 ? asked.length : leading;
      charged += leading < 0 ? asked.length : leading;
      continue;
    }
    // Its first not charged but some of the others: what an attempt of this request left while
    // it died giving its charges back (each id is this request's own): given back, then charged anew.
    const left = together.filter((id) => found.has(id));
    if (left.length > 0) {
      for (const id of left) await giveBackServer(deps.table, projectId, id);
      continue;
    }
    const usage = await readUsage(deps.table, projectId);
    const fit = fitting(usage, limits, unit);
    // Room for all of them now (a give-back in between): try again.
    if (fit >= together.length) continue;
    if (fit > 0 && charged + fit >= min) {
      count = charged + fit;
      continue;
    }
    if (!settled) {
      settled = true;
      if (await settleStale(deps, projectId, now) > 0) continue;
    }
    if (charged >= min) return charged;
    // Fewer than min_count fit: what this request charged goes back (only past 99 servers).
    for (const id of serverIds.slice(0, charged)) await giveBackServer(deps.table, projectId, id);
    throw tooMany(charged > 0 ? await readUsage(deps.table, projectId) : usage, limits, unit, min, serverIds.length);
  }
  return count;
}

/** A spread charge's outcome as an ordinary one's: its charge there already, or no room, is a refusal. */
const fromSlices = (outcome: 'done' | 'charged' | 'short' | 'conflict'): Outcome => (outcome === 'charged' || outcome === 'short' ? 'refused' : outcome);

/** How many more servers of this size fit in the project's limits. */
function fitting(usage: Usage, limits: Limits, unit: Record<Charged, number>): number {
  let fit = Number.MAX_SAFE_INTEGER;
  for (const r of CHARGED) {
    if (limits[r] < 0 || unit[r] === 0) continue;
    fit = Math.min(fit, Math.floor((limits[r] - usage[r]) / unit[r]));
  }
  return Math.max(fit, 0);
}

/** Nova's TooManyInstances (nova/exception.py), as nova/compute/utils.py check_num_instances_quota words it. */
function tooMany(usage: Usage, limits: Limits, unit: Record<Charged, number>, min: number, max: number): Forbidden {
  const requested: Record<Charged, string> = {
    instances: min === max ? String(min) : `${min}-${max}`, cores: String(max * unit.cores), ram: String(max * unit.ram),
  };
  const overs = CHARGED.filter((r) => limits[r] >= 0 && usage[r] + min * unit[r] > limits[r]).sort();
  const list = overs.length > 0 ? overs : (['instances'] as Charged[]);
  return new Forbidden(`Quota exceeded for ${list.join(', ')}: Requested ${list.map((r) => requested[r]).join(', ')}, `
    + `but already used ${list.map((r) => usage[r]).join(', ')} of ${list.map((r) => limits[r]).join(', ')} ${list.join(', ')}`);
}

const decrement = (charge: Counted) => ({ ':minusOne': -1, ':minusCores': -charge.cores, ':minusRam': -charge.ram });
const DECREMENT = 'ADD #instances :minusOne, #coresTotal :minusCores, #ramTotal :minusRam';
const TOTALS = { '#instances': 'instances', '#coresTotal': 'cores', '#ramTotal': 'ram' };

/**
 * The charge item deleted, conditioned on it as read, and the counters down by it: one
 * transaction. A charge taken from a usage slice gives its room back to that slice instead.
 */
async function giveBackItem(table: Table, projectId: string, serverId: string, charge: Charge): Promise<Outcome> {
  try {
    if (charge.slice !== undefined) {
      await giveBackToSlice(table, projectId, serverId, { ...charge, slice: charge.slice });
      return 'done';
    }
    await table.db.send(new TransactWriteCommand({
      TransactItems: [
        chargeDeletion(table, projectId, serverId, charge),
        {
          Update: {
            TableName: table.name, Key: usageKey(projectId), ConditionExpression: 'attribute_exists(pk)',
            UpdateExpression: DECREMENT, ExpressionAttributeNames: TOTALS, ExpressionAttributeValues: decrement(charge),
          },
        },
      ],
    }));
    return 'done';
  } catch (err) {
    return cancelled(err);
  }
}

/** The previous version's charge: its map entry removed, conditioned on it as read, and the counters down by it, in one write. */
async function giveBackFromMap(table: Table, projectId: string, serverId: string, charge: Counted): Promise<Outcome> {
  try {
    await table.db.send(new UpdateCommand({
      TableName: table.name, Key: usageKey(projectId),
      ConditionExpression: '#counted.#sid.#cores = :cores AND #counted.#sid.#ram = :ram AND #counted.#sid.#at = :at',
      UpdateExpression: `${DECREMENT} REMOVE #counted.#sid`,
      ExpressionAttributeNames: { '#counted': 'counted', '#sid': serverId, '#cores': 'cores', '#ram': 'ram', '#at': 'at', ...TOTALS },
      ExpressionAttributeValues: { ':cores': charge.cores, ':ram': charge.ram, ':at': charge.at, ...decrement(charge) },
    }));
    return 'done';
  } catch (err) {
    if (isConditionFailure(err)) return 'refused';
    return cancelled(err);
  }
}

/**
 * Give back one server's charge (its delete's release, a create that was not admitted after
 * all): conditioned on the charge as read (`expected`, else read here), so a repeat, or two at
 * once, give back once. What is given back is what was charged.
 */
export async function giveBackServer(table: Table, projectId: string, serverId: string, expected?: Charge): Promise<boolean> {
  let charge = expected ?? await readCharge(table, projectId, serverId);
  for (let attempt = 1; charge && attempt <= ATTEMPTS; attempt++) {
    const outcome = charge.inMap ? await giveBackFromMap(table, projectId, serverId, charge) : await giveBackItem(table, projectId, serverId, charge);
    if (outcome === 'done') return true;
    if (outcome === 'conflict') {
      await pause(attempt);
      continue;
    }
    // Given back already, or charged again since it was read: a settler gives back only what it read.
    if (expected) return false;
    charge = await readCharge(table, projectId, serverId);
  }
  return false;
}

/**
 * Settle charges older than the lease whose server is gone (never made, or deleted without its
 * give-back): one batch read of their instance items, then a give-back conditioned on each charge
 * as read, so two settling at once settle once. Returns how many were given back.
 */
export async function settleStale(deps: QuotaDeps, projectId: string, now: number): Promise<number> {
  const stale = [...await readCharges(deps.table, projectId)].filter(([, c]) => c.at + deps.leaseMs < now);
  if (stale.length === 0) return 0;
  const live = new Set<string>();
  for (let i = 0; i < stale.length; i += 100) {
    let pending: Record<string, unknown>[] | undefined = stale.slice(i, i + 100).map(([id]) => keys.instance(id));
    while (pending && pending.length > 0) {
      const out = await deps.table.db.send(new BatchGetCommand({
        RequestItems: { [deps.table.name]: { Keys: pending, ConsistentRead: true, ProjectionExpression: 'id, deleted' } },
      }));
      for (const item of out.Responses?.[deps.table.name] ?? []) if (!item.deleted) live.add(String(item.id));
      pending = out.UnprocessedKeys?.[deps.table.name]?.Keys as Record<string, unknown>[] | undefined;
    }
  }
  let changed = 0;
  for (const [id, charge] of stale) {
    if (!live.has(id) && await giveBackServer(deps.table, projectId, id, charge)) changed++;
  }
  return changed;
}
