import { BatchGetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { cancellationCodes } from '../../shared/fencedPut.js';
import { spreadOf } from '../../shared/projectSpread.js';
import { shardOf, type Table } from '../../shared/table.js';
import { chargeDeletion, chargeKey, usageKey, type Counted } from './charges.js';
import type { Limits } from './limits.js';

// The usage of a project spread over K usage slices (projectSpread.ts, usageSlices > 1): an
// escrow of room, so that its creates and deletes do not all write the one counters item.
//
// The counters item C (`SERVERUSAGE#<project>`) stays the one truth checked against the limits:
// it counts every charge plus all the room the slices hold, and only grows by an ADD conditioned
// on staying within the limit read just before (`<= limit - asked`, as an ordinary project's
// charge). So C never passes the limit a create read, whatever the slices do, and the charges
// never pass C. A slice (`SERVERUSAGE<s>#<project>`) holds room taken from C: a create takes its
// servers' room from one slice (its condition: the room is there) in the same transaction as its
// charge items, and a give-back returns the room to the slice the charge names, leaving C as it
// is. A busy project's creates and deletes then write its slices and its charges' partitions, and
// C only when a slice refills, a block of servers' room at a time.
//
// What the room is for, and the usage shown: C minus the room the slices hold. A lowered limit
// drains the slices back into C (drainSlices), so their room admits nothing the new limit would
// not: but a create that read the old limit and refills a slice after the drain leaves that
// slice up to one block of room judged by the old limit, which later creates may take (the
// window Nova's own check-then-write has, held open a block longer).

export const ROOM = { instances: 'roomInstances', cores: 'roomCores', ram: 'roomRam' } as const;
type Resource = keyof typeof ROOM;
const RESOURCES = Object.keys(ROOM) as Resource[];
export type Amounts = Record<Resource, number>;
const NAMES = Object.fromEntries(RESOURCES.map((r) => [`#${r}`, ROOM[r]]));

/**
 * How many servers' room a refill takes from C at least: C's key then takes one refill (2 write
 * units) per this many creates: 10,000 creates a second make 250 refills, 500 units (x2 under a
 * key's 1,000; 20 would be 1,000, no headroom). What it costs: up to K blocks of room held in the
 * slices, found again by gathering when C runs out (a project whose limit is under a block
 * refills each create with exactly its ask, and C takes its creates as an unspread project's).
 */
export const REFILL_SERVERS = 40;

/** Slice s's item: its number before the `#`, as a project id may hold `#` (`SERVERUSAGE#<p>#<s>` would be project `<p>#<s>`'s counters). */
export const sliceKey = (projectId: string, slice: number) => ({ pk: `SERVERUSAGE${slice}#${projectId}`, sk: 'META' });
export const slicesOf = (table: Table, projectId: string) => spreadOf(table, projectId).usageSlices;
/** The slice a create takes its room from: its first server's, so that a retry comes back to it. */
export const sliceFor = (table: Table, projectId: string, firstServerId: string) => shardOf(firstServerId, slicesOf(table, projectId));

const times = (unit: Amounts, n: number): Amounts => ({ instances: unit.instances * n, cores: unit.cores * n, ram: unit.ram * n });
const plus = (a: Amounts, b: Amounts): Amounts => ({ instances: a.instances + b.instances, cores: a.cores + b.cores, ram: a.ram + b.ram });
const NONE: Amounts = { instances: 0, cores: 0, ram: 0 };
const asRoom = (item: Record<string, unknown> | undefined): Amounts => ({
  instances: Number(item?.[ROOM.instances] ?? 0), cores: Number(item?.[ROOM.cores] ?? 0), ram: Number(item?.[ROOM.ram] ?? 0),
});
const asCounters = (item: Record<string, unknown> | undefined): Amounts => ({
  instances: Number(item?.instances ?? 0), cores: Number(item?.cores ?? 0), ram: Number(item?.ram ?? 0),
});

/** The counters and every slice's room: one BatchGetItem (K + 1 keys, K <= MAX_SPREAD). */
export async function readSlices(table: Table, projectId: string): Promise<{ counters: Amounts; rooms: Amounts[] }> {
  const k = slicesOf(table, projectId);
  const found = new Map<string, Record<string, unknown>>();
  let pending: Record<string, unknown>[] | undefined = [usageKey(projectId), ...Array.from({ length: k }, (_, s) => sliceKey(projectId, s))];
  while (pending && pending.length > 0) {
    const out = await table.db.send(new BatchGetCommand({ RequestItems: { [table.name]: { Keys: pending, ConsistentRead: true } } }));
    for (const item of out.Responses?.[table.name] ?? []) found.set(String(item.pk), item);
    pending = out.UnprocessedKeys?.[table.name]?.Keys as Record<string, unknown>[] | undefined;
  }
  return {
    counters: asCounters(found.get(usageKey(projectId).pk)),
    rooms: Array.from({ length: k }, (_, s) => asRoom(found.get(sliceKey(projectId, s).pk))),
  };
}

/** A spread project's usage: C minus the room its slices hold, which no server uses. */
export async function readSlicedUsage(table: Table, projectId: string): Promise<Amounts> {
  const { counters, rooms } = await readSlices(table, projectId);
  const held = rooms.reduce(plus, NONE);
  return { instances: counters.instances - held.instances, cores: counters.cores - held.cores, ram: counters.ram - held.ram };
}

export type SliceOutcome = 'done' | 'charged' | 'short' | 'conflict';

/** A cancelled transaction: a charge put's absence failed (charged already), the room's condition, or a conflict. */
function cancelledOn(err: unknown, chargesFrom: number): SliceOutcome {
  if (err instanceof Error && err.name === 'TransactionConflictException') return 'conflict';
  const codes = cancellationCodes(err);
  if (!codes) throw err;
  if (codes.slice(chargesFrom).includes('ConditionalCheckFailed')) return 'charged';
  if (codes.includes('ConditionalCheckFailed')) return 'short';
  if (codes.includes('TransactionConflict')) return 'conflict';
  throw err;
}

const chargePuts = (table: Table, projectId: string, serverIds: readonly string[], unit: Amounts, slice: number, now: number) => serverIds.map((id) => ({
  Put: {
    TableName: table.name, Item: { ...chargeKey(projectId, id, true), cores: unit.cores, ram: unit.ram, at: now, slice },
    ConditionExpression: 'attribute_not_exists(pk)',
  },
}));

/** The slice's room down by `ask`, conditioned on its being there for every limited resource. */
function takeRoom(table: Table, projectId: string, slice: number, ask: Amounts, limits: Limits) {
  const limited = RESOURCES.filter((r) => limits[r] >= 0);
  return {
    Update: {
      TableName: table.name, Key: sliceKey(projectId, slice),
      ...(limited.length > 0 ? { ConditionExpression: limited.map((r) => `#${r} >= :ask_${r}`).join(' AND ') } : {}),
      UpdateExpression: `ADD ${RESOURCES.map((r) => `#${r} :minus_${r}`).join(', ')}`,
      ExpressionAttributeNames: Object.fromEntries(RESOURCES.map((r) => [`#${r}`, ROOM[r]])),
      ExpressionAttributeValues: {
        ...Object.fromEntries(RESOURCES.map((r) => [`:minus_${r}`, -ask[r]])),
        ...Object.fromEntries(limited.map((r) => [`:ask_${r}`, ask[r]])),
      },
    },
  };
}

/** (1) One transaction: the servers' room from slice `slice`, and their charge items. */
export async function chargeOnSlice(
  table: Table, projectId: string, serverIds: readonly string[], unit: Amounts, limits: Limits, slice: number, now: number,
): Promise<SliceOutcome> {
  try {
    await table.db.send(new TransactWriteCommand({
      TransactItems: [takeRoom(table, projectId, slice, times(unit, serverIds.length), limits), ...chargePuts(table, projectId, serverIds, unit, slice, now)],
    }));
    return 'done';
  } catch (err) {
    return cancelledOn(err, 1);
  }
}

/**
 * (2) One transaction: C up by `fromCounters` if it stays within the limits, the slice's room up
 * by what the servers do not take of it (or down by what C does not give them, conditioned on
 * its being there), and their charge items. 'short': C, or the slice, has not the room.
 */
export async function refillAndCharge(
  table: Table, projectId: string, serverIds: readonly string[], unit: Amounts, limits: Limits, slice: number, fromCounters: Amounts, now: number,
): Promise<SliceOutcome> {
  const ask = times(unit, serverIds.length);
  const limited = RESOURCES.filter((r) => limits[r] >= 0);
  const within = limited.map((r) => `#${r} <= :max_${r}`).join(' AND ');
  // C's first charge makes it (ADD on no item starts from 0): then only what it gives must fit.
  const fitsEmpty = limited.every((r) => limits[r] - fromCounters[r] >= 0);
  const condition = limited.length === 0 ? undefined : fitsEmpty ? `(attribute_not_exists(pk) OR (${within}))` : within;
  const taken = limited.filter((r) => fromCounters[r] < ask[r]);
  try {
    await table.db.send(new TransactWriteCommand({
      TransactItems: [
        {
          Update: {
            TableName: table.name, Key: usageKey(projectId),
            ...(condition ? { ConditionExpression: condition } : {}),
            UpdateExpression: `ADD ${RESOURCES.map((r) => `#${r} :add_${r}`).join(', ')}`,
            ExpressionAttributeNames: Object.fromEntries(RESOURCES.map((r) => [`#${r}`, r])),
            ExpressionAttributeValues: {
              ...Object.fromEntries(RESOURCES.map((r) => [`:add_${r}`, fromCounters[r]])),
              ...Object.fromEntries(limited.map((r) => [`:max_${r}`, limits[r] - fromCounters[r]])),
            },
          },
        },
        {
          Update: {
            TableName: table.name, Key: sliceKey(projectId, slice),
            ...(taken.length > 0 ? { ConditionExpression: taken.map((r) => `#${r} >= :need_${r}`).join(' AND ') } : {}),
            UpdateExpression: `ADD ${RESOURCES.map((r) => `#${r} :left_${r}`).join(', ')}`,
            ExpressionAttributeNames: NAMES,
            ExpressionAttributeValues: {
              ...Object.fromEntries(RESOURCES.map((r) => [`:left_${r}`, fromCounters[r] - ask[r]])),
              ...Object.fromEntries(taken.map((r) => [`:need_${r}`, ask[r] - fromCounters[r]])),
            },
          },
        },
        ...chargePuts(table, projectId, serverIds, unit, slice, now),
      ],
    }));
    return 'done';
  } catch (err) {
    return cancelledOn(err, 2);
  }
}

const matchesRoom = (r: Resource, i: number) => `#${r} = :was${i}_${r}`;

/** The condition that a slice's room is as read (a missing attribute read as 0). */
function asRead(room: Amounts, i: number): { condition: string; values: Record<string, number> } {
  const parts = RESOURCES.map((r) => (room[r] === 0 ? `(attribute_not_exists(#${r}) OR ${matchesRoom(r, i)})` : matchesRoom(r, i)));
  return { condition: parts.join(' AND '), values: Object.fromEntries(RESOURCES.map((r) => [`:was${i}_${r}`, room[r]])) };
}

/** A slice's whole room taken out of it (in a transaction that puts it elsewhere), conditioned on the room as read. */
function emptySlice(table: Table, projectId: string, slice: number, room: Amounts, i: number) {
  const read = asRead(room, i);
  return {
    Update: {
      TableName: table.name, Key: sliceKey(projectId, slice), ConditionExpression: read.condition,
      UpdateExpression: `ADD ${RESOURCES.map((r) => `#${r} :minus${i}_${r}`).join(', ')}`,
      ExpressionAttributeNames: NAMES,
      ExpressionAttributeValues: { ...read.values, ...Object.fromEntries(RESOURCES.map((r) => [`:minus${i}_${r}`, -room[r]])) },
    },
  };
}

/** A transaction of slices' room as read was cancelled (a room changed since) or lost a conflict: read again. */
const roomMoved = (err: unknown) => !!cancellationCodes(err) || (err instanceof Error && err.name === 'TransactionConflictException');

/**
 * (3) One transaction: all the room of `donors` (each conditioned on its room as read) moved into
 * slice `into`. False if a donor's room changed since it was read, or the move lost a conflict.
 */
export async function gatherRoom(table: Table, projectId: string, into: number, donors: readonly { slice: number; room: Amounts }[]): Promise<boolean> {
  const total = donors.reduce((sum, d) => plus(sum, d.room), NONE);
  try {
    await table.db.send(new TransactWriteCommand({
      TransactItems: [
        ...donors.map(({ slice, room }, i) => emptySlice(table, projectId, slice, room, i)),
        {
          Update: {
            TableName: table.name, Key: sliceKey(projectId, into),
            UpdateExpression: `ADD ${RESOURCES.map((r) => `#${r} :plus_${r}`).join(', ')}`,
            ExpressionAttributeNames: NAMES, ExpressionAttributeValues: Object.fromEntries(RESOURCES.map((r) => [`:plus_${r}`, total[r]])),
          },
        },
      ],
    }));
    return true;
  } catch (err) {
    if (roomMoved(err)) return false;
    throw err;
  }
}

/**
 * Charge `serverIds` (servers of `unit`) on the project's slices: from the slice of its first
 * server; when short, refilled from C (a block of REFILL_SERVERS servers' room, else exactly what
 * is asked); when C has not that, from one slice that holds it all, else from the room of every
 * slice gathered into this one with what C still has. 'short' only when C and the slices
 * together have not the room (as read).
 */
export async function chargeFromSlices(
  table: Table, projectId: string, serverIds: readonly string[], unit: Amounts, limits: Limits, now: number,
): Promise<SliceOutcome> {
  const slice = sliceFor(table, projectId, serverIds[0]!);
  const ask = times(unit, serverIds.length);
  let outcome = await chargeOnSlice(table, projectId, serverIds, unit, limits, slice, now);
  if (outcome !== 'short') return outcome;
  for (const servers of new Set([Math.max(REFILL_SERVERS, serverIds.length), serverIds.length])) {
    outcome = await refillAndCharge(table, projectId, serverIds, unit, limits, slice, times(unit, servers), now);
    if (outcome !== 'short') return outcome;
  }
  const { rooms } = await readSlices(table, projectId);
  const limited = RESOURCES.filter((r) => limits[r] >= 0);
  const donor = rooms.findIndex((room) => limited.every((r) => room[r] >= ask[r]));
  if (donor >= 0) return chargeOnSlice(table, projectId, serverIds, unit, limits, donor, now);
  const donors = rooms.map((room, s) => ({ slice: s, room })).filter(({ slice: s, room }) => s !== slice && limited.some((r) => room[r] > 0));
  if (donors.length > 0 && !await gatherRoom(table, projectId, slice, donors)) return 'conflict';
  const held = donors.reduce((sum, d) => plus(sum, d.room), rooms[slice]!);
  const fromCounters = Object.fromEntries(RESOURCES.map((r) => [r, Math.max(0, ask[r] - Math.max(0, held[r]))])) as Amounts;
  return refillAndCharge(table, projectId, serverIds, unit, limits, slice, fromCounters, now);
}

/** A spread charge's give-back: its item deleted, conditioned on it as read, and its room back to its slice. */
export async function giveBackToSlice(table: Table, projectId: string, serverId: string, charge: Counted & { pk?: string; slice: number }) {
  await table.db.send(new TransactWriteCommand({
    TransactItems: [
      chargeDeletion(table, projectId, serverId, charge),
      {
        Update: {
          TableName: table.name, Key: sliceKey(projectId, charge.slice),
          UpdateExpression: `ADD ${RESOURCES.map((r) => `#${r} :back_${r}`).join(', ')}`,
          ExpressionAttributeNames: NAMES,
          ExpressionAttributeValues: { ':back_instances': 1, ':back_cores': charge.cores, ':back_ram': charge.ram },
        },
      },
    ],
  }));
}

/**
 * After a project's limits were lowered (its own, its class's, or its own deleted): every slice's
 * room back into C, so that only C, judged against the new limit, admits from here on. Per slice
 * one transaction: C down by the room, the slice's room down by it, conditioned on the room as
 * read (read again and tried again if a create or a give-back changed it in between).
 */
export async function drainSlices(table: Table, projectId: string): Promise<void> {
  const k = slicesOf(table, projectId);
  if (k <= 1) return;
  let { rooms } = await readSlices(table, projectId);
  for (let attempt = 1; attempt <= 16; attempt++) {
    const full = rooms.map((room, s) => ({ slice: s, room })).filter(({ room }) => RESOURCES.some((r) => room[r] !== 0));
    if (full.length === 0) return;
    await Promise.all(full.map(({ slice, room }) => drainOne(table, projectId, slice, room)));
    ({ rooms } = await readSlices(table, projectId));
  }
  throw new Error(`The usage slices of project ${projectId} kept changing while drained: try again.`);
}

async function drainOne(table: Table, projectId: string, slice: number, room: Amounts): Promise<boolean> {
  try {
    await table.db.send(new TransactWriteCommand({
      TransactItems: [
        emptySlice(table, projectId, slice, room, 0),
        {
          Update: {
            TableName: table.name, Key: usageKey(projectId),
            UpdateExpression: `ADD ${RESOURCES.map((r) => `#${r} :minus_${r}`).join(', ')}`,
            ExpressionAttributeNames: Object.fromEntries(RESOURCES.map((r) => [`#${r}`, r])),
            ExpressionAttributeValues: Object.fromEntries(RESOURCES.map((r) => [`:minus_${r}`, -room[r]])),
          },
        },
      ],
    }));
    return true;
  } catch (err) {
    if (roomMoved(err)) return false;
    throw err;
  }
}
