import { randomUUID } from 'node:crypto';
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { BadRequest, Conflict, NotFound } from '../shared/errors.js';
import { isConditionFailure, type Table } from '../shared/table.js';

// Flavors: Nova's classic defaults, built in, and the ones administrators create, which live in
// the table under one partition (FLAVORS; flavors are few and read together). A deleted flavor
// stays as a tombstone, as in Nova an instance keeps its flavor after the flavor is deleted: lists
// and shows hide it, the servers built from it still show it.

export interface Flavor {
  readonly id: string;
  readonly name: string;
  readonly vcpus: number;
  readonly ram: number;
  readonly disk: number;
  readonly ephemeral: number;
  readonly swap: number;
  readonly rxtxFactor: number;
  readonly isPublic: boolean;
  readonly description?: string | null;
  readonly deleted?: boolean;
}

const flavor = (id: string, name: string, vcpus: number, ram: number, disk: number): Flavor =>
  ({ id, name, vcpus, ram, disk, ephemeral: 0, swap: 0, rxtxFactor: 1, isPublic: true, description: null });

export const FLAVORS: readonly Flavor[] = [
  flavor('1', 'm1.tiny', 1, 512, 1),
  flavor('2', 'm1.small', 1, 2048, 20),
  flavor('3', 'm1.medium', 2, 4096, 40),
  flavor('4', 'm1.large', 4, 8192, 80),
  flavor('5', 'm1.xlarge', 8, 16384, 160),
];

const PK = 'FLAVORS';
const itemKey = (id: string) => ({ pk: PK, sk: `FLAVOR#${id}` });

/** Every flavor, tombstones included, defaults overridden by their table items, sorted by id (Nova's default). */
export async function allFlavors(table: Table): Promise<Flavor[]> {
  const stored: Flavor[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await table.db.send(new QueryCommand({
      TableName: table.name, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': PK },
      ConsistentRead: true, ExclusiveStartKey: start,
    }));
    stored.push(...((out.Items ?? []) as (Flavor & { pk?: string; sk?: string })[]).map(({ pk: _p, sk: _s, ...f }) => f as Flavor));
    start = out.LastEvaluatedKey;
  } while (start);
  const byId = new Map(FLAVORS.map((f) => [f.id, f]));
  for (const f of stored) byId.set(f.id, f);
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

// Admission (create, resize) and server views read flavors on every request, and flavors change
// seldom: each process keeps the list for a few seconds, so the hot path stays at one write and
// no read. An id the cached list lacks is read again before it is refused, so a flavor created
// in another process is found at once; a flavor deleted elsewhere may still be accepted for up
// to FLAVOR_CACHE_MS (Nova has the same window between its flavor check and the build).
const FLAVOR_CACHE_MS = 10_000;
const cache = new Map<string, { readonly until: number; readonly flavors: Promise<Flavor[]> }>();

/** Every flavor, tombstones included, as read at most FLAVOR_CACHE_MS ago by this process. */
export function cachedFlavors(table: Table, now = Date.now()): Promise<Flavor[]> {
  const hit = cache.get(table.name);
  if (hit && hit.until > now) return hit.flavors;
  const flavors = allFlavors(table);
  cache.set(table.name, { until: now + FLAVOR_CACHE_MS, flavors });
  flavors.catch(() => cache.delete(table.name));
  return flavors;
}

/** The flavor with this id; deleted ones only when asked (a server's own flavor). */
export async function findFlavor(table: Table, id: string, includeDeleted = false): Promise<Flavor | undefined> {
  let f = (await cachedFlavors(table)).find((x) => x.id === id);
  if (!f) {
    cache.delete(table.name);
    f = (await cachedFlavors(table)).find((x) => x.id === id);
  }
  return f && (includeDeleted || !f.deleted) ? f : undefined;
}

export interface FlavorQuery {
  readonly minDisk?: number;
  readonly minRam?: number;
  /** Admins see private flavors too; users only public ones (taskgate has no flavor access lists). */
  readonly isAdmin: boolean;
  /** 'true', 'false' or 'none' (admins): Nova's is_public filter. */
  readonly isPublic?: boolean | 'none';
}

export async function listFlavors(table: Table, q: FlavorQuery): Promise<Flavor[]> {
  const isPublic = q.isAdmin ? (q.isPublic ?? true) : true;
  return (await allFlavors(table)).filter((f) => !f.deleted
    && (isPublic === 'none' || f.isPublic === isPublic)
    && (q.minDisk === undefined || f.disk >= q.minDisk)
    && (q.minRam === undefined || f.ram >= q.minRam));
}

export type NewFlavor = Omit<Flavor, 'id' | 'deleted'> & { readonly id?: string | null };

/** Nova's flavor create: unique id and name (409 otherwise), the id generated when absent. */
export async function createFlavor(table: Table, f: NewFlavor): Promise<Flavor> {
  const id = f.id ?? randomUUID();
  const all = await allFlavors(table);
  if (all.some((x) => x.id === id)) throw new Conflict(`Flavor with ID ${id} already exists.`);
  if (all.some((x) => !x.deleted && x.name === f.name)) throw new Conflict(`Flavor with name ${f.name} already exists.`);
  const created: Flavor = { ...f, id };
  try {
    await table.db.send(new PutCommand({
      TableName: table.name, Item: { ...itemKey(id), ...created }, ConditionExpression: 'attribute_not_exists(pk)',
    }));
  } catch (err) {
    if (isConditionFailure(err)) throw new Conflict(`Flavor with ID ${id} already exists.`);
    throw err;
  }
  cache.delete(table.name);
  return created;
}

/** Delete leaves a tombstone (servers keep showing their flavor); a second delete is 404. */
export async function deleteFlavor(table: Table, id: string): Promise<void> {
  const f = await findFlavor(table, id);
  if (!f) throw new NotFound(`Flavor ${id} could not be found.`);
  await table.db.send(new PutCommand({ TableName: table.name, Item: { ...itemKey(id), ...f, deleted: true } }));
  cache.delete(table.name);
}

/** 2.55: only the description changes. */
export async function updateFlavorDescription(table: Table, id: string, description: string | null): Promise<Flavor> {
  const f = await findFlavor(table, id);
  if (!f) throw new NotFound(`Flavor ${id} could not be found.`);
  const updated = { ...f, description };
  await table.db.send(new PutCommand({ TableName: table.name, Item: { ...itemKey(id), ...updated } }));
  cache.delete(table.name);
  return updated;
}

/** A positive integer query value (minDisk, minRam), or Nova's 400. */
export function flavorQueryNumber(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new BadRequest(`Invalid ${name} filter [${value}]`);
  return Number(value);
}

