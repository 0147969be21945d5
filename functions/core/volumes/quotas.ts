import { BatchGetCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, itemFromConditionFailure, usedPlaceholders, type Table } from '../shared/table.js';
import type { Volume } from './volume.js';

// Cinder's per-project volume quotas, at Cinder's defaults (quota_volumes 10, quota_gigabytes
// 1000). Usage is one item per project, charged with ONE conditional ADD before a volume is
// written (`used <= limit - size`: DynamoDB conditions have no arithmetic, so the bound is
// computed here), so that N creates at once never pass the limit, whatever their order.
//
// Every charge names its volume in the same write (`counted.<volumeId>`: size and when), which
// makes a give-back exact and repeatable (conditioned on that entry), and makes a charge whose
// volume never came findable: a create that died between the charge and its volume, or a delete
// that died between removing its volume and giving back. Such an entry is settled from the
// volume items (one batch read) once it is older than the lease, longer than any API invocation
// lives: when a create or extend would be refused, and when usage is shown. So a count never
// leaks for longer than it takes to need it.

export const QUOTA_DEFAULTS = { volumes: 10, gigabytes: 1000, per_volume_gigabytes: -1 } as const;

export interface Usage {
  readonly volumes: number;
  readonly gigabytes: number;
  readonly counted: Record<string, { readonly size: number; readonly at: number }>;
}

/** Cinder's QuotaError family (413): the message is the client's. */
export class QuotaExceeded extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QuotaExceeded';
  }
}

const key = (projectId: string) => ({ pk: `VOLUMEUSAGE#${projectId}`, sk: 'META' });

const NAMES = { '#volumes': 'volumes', '#gb': 'gigabytes', '#counted': 'counted', '#size': 'size', '#at': 'at' };

export async function readUsage(table: Table, projectId: string): Promise<Usage> {
  const out = await table.db.send(new GetCommand({ TableName: table.name, Key: key(projectId), ConsistentRead: true }));
  const item = out.Item as Partial<Usage> | undefined;
  return { volumes: item?.volumes ?? 0, gigabytes: item?.gigabytes ?? 0, counted: item?.counted ?? {} };
}

/** An update of the usage item, which is made (empty) the first time a project needs it. */
async function updateUsage(table: Table, projectId: string, input: Omit<ConstructorParameters<typeof UpdateCommand>[0], 'TableName' | 'Key'>) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await table.db.send(new UpdateCommand({ TableName: table.name, Key: key(projectId), ...input }));
    } catch (err) {
      // The map `counted` is not there yet: a path under it cannot be set.
      if (attempt > 1 || !(err instanceof Error) || err.name !== 'ValidationException') throw err;
      await table.db.send(new PutCommand({
        TableName: table.name, Item: { ...key(projectId), volumes: 0, gigabytes: 0, counted: {} }, ConditionExpression: 'attribute_not_exists(pk)',
      })).catch((e: unknown) => { if (!isConditionFailure(e)) throw e; });
    }
  }
}

export interface QuotaDeps {
  readonly table: Table;
  /** How old a charge must be before its volume's absence means its create died. */
  readonly leaseMs: number;
}

/**
 * Charge one new volume of `size` GiB to the project: one conditional write. A retry of the same
 * create (same volume id) finds its charge there and is not charged twice.
 */
export async function chargeVolume(deps: QuotaDeps, projectId: string, volumeId: string, size: number, now: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await updateUsage(deps.table, projectId, {
        ConditionExpression: '(attribute_not_exists(#volumes) OR #volumes <= :maxVolumes) AND (attribute_not_exists(#gb) OR #gb <= :maxGb) '
          + 'AND attribute_not_exists(#counted.#vid)',
        UpdateExpression: 'ADD #volumes :one, #gb :size SET #counted.#vid = :entry',
        ExpressionAttributeNames: { '#volumes': 'volumes', '#gb': 'gigabytes', '#counted': 'counted', '#vid': volumeId },
        ExpressionAttributeValues: {
          ':maxVolumes': QUOTA_DEFAULTS.volumes - 1, ':maxGb': QUOTA_DEFAULTS.gigabytes - size, ':one': 1, ':size': size,
          ':entry': { size, at: now },
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      });
      return;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const usage = itemFromConditionFailure<Usage>(err) ?? await readUsage(deps.table, projectId);
      if (usage.counted && Object.hasOwn(usage.counted, volumeId)) return;
      if (attempt === 1 && await settleStale(deps, projectId, now) > 0) continue;
      throw refusal(usage, size);
    }
  }
}

/** Cinder's words for the limit a charge of `size` would pass (cinder/exception.py). */
function refusal(usage: Partial<Usage>, size: number, newVolume = true): QuotaExceeded {
  if (newVolume && (usage.volumes ?? 0) + 1 > QUOTA_DEFAULTS.volumes) {
    return new QuotaExceeded(`Maximum number of volumes allowed (${QUOTA_DEFAULTS.volumes}) exceeded for quota 'volumes'.`);
  }
  return new QuotaExceeded(`Requested volume or snapshot exceeds allowed gigabytes quota. Requested ${size}G, `
    + `quota is ${QUOTA_DEFAULTS.gigabytes}G and ${usage.gigabytes ?? 0}G has been consumed.`);
}

/**
 * Give back one volume's charge (a delete, a failed create): conditioned on its entry, so a
 * repeat gives back nothing. The size given back is the one charged.
 */
export async function giveBackVolume(table: Table, projectId: string, volumeId: string, expected?: { size: number; at?: number }): Promise<boolean> {
  const entry = expected ?? (await readUsage(table, projectId)).counted[volumeId];
  if (!entry) return false;
  try {
    await table.db.send(new UpdateCommand({
      TableName: table.name, Key: key(projectId),
      ConditionExpression: `#counted.#vid.#size = :size${entry.at !== undefined ? ' AND #counted.#vid.#at = :at' : ''}`,
      UpdateExpression: 'ADD #volumes :minusOne, #gb :minusSize REMOVE #counted.#vid',
      ...usedPlaceholders(
        [`#counted.#vid.#size = :size${entry.at !== undefined ? ' AND #counted.#vid.#at = :at' : ''}`, 'ADD #volumes :minusOne, #gb :minusSize REMOVE #counted.#vid'],
        { ...NAMES, '#vid': volumeId },
        { ':size': entry.size, ':minusOne': -1, ':minusSize': -entry.size, ':at': entry.at },
      ),
    }));
    return true;
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    // Charged another size than expected (an extend in between): give back what was charged.
    return expected ? giveBackVolume(table, projectId, volumeId) : false;
  }
}

/** Charge an extend's growth: one conditional write, from the size charged before it. */
export async function chargeGrowth(deps: QuotaDeps, projectId: string, volumeId: string, from: number, to: number, now: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await updateUsage(deps.table, projectId, {
        ConditionExpression: '(attribute_not_exists(#gb) OR #gb <= :maxGb) AND #counted.#vid.#size = :from',
        UpdateExpression: 'ADD #gb :growth SET #counted.#vid = :entry',
        ExpressionAttributeNames: { '#gb': 'gigabytes', '#counted': 'counted', '#vid': volumeId, '#size': 'size' },
        ExpressionAttributeValues: { ':maxGb': QUOTA_DEFAULTS.gigabytes - (to - from), ':from': from, ':growth': to - from, ':entry': { size: to, at: now } },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      });
      return;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const usage = itemFromConditionFailure<Usage>(err) ?? await readUsage(deps.table, projectId);
      const charged = usage.counted?.[volumeId]?.size;
      if (charged === to) return;
      // A volume charged before quotas were kept, or charged another size: settle, then try again.
      if (attempt === 1 && (charged !== from ? await recount(deps.table, projectId, volumeId, charged, from, now) : await settleStale(deps, projectId, now) > 0)) continue;
      throw refusal(usage, to - from, false);
    }
  }
}

/** Undo an extend's charge that did not happen (the volume was no longer available). */
export async function giveBackGrowth(table: Table, projectId: string, volumeId: string, from: number, to: number, now: number): Promise<void> {
  await table.db.send(new UpdateCommand({
    TableName: table.name, Key: key(projectId),
    ConditionExpression: '#counted.#vid.#size = :to',
    UpdateExpression: 'ADD #gb :shrink SET #counted.#vid = :entry',
    ExpressionAttributeNames: { '#gb': 'gigabytes', '#counted': 'counted', '#vid': volumeId, '#size': 'size' },
    ExpressionAttributeValues: { ':to': to, ':shrink': from - to, ':entry': { size: from, at: now } },
  })).catch((err: unknown) => { if (!isConditionFailure(err)) throw err; });
}

/** The charge of one volume made `size` (from `charged`, possibly none): one conditional write. */
async function recount(table: Table, projectId: string, volumeId: string, charged: number | undefined, size: number, now: number): Promise<boolean> {
  try {
    await updateUsage(table, projectId, {
      ConditionExpression: charged === undefined ? 'attribute_not_exists(#counted.#vid)' : '#counted.#vid.#size = :charged',
      UpdateExpression: `ADD #gb :diff${charged === undefined ? ', #volumes :one' : ''} SET #counted.#vid = :entry`,
      ExpressionAttributeNames: { '#gb': 'gigabytes', '#counted': 'counted', '#vid': volumeId, ...(charged === undefined ? { '#volumes': 'volumes' } : { '#size': 'size' }) },
      ExpressionAttributeValues: {
        ':diff': size - (charged ?? 0), ':entry': { size, at: now }, ...(charged === undefined ? { ':one': 1 } : { ':charged': charged }),
      },
    });
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

/**
 * Settle charges older than the lease whose volume says otherwise: gone (its create died, or its
 * delete died before giving back) or another size (an extend that died half-way). Each write is
 * conditioned on the entry as read, so two settling at once do it once. Returns how many changed.
 */
export async function settleStale(deps: QuotaDeps, projectId: string, now: number): Promise<number> {
  const usage = await readUsage(deps.table, projectId);
  const stale = Object.entries(usage.counted).filter(([, e]) => e.at + deps.leaseMs < now);
  if (stale.length === 0) return 0;
  const volumes = new Map<string, Volume>();
  for (let i = 0; i < stale.length; i += 100) {
    const batch = stale.slice(i, i + 100);
    let keys: Record<string, unknown>[] | undefined = batch.map(([id]) => ({ pk: `VOLUME#${id}`, sk: 'META' }));
    while (keys && keys.length > 0) {
      const out = await deps.table.db.send(new BatchGetCommand({ RequestItems: { [deps.table.name]: { Keys: keys, ConsistentRead: true } } }));
      for (const v of (out.Responses?.[deps.table.name] ?? []) as Volume[]) volumes.set(v.id, v);
      keys = out.UnprocessedKeys?.[deps.table.name]?.Keys as Record<string, unknown>[] | undefined;
    }
  }
  let changed = 0;
  for (const [id, entry] of stale) {
    const volume = volumes.get(id);
    if (!volume) {
      if (await giveBackVolume(deps.table, projectId, id, entry)) changed++;
    } else if (volume.status !== 'extending' && volume.size !== entry.size) {
      if (await recount(deps.table, projectId, id, entry.size, volume.size, entry.at)) changed++;
    }
  }
  return changed;
}
