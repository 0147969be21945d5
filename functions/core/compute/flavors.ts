import { randomUUID } from 'node:crypto';
import { PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
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
  /** Nova's extra specs (flavorExtraSpecs.ts): absent on a flavor never given any. */
  readonly extraSpecs?: Record<string, string>;
  /** The projects a private flavor is shared with (flavorAccess.ts), as a map for conditional writes. */
  readonly access?: Record<string, true>;
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
export const flavorKey = (id: string) => ({ pk: PK, sk: `FLAVOR#${id}` });
const itemKey = flavorKey;

/** Whether the caller sees the flavor: public, or an admin, or a project it is shared with. */
export const isFlavorVisible = (f: Flavor, caller: { isAdmin: boolean; projectId: string }) =>
  f.isPublic || caller.isAdmin || Object.hasOwn(f.access ?? {}, caller.projectId);

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
  /** Admins see private flavors too; users public ones and those shared with their project. */
  readonly isAdmin: boolean;
  readonly projectId?: string;
  /** 'true', 'false' or 'none' (admins): Nova's is_public filter. */
  readonly isPublic?: boolean | 'none';
}

export async function listFlavors(table: Table, q: FlavorQuery): Promise<Flavor[]> {
  const isPublic = q.isAdmin ? (q.isPublic ?? true) : true;
  const shared = (f: Flavor) => !q.isAdmin && q.projectId !== undefined && Object.hasOwn(f.access ?? {}, q.projectId);
  return (await allFlavors(table)).filter((f) => !f.deleted
    && (isPublic === 'none' || f.isPublic === isPublic || shared(f))
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
  // The maps extra specs and access are written into key by key: they exist from the start.
  const created: Flavor = { ...f, id, extraSpecs: {}, access: {} };
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
  await updateFlavorItem(table, f, { set: 'SET #description = :description', names: { '#description': 'description' }, values: { ':description': description } });
  return { ...f, description };
}

export interface FlavorWrite {
  readonly set: string;
  readonly condition?: string;
  readonly names?: Record<string, string>;
  readonly values?: Record<string, unknown>;
}

/**
 * ONE conditional update of a live flavor's item, so that writes of different keys (extra specs,
 * access, description) never undo each other. A built-in flavor gets its item first (written
 * only if absent), and an item older than the maps extra specs and access gets them (only if
 * absent) before a write into them. Throws Nova's 404 for a flavor deleted meanwhile; a failed
 * `condition` is the caller's (a ConditionalCheckFailedException).
 */
export async function updateFlavorItem(table: Table, f: Flavor, w: FlavorWrite): Promise<void> {
  if (FLAVORS.some((x) => x.id === f.id)) {
    await table.db.send(new PutCommand({
      TableName: table.name, Item: { ...itemKey(f.id), ...FLAVORS.find((x) => x.id === f.id), extraSpecs: {}, access: {} },
      ConditionExpression: 'attribute_not_exists(pk)',
    })).catch((e: unknown) => { if (!isConditionFailure(e)) throw e; });
  }
  const names = { '#deleted': 'deleted', ...w.names };
  for (let attempt = 1; ; attempt++) {
    try {
      await table.db.send(new UpdateCommand({
        TableName: table.name, Key: itemKey(f.id), UpdateExpression: w.set,
        ConditionExpression: ['attribute_exists(pk)', 'attribute_not_exists(#deleted)', ...(w.condition ? [w.condition] : [])].join(' AND '),
        ExpressionAttributeNames: names, ...(w.values && Object.keys(w.values).length > 0 ? { ExpressionAttributeValues: w.values } : {}),
      }));
      break;
    } catch (err) {
      if (isConditionFailure(err) && !(await allFlavors(table)).some((x) => x.id === f.id && !x.deleted)) {
        throw new NotFound(`Flavor ${f.id} could not be found.`);
      }
      // A path under a map the item does not have yet: give it the maps, then write again.
      if (attempt > 1 || !(err instanceof Error) || err.name !== 'ValidationException') throw err;
      await table.db.send(new UpdateCommand({
        TableName: table.name, Key: itemKey(f.id), ConditionExpression: 'attribute_exists(pk)',
        UpdateExpression: 'SET #specs = if_not_exists(#specs, :empty), #access = if_not_exists(#access, :empty)',
        ExpressionAttributeNames: { '#specs': 'extraSpecs', '#access': 'access' }, ExpressionAttributeValues: { ':empty': {} },
      }));
    }
  }
  cache.delete(table.name);
}

/** A positive integer query value (minDisk, minRam), or Nova's 400. */
export function flavorQueryNumber(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new BadRequest(`Invalid ${name} filter [${value}]`);
  return Number(value);
}

