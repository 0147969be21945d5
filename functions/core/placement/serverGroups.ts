import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { BadRequest, Forbidden, NotFound } from '../shared/errors.js';
import { isConditionFailure, type Table } from '../shared/table.js';
import { projectLimits } from './quotas/limits.js';

// Nova's server groups (nova/objects/instance_group.py, api/openstack/compute/server_groups.py):
// one item each, with its members, all under one partition (SERVERGROUPS: groups are few, and a
// list reads them together, as flavors and hosts are read). The policy is enforced where servers are placed, on the host
// items (allocations.ts): anti-affinity as a per-host member count in the allocation's own
// conditional write, affinity by the host the group is pinned to by its first member (one
// conditional write on this item). The project's count of groups (quota server_groups) is its
// own item, charged and given back by conditional writes naming the group, so exactly once.

export const POLICIES = ['affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity'] as const;
export type GroupPolicy = (typeof POLICIES)[number];

export interface ServerGroup {
  readonly id: string;
  readonly name: string;
  readonly policy: GroupPolicy;
  /** 2.64: `max_server_per_host`, anti-affinity only. */
  readonly rules: { readonly max_server_per_host?: number };
  readonly projectId: string;
  readonly userId: string;
  /** Member server ids (a map: added and removed by conditional writes). */
  readonly members: Readonly<Record<string, true>>;
  /** Affinity: the host its first member was placed on. */
  readonly host?: string;
  readonly created: string;
}

const groupKey = (id: string) => ({ pk: 'SERVERGROUPS', sk: `GROUP#${id}` });
const countKey = (projectId: string) => ({ pk: `SERVERGROUPCOUNT#${projectId}`, sk: 'META' });
const strip = ({ pk: _p, sk: _s, ...g }: Record<string, unknown>) => g as unknown as ServerGroup;

/** How many of the group's members one host may hold; undefined: no limit (affinity, the soft policies). */
export function maxPerHost(g: Pick<ServerGroup, 'policy' | 'rules'>): number | undefined {
  return g.policy === 'anti-affinity' ? g.rules.max_server_per_host ?? 1 : undefined;
}

export async function readGroup(table: Table, id: string): Promise<ServerGroup | undefined> {
  const out = await table.db.send(new GetCommand({ TableName: table.name, Key: groupKey(id), ConsistentRead: true }));
  return out.Item ? strip(out.Item) : undefined;
}

/** A group the caller may see (its project's; an administrator any), or Nova's 404. */
export async function visibleGroup(table: Table, caller: { projectId: string; isAdmin: boolean }, id: string): Promise<ServerGroup> {
  const g = await readGroup(table, id);
  if (!g || (!caller.isAdmin && g.projectId !== caller.projectId)) throw new NotFound(`Instance group ${id} could not be found.`);
  return g;
}

/** Charge one group to the project's server_groups quota: one write, naming the group. */
async function chargeGroup(table: Table, projectId: string, id: string): Promise<void> {
  const limit = (await projectLimits(table, projectId)).server_groups;
  const names = { '#n': 'count', '#g': `G_${id}` };
  try {
    await table.db.send(new UpdateCommand({
      TableName: table.name, Key: countKey(projectId),
      ConditionExpression: limit < 0 ? 'attribute_not_exists(#g)' : 'attribute_not_exists(#g) AND (attribute_not_exists(#n) OR #n < :limit)',
      UpdateExpression: 'SET #g = :true ADD #n :one', ExpressionAttributeNames: names,
      ExpressionAttributeValues: { ':true': true, ':one': 1, ...(limit < 0 ? {} : { ':limit': limit }) },
    }));
  } catch (err) {
    if (isConditionFailure(err)) throw new Forbidden('Quota exceeded, too many server groups.');
    throw err;
  }
}

async function giveBackGroup(table: Table, projectId: string, id: string): Promise<void> {
  await table.db.send(new UpdateCommand({
    TableName: table.name, Key: countKey(projectId), ConditionExpression: 'attribute_exists(#g)',
    UpdateExpression: 'REMOVE #g ADD #n :minus', ExpressionAttributeNames: { '#n': 'count', '#g': `G_${id}` },
    ExpressionAttributeValues: { ':minus': -1 },
  })).catch((e: unknown) => { if (!isConditionFailure(e)) throw e; });
}

export async function groupsInUse(table: Table, projectId: string): Promise<number> {
  const out = await table.db.send(new GetCommand({ TableName: table.name, Key: countKey(projectId), ConsistentRead: true }));
  return Number(out.Item?.count ?? 0);
}

export async function createGroup(
  table: Table, g: Omit<ServerGroup, 'members' | 'created'>, now = Date.now(),
): Promise<ServerGroup> {
  await chargeGroup(table, g.projectId, g.id);
  const created = new Date(now).toISOString();
  const group: ServerGroup = { ...g, members: {}, created };
  try {
    await table.db.send(new PutCommand({
      TableName: table.name,
      Item: { ...groupKey(g.id), ...group },
      ConditionExpression: 'attribute_not_exists(pk)',
    }));
  } catch (err) {
    await giveBackGroup(table, g.projectId, g.id);
    throw err;
  }
  return group;
}

/** The project's groups (or, for an administrator asking all_projects, everyone's), oldest first. */
export async function listGroups(table: Table, projectId: string | 'all'): Promise<ServerGroup[]> {
  const groups: ServerGroup[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await table.db.send(new QueryCommand({
      TableName: table.name, KeyConditionExpression: 'pk = :pk AND begins_with(sk, :group)',
      ...(projectId === 'all'
        ? { ExpressionAttributeValues: { ':pk': 'SERVERGROUPS', ':group': 'GROUP#' } }
        : {
          FilterExpression: '#proj = :proj', ExpressionAttributeNames: { '#proj': 'projectId' },
          ExpressionAttributeValues: { ':pk': 'SERVERGROUPS', ':group': 'GROUP#', ':proj': projectId },
        }),
      ConsistentRead: true, ExclusiveStartKey: start,
    }));
    groups.push(...(out.Items ?? []).map(strip));
    start = out.LastEvaluatedKey;
  } while (start);
  return groups.sort((a, b) => a.created.localeCompare(b.created) || a.id.localeCompare(b.id));
}

export async function deleteGroup(table: Table, group: ServerGroup): Promise<void> {
  try {
    await table.db.send(new DeleteCommand({ TableName: table.name, Key: groupKey(group.id), ConditionExpression: 'attribute_exists(pk)' }));
  } catch (err) {
    if (isConditionFailure(err)) throw new NotFound(`Instance group ${group.id} could not be found.`);
    throw err;
  }
  await giveBackGroup(table, group.projectId, group.id);
}

/**
 * A server joins its group at admission, before it is placed (Nova adds the member with the
 * build request): one write, refused when the group is gone or full (quota server_group_members).
 */
export async function addMember(table: Table, groupId: string, serverId: string, limit: number): Promise<void> {
  try {
    await table.db.send(new UpdateCommand({
      TableName: table.name, Key: groupKey(groupId),
      ConditionExpression: limit < 0 ? 'attribute_exists(pk)' : 'attribute_exists(pk) AND (attribute_exists(#m.#sid) OR size(#m) < :limit)',
      UpdateExpression: 'SET #m.#sid = :true', ExpressionAttributeNames: { '#m': 'members', '#sid': serverId },
      ExpressionAttributeValues: { ':true': true, ...(limit < 0 ? {} : { ':limit': limit }) },
    }));
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    if (!await readGroup(table, groupId)) throw new BadRequest(`Invalid input for field/attribute group. Value: ${groupId}. Group ${groupId} could not be found.`);
    throw new Forbidden('Quota exceeded, too many servers in group');
  }
}

/** A deleted server leaves its group (a no-op once gone, or when the group is). */
export async function removeMember(table: Table, groupId: string, serverId: string): Promise<void> {
  await table.db.send(new UpdateCommand({
    TableName: table.name, Key: groupKey(groupId), ConditionExpression: 'attribute_exists(#m.#sid)',
    UpdateExpression: 'REMOVE #m.#sid', ExpressionAttributeNames: { '#m': 'members', '#sid': serverId },
  })).catch((e: unknown) => { if (!isConditionFailure(e)) throw e; });
}

/**
 * Affinity: the group's host, set by its first member's placement if none is set (one
 * conditional write). Returns the host the group is pinned to, which may be another's choice.
 */
export async function pinGroup(table: Table, groupId: string, host: string): Promise<string | undefined> {
  try {
    await table.db.send(new UpdateCommand({
      TableName: table.name, Key: groupKey(groupId),
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#host)',
      UpdateExpression: 'SET #host = :host', ExpressionAttributeNames: { '#host': 'host' }, ExpressionAttributeValues: { ':host': host },
    }));
    return host;
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    return (await readGroup(table, groupId))?.host;
  }
}
