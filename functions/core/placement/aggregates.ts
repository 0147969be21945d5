import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { BadRequest, Conflict, NotFound } from '../shared/errors.js';
import { isConditionFailure, type Table } from '../shared/table.js';
import { hostKey, readHosts } from './hosts.js';

// Nova's host aggregates (nova/compute/api.py AggregateAPI): named sets of hosts with metadata,
// `availability_zone` among it making the zone of every host in the set. One item each under the
// AGGREGATES partition (few, read together); the name is held by an item of its own, taken with
// attribute_not_exists, so two aggregates never share one; the integer id from a counter item,
// one ADD each. A host's zone is written on the host's item (what the scheduler and the zone
// APIs read), conditioned on the zone it had, when it joins or leaves an aggregate with a zone.

export interface Aggregate {
  readonly id: number;
  readonly uuid: string;
  readonly name: string;
  readonly hosts: Readonly<Record<string, true>>;
  readonly metadata: Readonly<Record<string, string>>;
  readonly created: string;
  readonly updated: string | null;
  /** Moved on by every change: the compare-and-set of a rename, a zone or metadata change. */
  readonly rev: number;
}

const PK = 'AGGREGATES';
const aggregateKey = (id: number) => ({ pk: PK, sk: `AGG#${String(id).padStart(10, '0')}` });
const nameKey = (name: string) => ({ pk: PK, sk: `NAME#${name}` });
const COUNTER = { pk: PK, sk: 'COUNTER' };
const strip = ({ pk: _p, sk: _s, ...a }: Record<string, unknown>) => a as unknown as Aggregate;

export const zoneOf = (a: Pick<Aggregate, 'metadata'>): string | undefined => a.metadata.availability_zone;

export async function listAggregates(table: Table): Promise<Aggregate[]> {
  const out: Aggregate[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await table.db.send(new QueryCommand({
      TableName: table.name, KeyConditionExpression: 'pk = :pk AND begins_with(sk, :agg)',
      ExpressionAttributeValues: { ':pk': PK, ':agg': 'AGG#' }, ConsistentRead: true, ExclusiveStartKey: start,
    }));
    out.push(...(page.Items ?? []).map(strip));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

export async function readAggregate(table: Table, id: number): Promise<Aggregate> {
  const out = Number.isSafeInteger(id)
    ? await table.db.send(new GetCommand({ TableName: table.name, Key: aggregateKey(id), ConsistentRead: true }))
    : undefined;
  if (!out?.Item) throw new NotFound(`Aggregate ${id} could not be found.`);
  return strip(out.Item);
}

async function claimName(table: Table, name: string, id: number): Promise<void> {
  try {
    await table.db.send(new PutCommand({ TableName: table.name, Item: { ...nameKey(name), id }, ConditionExpression: 'attribute_not_exists(pk)' }));
  } catch (err) {
    if (isConditionFailure(err)) throw new Conflict(`Aggregate ${name} already exists.`);
    throw err;
  }
}

const releaseName = (table: Table, name: string, id: number) => table.db.send(new DeleteCommand({
  TableName: table.name, Key: nameKey(name), ConditionExpression: 'id = :id', ExpressionAttributeValues: { ':id': id },
})).catch((e: unknown) => { if (!isConditionFailure(e)) throw e; });

/** A new aggregate: its id from the counter, its name taken first (Nova's 409 when another has it). */
export async function createAggregate(table: Table, name: string, zone: string | undefined, uuid: string, now = Date.now()): Promise<Aggregate> {
  const counter = await table.db.send(new UpdateCommand({
    TableName: table.name, Key: COUNTER, UpdateExpression: 'ADD #n :one', ExpressionAttributeNames: { '#n': 'next' },
    ExpressionAttributeValues: { ':one': 1 }, ReturnValues: 'UPDATED_NEW',
  }));
  const id = Number(counter.Attributes!.next);
  await claimName(table, name, id);
  const aggregate: Aggregate = {
    id, uuid, name, hosts: {}, metadata: zone ? { availability_zone: zone } : {}, created: new Date(now).toISOString(), updated: null, rev: 0,
  };
  await table.db.send(new PutCommand({ TableName: table.name, Item: { ...aggregateKey(id), ...aggregate }, ConditionExpression: 'attribute_not_exists(pk)' }));
  return aggregate;
}

/** Rename (the new name taken first, the old one given back after) and/or set its zone: refused while it has hosts, as a zone change would move them. */
export async function updateAggregate(
  table: Table, aggregate: Aggregate, change: { name?: string; zone?: string }, now = Date.now(),
): Promise<Aggregate> {
  if (change.zone !== undefined && change.zone !== zoneOf(aggregate) && Object.keys(aggregate.hosts).length > 0) {
    throw new BadRequest(`Cannot update aggregate ${aggregate.id}. Reason: hosts in it would change availability zone.`);
  }
  const renamed = change.name !== undefined && change.name !== aggregate.name;
  if (renamed) await claimName(table, change.name!, aggregate.id);
  const metadata = change.zone !== undefined ? { ...aggregate.metadata, availability_zone: change.zone } : aggregate.metadata;
  try {
    const out = await table.db.send(new UpdateCommand({
      TableName: table.name, Key: aggregateKey(aggregate.id),
      ConditionExpression: '#rev = :rev', UpdateExpression: 'SET #name = :name, #md = :md, #updated = :now ADD #rev :one',
      ExpressionAttributeNames: { '#name': 'name', '#md': 'metadata', '#updated': 'updated', '#rev': 'rev' },
      ExpressionAttributeValues: {
        ':rev': aggregate.rev, ':one': 1, ':name': change.name ?? aggregate.name, ':md': metadata, ':now': new Date(now).toISOString(),
      },
      ReturnValues: 'ALL_NEW',
    }));
    if (renamed) await releaseName(table, aggregate.name, aggregate.id);
    return strip(out.Attributes!);
  } catch (err) {
    if (renamed) await releaseName(table, change.name!, aggregate.id);
    if (isConditionFailure(err)) throw new Conflict(`Aggregate ${aggregate.id} was changed meanwhile; try again.`);
    throw err;
  }
}

/** Metadata: keys set, a null value removes one; `availability_zone` only while it has no hosts. */
export async function setAggregateMetadata(table: Table, aggregate: Aggregate, values: Record<string, string | null>, now = Date.now()): Promise<Aggregate> {
  const metadata: Record<string, string> = { ...aggregate.metadata };
  for (const [k, v] of Object.entries(values)) {
    if (v === null) delete metadata[k];
    else metadata[k] = v;
  }
  if (metadata.availability_zone !== aggregate.metadata.availability_zone && Object.keys(aggregate.hosts).length > 0) {
    throw new BadRequest(`Cannot update aggregate ${aggregate.id}. Reason: hosts in it would change availability zone.`);
  }
  try {
    const out = await table.db.send(new UpdateCommand({
      TableName: table.name, Key: aggregateKey(aggregate.id), ConditionExpression: '#rev = :rev',
      UpdateExpression: 'SET #md = :md, #updated = :now ADD #rev :one',
      ExpressionAttributeNames: { '#md': 'metadata', '#updated': 'updated', '#rev': 'rev' },
      ExpressionAttributeValues: { ':rev': aggregate.rev, ':one': 1, ':md': metadata, ':now': new Date(now).toISOString() }, ReturnValues: 'ALL_NEW',
    }));
    return strip(out.Attributes!);
  } catch (err) {
    if (isConditionFailure(err)) throw new Conflict(`Aggregate ${aggregate.id} was changed meanwhile; try again.`);
    throw err;
  }
}

export async function deleteAggregate(table: Table, aggregate: Aggregate): Promise<void> {
  try {
    await table.db.send(new DeleteCommand({
      TableName: table.name, Key: aggregateKey(aggregate.id), ConditionExpression: 'size(#hosts) = :zero',
      ExpressionAttributeNames: { '#hosts': 'hosts' }, ExpressionAttributeValues: { ':zero': 0 },
    }));
  } catch (err) {
    if (isConditionFailure(err)) throw new BadRequest(`Cannot remove aggregate ${aggregate.id}. Reason: Host aggregate is not empty.`);
    throw err;
  }
  await releaseName(table, aggregate.name, aggregate.id);
}

/** Move a host's zone from `from` to `to`: one write, conditioned on the zone it has. */
async function moveZone(table: Table, host: string, from: string, to: string): Promise<void> {
  if (from === to) return;
  await table.db.send(new UpdateCommand({
    TableName: table.name, Key: hostKey(host), ConditionExpression: '#zone = :from',
    UpdateExpression: 'SET #zone = :to', ExpressionAttributeNames: { '#zone': 'zone' }, ExpressionAttributeValues: { ':from': from, ':to': to },
  })).catch((e: unknown) => {
    if (isConditionFailure(e)) throw new Conflict(`Host ${host}'s availability zone changed meanwhile; try again.`);
    throw e;
  });
}

/**
 * Add a host: refused if it is in it already (409) or if another aggregate of it gives it another
 * zone (400, as Nova). The host's zone is moved first, then the membership written; a membership
 * refused moves it back.
 */
export async function addHost(table: Table, aggregate: Aggregate, hostName: string, now = Date.now()): Promise<Aggregate> {
  const host = (await readHosts(table)).find((h) => h.name === hostName);
  if (!host) throw new NotFound(`Compute host ${hostName} could not be found.`);
  const zone = zoneOf(aggregate);
  const others = (await listAggregates(table)).filter((a) => a.id !== aggregate.id && a.hosts[hostName] && zoneOf(a));
  if (zone && others.some((a) => zoneOf(a) !== zone)) {
    throw new BadRequest(`Cannot add host to aggregate ${aggregate.id}. Reason: One or more hosts already in availability zone(s) ${others.map(zoneOf).join(', ')}.`);
  }
  // Moved by this call only if it had another zone: a refused membership moves it back.
  const moved = zone !== undefined && host.zone !== zone;
  if (moved) await moveZone(table, hostName, host.zone, zone);
  try {
    const out = await table.db.send(new UpdateCommand({
      TableName: table.name, Key: aggregateKey(aggregate.id), ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#hosts.#h)',
      UpdateExpression: 'SET #hosts.#h = :true, #updated = :now ADD #rev :one',
      ExpressionAttributeNames: { '#hosts': 'hosts', '#h': hostName, '#updated': 'updated', '#rev': 'rev' },
      ExpressionAttributeValues: { ':true': true, ':one': 1, ':now': new Date(now).toISOString() }, ReturnValues: 'ALL_NEW',
    }));
    return strip(out.Attributes!);
  } catch (err) {
    if (moved) await moveZone(table, hostName, zone, host.zone).catch(() => undefined);
    if (isConditionFailure(err)) throw new Conflict(`Aggregate ${aggregate.id} already has host ${hostName}.`);
    throw err;
  }
}

/** Remove a host: 404 if it is not in it; the host goes back to its configured zone unless another aggregate still gives it this one. */
export async function removeHost(table: Table, aggregate: Aggregate, hostName: string, now = Date.now()): Promise<Aggregate> {
  let out;
  try {
    out = await table.db.send(new UpdateCommand({
      TableName: table.name, Key: aggregateKey(aggregate.id), ConditionExpression: 'attribute_exists(#hosts.#h)',
      UpdateExpression: 'REMOVE #hosts.#h SET #updated = :now ADD #rev :one',
      ExpressionAttributeNames: { '#hosts': 'hosts', '#h': hostName, '#updated': 'updated', '#rev': 'rev' },
      ExpressionAttributeValues: { ':one': 1, ':now': new Date(now).toISOString() }, ReturnValues: 'ALL_NEW',
    }));
  } catch (err) {
    if (isConditionFailure(err)) throw new NotFound(`Cannot remove host ${hostName} in aggregate ${aggregate.id}`);
    throw err;
  }
  const zone = zoneOf(aggregate);
  if (zone) {
    const host = (await readHosts(table)).find((h) => h.name === hostName);
    const stillZoned = (await listAggregates(table)).some((a) => a.id !== aggregate.id && a.hosts[hostName] && zoneOf(a) === zone);
    if (host && !stillZoned) await moveZone(table, hostName, host.zone, host.configuredZone ?? host.zone);
  }
  return strip(out.Attributes!);
}
