import { BatchGetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, itemFromConditionFailure, keys, type Table } from '../shared/table.js';
import { hostKey, readHosts, type Allocation, type Host } from './hosts.js';

// Placement's allocations, each ONE conditional write on the host's item: taking capacity is
// `used + asked <= capacity` (DynamoDB conditions have no arithmetic: the bound `capacity - asked`
// is computed here, capacity being fixed) together with the server's entry being absent and, for
// a server group with a limit per host, the group's count on the host being under it. So two
// schedulers racing for the last room on a host cannot both win, and two members of an
// anti-affinity group cannot both land on one host, whatever their order: the second write fails
// and the scheduler tries the next host. Giving back is conditioned on the entry as allocated, so
// it happens once, however many times it is asked for.

export interface Request {
  readonly serverId: string;
  readonly vcpus: number;
  readonly ram: number;
  readonly disk: number;
  /** The server's group, and how many of its members a host may hold (anti-affinity: 1). */
  readonly group?: { readonly id: string; readonly maxPerHost?: number };
  readonly now: number;
  /** A move's request: recorded on the entry (Allocation.movedBy). */
  readonly movedBy?: string;
}

export type Claimed = { readonly ok: true; readonly host: Host } | { readonly ok: false; readonly host?: Host };

/** One conditional write: the request's share of `host`, or the host as it was when refused. */
export async function allocate(table: Table, host: Host, req: Request): Promise<Claimed> {
  const entry: Allocation = {
    vcpus: req.vcpus, ram: req.ram, disk: req.disk, at: req.now, ...(req.group ? { group: req.group.id } : {}), ...(req.movedBy ? { movedBy: req.movedBy } : {}),
  };
  const names: Record<string, string> = {
    '#en': 'enabled', '#fd': 'forcedDown', '#uv': 'usedVcpus', '#ur': 'usedRam', '#ud': 'usedDisk', '#alloc': 'allocations', '#sid': req.serverId,
  };
  const values: Record<string, unknown> = {
    ':true': true, ':false': false, ':v': req.vcpus, ':r': req.ram, ':d': req.disk,
    ':maxV': host.vcpus - req.vcpus, ':maxR': host.ram - req.ram, ':maxD': host.disk - req.disk, ':entry': entry,
  };
  const conditions = [
    '#en = :true', '#fd = :false', '#uv <= :maxV', '#ur <= :maxR', '#ud <= :maxD', 'attribute_not_exists(#alloc.#sid)',
  ];
  const sets = ['#uv = #uv + :v', '#ur = #ur + :r', '#ud = #ud + :d', '#alloc.#sid = :entry'];
  if (req.group) {
    Object.assign(names, { '#groups': 'groups', '#gid': req.group.id });
    Object.assign(values, { ':zero': 0, ':one': 1 });
    sets.push('#groups.#gid = if_not_exists(#groups.#gid, :zero) + :one');
    if (req.group.maxPerHost !== undefined) {
      values[':maxG'] = req.group.maxPerHost;
      conditions.push('(attribute_not_exists(#groups.#gid) OR #groups.#gid < :maxG)');
    }
  }
  return claimOnHost(table, host.name, {
    condition: conditions.join(' AND '), update: `SET ${sets.join(', ')}`, names, values,
  });
}

/**
 * One conditional write to a host's item: the host as written, or as it stood when the condition
 * refused the write (so a scheduler tries the next host without reading this one again).
 */
async function claimOnHost(
  table: Table, hostName: string,
  write: { condition: string; update: string; names: Record<string, string>; values: Record<string, unknown> },
): Promise<Claimed> {
  try {
    const out = await table.db.send(new UpdateCommand({
      TableName: table.name, Key: hostKey(hostName),
      ConditionExpression: write.condition, UpdateExpression: write.update,
      ExpressionAttributeNames: write.names, ExpressionAttributeValues: write.values,
      ReturnValues: 'ALL_NEW', ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    }));
    return { ok: true, host: strip(out.Attributes!) };
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    const old = itemFromConditionFailure<Record<string, unknown>>(err);
    return { ok: false, host: old ? strip(old) : undefined };
  }
}

const strip = ({ pk: _p, sk: _s, ...h }: Record<string, unknown>) => h as unknown as Host;

/** Give back one allocation, conditioned on its entry as read: true if this call gave it back. */
export async function giveBack(table: Table, hostName: string, serverId: string, entry: Allocation): Promise<boolean> {
  const names: Record<string, string> = {
    '#uv': 'usedVcpus', '#ur': 'usedRam', '#ud': 'usedDisk', '#alloc': 'allocations', '#sid': serverId, '#at': 'at',
  };
  const values: Record<string, unknown> = { ':v': entry.vcpus, ':r': entry.ram, ':d': entry.disk, ':at': entry.at };
  const sets = ['#uv = #uv - :v', '#ur = #ur - :r', '#ud = #ud - :d'];
  if (entry.group) {
    Object.assign(names, { '#groups': 'groups', '#gid': entry.group });
    values[':one'] = 1;
    sets.push('#groups.#gid = #groups.#gid - :one');
  }
  try {
    await table.db.send(new UpdateCommand({
      TableName: table.name, Key: hostKey(hostName),
      ConditionExpression: '#alloc.#sid.#at = :at', UpdateExpression: `SET ${sets.join(', ')} REMOVE #alloc.#sid`,
      ExpressionAttributeNames: names, ExpressionAttributeValues: values,
    }));
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

/**
 * What a server's item records of its allocation: the share its give-back returns and its
 * identity (`at`), not Placement's marks of the request that made it (`movedBy`, `resizedBy`,
 * `previous`), which stay on the host's entry. Every write to the item is billed per KB, so a
 * moved server would otherwise carry them on every claim after its move (docs/write-units.md).
 */
export function recordedAllocation({ vcpus, ram, disk, at, group }: Allocation): Allocation {
  return { vcpus, ram, disk, at, ...(group ? { group } : {}) };
}

/**
 * Whether the server's item records `entry` on `host` as its own: then the operation that made
 * it released with it, and no undo may give it back (an allocation's `at` is its identity, as
 * every give-back's condition says).
 */
export function recordsAllocation(server: { readonly host?: string; readonly allocation?: Allocation } | undefined, host: string, entry: Allocation): boolean {
  return server?.host === host && server.allocation?.at === entry.at;
}

/** Where the server is allocated, if anywhere (hosts are few: one query reads them all). */
export function allocationOf(hosts: readonly Host[], serverId: string): { host: Host; entry: Allocation } | undefined {
  for (const host of hosts) {
    const entry = host.allocations?.[serverId];
    if (entry) return { host, entry };
  }
  return undefined;
}

/** Every host the server holds an allocation on: two while a move holds its target beside its source. */
export function allocationsOf(hosts: readonly Host[], serverId: string): { host: Host; entry: Allocation }[] {
  return hosts.flatMap((host) => {
    const entry = host.allocations?.[serverId];
    return entry ? [{ host, entry }] : [];
  });
}

/** A deleted server's or a failed build's allocation, given back once (a no-op when there is none). */
export async function freeServer(table: Table, serverId: string): Promise<boolean> {
  const found = allocationOf(await readHosts(table), serverId);
  return found ? giveBack(table, found.host.name, serverId, found.entry) : false;
}

/**
 * Allocations older than the lease whose server is gone (deleted, or never written): what a
 * worker that died between its allocation and its give-back left. One batch read of their
 * instances, then a give-back conditioned on each entry as read. Returns how many were given back.
 */
export async function settleStaleAllocations(table: Table, hosts: readonly Host[], now: number, leaseMs: number): Promise<number> {
  const stale = hosts.flatMap((h) => Object.entries(h.allocations ?? {})
    .filter(([, e]) => e.at + leaseMs < now).map(([serverId, entry]) => ({ host: h.name, serverId, entry })));
  if (stale.length === 0) return 0;
  const live = new Set<string>();
  for (let i = 0; i < stale.length; i += 100) {
    let pending: Record<string, unknown>[] | undefined = stale.slice(i, i + 100).map((s) => keys.instance(s.serverId));
    while (pending && pending.length > 0) {
      const out = await table.db.send(new BatchGetCommand({
        RequestItems: { [table.name]: { Keys: pending, ConsistentRead: true, ProjectionExpression: 'id, deleted' } },
      }));
      for (const item of out.Responses?.[table.name] ?? []) if (!item.deleted) live.add(String(item.id));
      pending = out.UnprocessedKeys?.[table.name]?.Keys as Record<string, unknown>[] | undefined;
    }
  }
  let settled = 0;
  for (const s of stale) if (!live.has(s.serverId) && await giveBack(table, s.host, s.serverId, s.entry)) settled++;
  return settled;
}

/**
 * A resize on its host (taskgate's hosts are one node each, and Nova allows a resize to the same
 * host): ONE conditional write replaces the server's allocation with `next` if it is still the
 * one the server's item records, taking only the difference, within the host's capacity; the
 * replaced one is kept in the new one (`previous`) for a revert or a failed resize to restore.
 * A retry of the same request finds its own allocation there. False: no room on the host.
 */
export async function resizeAllocation(
  table: Table, hostName: string, serverId: string, current: Allocation, next: Omit<Allocation, 'previous' | 'resizedBy'>, requestId: string,
): Promise<Allocation | undefined> {
  const { previous: _older, resizedBy: _by, ...before } = current;
  const entry: Allocation = { ...next, resizedBy: requestId, previous: before };
  const out = await shift(table, hostName, serverId, current, entry);
  if (out.ok) return entry;
  const found = out.host?.allocations?.[serverId];
  return found?.resizedBy === requestId ? found : undefined;
}

/** A revert, or a failed resize: the allocation before the resize back, once (conditioned on the resized one). */
export async function restoreAllocation(table: Table, hostName: string, serverId: string, resized: Allocation): Promise<boolean> {
  if (!resized.previous) return false;
  return (await shift(table, hostName, serverId, resized, resized.previous)).ok;
}

/** One write: `from` (as recorded, by its `at`) becomes `to` on the host, the used figures moved by the difference, within capacity. */
async function shift(table: Table, hostName: string, serverId: string, from: Allocation, to: Allocation): Promise<Claimed> {
  const dv = to.vcpus - from.vcpus;
  const dr = to.ram - from.ram;
  const dd = to.disk - from.disk;
  return claimOnHost(table, hostName, {
    condition: '#alloc.#sid.#at = :at AND #uv <= :max_dv AND #ur <= :max_dr AND #ud <= :max_dd',
    update: 'SET #uv = #uv + :dv, #ur = #ur + :dr, #ud = #ud + :dd, #alloc.#sid = :to',
    names: { '#alloc': 'allocations', '#sid': serverId, '#at': 'at', '#uv': 'usedVcpus', '#ur': 'usedRam', '#ud': 'usedDisk' },
    values: { ':at': from.at, ':dv': dv, ':dr': dr, ':dd': dd, ':to': to, ...await bounds(table, hostName, dv, dr, dd) },
  });
}

/** The bounds `capacity - difference` of a shift (capacity is fixed: read once, no arithmetic in the condition). */
async function bounds(table: Table, hostName: string, dv: number, dr: number, dd: number) {
  const host = (await readHosts(table)).find((h) => h.name === hostName);
  if (!host) throw new Error(`host ${hostName} is not in the table`);
  return { ':max_dv': host.vcpus - dv, ':max_dr': host.ram - dr, ':max_dd': host.disk - dd };
}
