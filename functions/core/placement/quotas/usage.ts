import { BatchGetCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { Forbidden } from '../../shared/errors.js';
import { isConditionFailure, itemFromConditionFailure, keys, type Table } from '../../shared/table.js';
import { projectLimits, type Limits } from './limits.js';

// A project's compute usage (instances, cores, ram) as one item, charged at admission with ONE
// conditional write per create request (`ADD instances :n, cores :c, ram :r` conditioned on each
// staying within its limit; DynamoDB conditions have no arithmetic, so the bound `limit - asked`
// is computed here from the limits read just before). N creates at once therefore never pass
// the limit they were judged by, whatever their order, and none waits on another.
//
// A concurrent quota update can only change which limit a create is judged by: a create that read
// the limits just before a lowering is admitted under the old one (as if it had come first), so
// usage may end above a freshly lowered limit, never above the limit a create read. Nova refuses a
// lowering below usage unless forced (quota_sets.py), with the same window between its check and
// its write. A raise is seen by the next create.
//
// Every charge names its servers in the same write (`counted.<serverId>`: cores, ram, when),
// which makes a retry of the same request (same server ids, from its request id) find its charge
// instead of charging twice, and makes a give-back exact and once: conditioned on the entry, it
// removes what was charged. A charge whose server never appeared (a create that died between the
// charge and its item) or whose server is gone without giving back (a delete that died after its
// release) is settled from the instance items once older than the lease: when a create would be
// refused and when usage is shown, so a count never leaks for longer than it takes to need it.

export interface Counted {
  readonly cores: number;
  readonly ram: number;
  readonly at: number;
}

export interface Usage {
  readonly instances: number;
  readonly cores: number;
  readonly ram: number;
  readonly counted: Record<string, Counted>;
}

export interface QuotaDeps {
  readonly table: Table;
  /** How old a charge must be before its server's absence means its create died. */
  readonly leaseMs: number;
}

const usageKey = (projectId: string) => ({ pk: `SERVERUSAGE#${projectId}`, sk: 'META' });

const CHARGED = ['instances', 'cores', 'ram'] as const;
type Charged = typeof CHARGED[number];

export async function readUsage(table: Table, projectId: string): Promise<Usage> {
  const out = await table.db.send(new GetCommand({ TableName: table.name, Key: usageKey(projectId), ConsistentRead: true }));
  return asUsage(out.Item);
}

const asUsage = (item: Record<string, unknown> | undefined): Usage => ({
  instances: Number(item?.instances ?? 0), cores: Number(item?.cores ?? 0), ram: Number(item?.ram ?? 0),
  counted: (item?.counted as Record<string, Counted> | undefined) ?? {},
});

/** The usage item, made empty the first time a project needs it (a charge's condition needs its attributes). */
async function ensureUsage(table: Table, projectId: string): Promise<void> {
  await table.db.send(new PutCommand({
    TableName: table.name, Item: { ...usageKey(projectId), instances: 0, cores: 0, ram: 0, counted: {} },
    ConditionExpression: 'attribute_not_exists(pk)',
  })).catch((e: unknown) => { if (!isConditionFailure(e)) throw e; });
}

export interface ServerSize {
  readonly vcpus: number;
  readonly ram: number;
}

const per = (size: ServerSize): Record<Charged, number> => ({ instances: 1, cores: size.vcpus, ram: size.ram });

/**
 * Charge a create of between `min` and `serverIds.length` servers of `size`, as Nova does: all of
 * them if they fit, else as many as fit down to `min`, else Nova's 403. Returns how many were
 * charged: the first that many ids. Each attempt is one conditional write naming every server it
 * charges; a retry of the same request finds its charge there and is not charged again.
 */
export async function chargeServers(
  deps: QuotaDeps, projectId: string, serverIds: readonly string[], size: ServerSize, min: number, now: number,
): Promise<number> {
  const limits = await projectLimits(deps.table, projectId);
  const unit = per(size);
  let count = serverIds.length;
  let settled = false;
  for (let attempt = 1; ; attempt++) {
    const ids = serverIds.slice(0, count);
    const limited = CHARGED.filter((r) => limits[r] >= 0);
    const names: Record<string, string> = { '#counted': 'counted' };
    const values: Record<string, unknown> = { ':entry': { cores: size.vcpus, ram: size.ram, at: now } };
    const conditions: string[] = [];
    for (const r of CHARGED) {
      names[`#${r}`] = r;
      values[`:add_${r}`] = count * unit[r];
    }
    for (const r of limited) {
      values[`:max_${r}`] = limits[r] - count * unit[r];
      conditions.push(`#${r} <= :max_${r}`);
    }
    ids.forEach((id, i) => {
      names[`#s${i}`] = id;
      conditions.push(`attribute_not_exists(#counted.#s${i})`);
    });
    try {
      await deps.table.db.send(new UpdateCommand({
        TableName: deps.table.name, Key: usageKey(projectId),
        // Also true only on an existing item: a missing one fails and is made below.
        ConditionExpression: ['attribute_exists(pk)', ...conditions].join(' AND '),
        UpdateExpression: `ADD ${CHARGED.map((r) => `#${r} :add_${r}`).join(', ')} SET ${ids.map((_, i) => `#counted.#s${i} = :entry`).join(', ')}`,
        ExpressionAttributeNames: names, ExpressionAttributeValues: values,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }));
      return count;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const old = itemFromConditionFailure<Record<string, unknown>>(err)
        ?? (await deps.table.db.send(new GetCommand({ TableName: deps.table.name, Key: usageKey(projectId), ConsistentRead: true }))).Item;
      if (!old) {
        await ensureUsage(deps.table, projectId);
        continue;
      }
      const usage = asUsage(old);
      const already = serverIds.findIndex((id) => !Object.hasOwn(usage.counted, id));
      if (already !== 0) return already < 0 ? serverIds.length : already;
      const fit = fitting(usage, limits, unit);
      if (fit >= min && fit < count) {
        count = fit;
        continue;
      }
      // Room for all of them now (a give-back in between): try again, a bounded number of times.
      if (fit >= count && attempt < 8) continue;
      if (!settled) {
        settled = true;
        if (await settleStale(deps, projectId, now) > 0) continue;
      }
      throw tooMany(usage, limits, unit, min, count);
    }
  }
}

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

/**
 * Give back one server's charge (its delete's release, a create that was not admitted after
 * all): conditioned on its entry as read, so a repeat, or two at once, give back once. What is
 * given back is what was charged.
 */
export async function giveBackServer(table: Table, projectId: string, serverId: string, expected?: Counted): Promise<boolean> {
  for (let attempt = 1; attempt <= 3; attempt++) {
    const entry = attempt === 1 && expected ? expected : (await readUsage(table, projectId)).counted[serverId];
    if (!entry) return false;
    try {
      await table.db.send(new UpdateCommand({
        TableName: table.name, Key: usageKey(projectId),
        ConditionExpression: '#counted.#sid.#cores = :cores AND #counted.#sid.#ram = :ram AND #counted.#sid.#at = :at',
        UpdateExpression: 'ADD #instances :minusOne, #coresTotal :minusCores, #ramTotal :minusRam REMOVE #counted.#sid',
        ExpressionAttributeNames: {
          '#counted': 'counted', '#sid': serverId, '#cores': 'cores', '#ram': 'ram', '#at': 'at',
          '#instances': 'instances', '#coresTotal': 'cores', '#ramTotal': 'ram',
        },
        ExpressionAttributeValues: {
          ':cores': entry.cores, ':ram': entry.ram, ':at': entry.at, ':minusOne': -1, ':minusCores': -entry.cores, ':minusRam': -entry.ram,
        },
      }));
      return true;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      // Given back already, or changed since it was read: read it again.
      if (expected && attempt === 1) return false;
    }
  }
  return false;
}

/**
 * Settle charges older than the lease whose server is gone (never made, or deleted without its
 * give-back): one batch read of their instance items, then a give-back conditioned on each entry
 * as read, so two settling at once settle once. Returns how many were given back.
 */
export async function settleStale(deps: QuotaDeps, projectId: string, now: number): Promise<number> {
  const usage = await readUsage(deps.table, projectId);
  const stale = Object.entries(usage.counted).filter(([, e]) => e.at + deps.leaseMs < now);
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
  for (const [id, entry] of stale) {
    if (!live.has(id) && await giveBackServer(deps.table, projectId, id, entry)) changed++;
  }
  return changed;
}
