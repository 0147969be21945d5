import { DeleteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { Conflict } from '../shared/errors.js';
import { derivedUuid } from '../shared/ids.js';
import { INDEX_BY_PROJECT, isConditionFailure, itemFromConditionFailure, usedPlaceholders, type Table } from '../shared/table.js';
import { listingKeys } from '../shared/projectListing.js';
import { queryIndexedItems } from '../shared/indexedItems.js';
import {
  networkKeys, nowIso, RULE_PARTITION, ruleNotFound, SECURITY_GROUP_PARTITION, securityGroupNotFound, type Asker, type Port,
  type SecurityGroup, type SecurityGroupRule,
} from './model.js';
import { fieldAssignments, getItem, queryPartition, withoutKeys } from './store.js';

// Security groups and their rules. Every project has a group named `default`, made the first time
// the project needs one (listing its groups, making a port) with Neutron's default rules: ingress
// from members of the same group and egress anywhere, for IPv4 and IPv6. Its id and its rules' ids
// come from the project's id, so two requests making it at once make one group, once.

export const DEFAULT_GROUP = 'default';

export const defaultGroupId = (projectId: string) => derivedUuid('security-group', DEFAULT_GROUP, projectId);

const ensured = new Set<string>();

/** The project's default group, made if it is not there yet (each item put only if absent). */
export async function ensureDefaultGroup(table: Table, projectId: string, now = Date.now()): Promise<string> {
  const id = defaultGroupId(projectId);
  const cacheKey = `${table.name}\0${projectId}`;
  if (ensured.has(cacheKey)) return id;
  const at = nowIso(now);
  const group: SecurityGroup = {
    id, name: DEFAULT_GROUP, description: 'Default security group', projectId, stateful: true, createdAt: at, updatedAt: at, revision: 1,
  };
  const rules: SecurityGroupRule[] = (['IPv4', 'IPv6'] as const).flatMap((ethertype) => [
    { direction: 'ingress' as const, ethertype, remoteGroupId: id },
    { direction: 'egress' as const, ethertype, remoteGroupId: null },
  ]).map((r) => {
    const shape = { securityGroupId: id, ...r, protocol: null, portRangeMin: null, portRangeMax: null, remoteIpPrefix: null };
    return { id: ruleId(shape), projectId, ...shape, description: '', createdAt: at, updatedAt: at, revision: 1, belongsToDefault: true };
  });
  const put = async (key: { pk: string; sk: string }, item: object) => {
    try {
      await table.db.send(new PutCommand({ TableName: table.name, Item: { ...key, ...item }, ConditionExpression: 'attribute_not_exists(pk)' }));
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  };
  // The rules first: a group seen is a group with its rules.
  for (const r of rules) await put(networkKeys.rule(r.id), r);
  await put(networkKeys.securityGroup(id), group);
  ensured.add(cacheKey);
  return id;
}

export const canSeeGroup = (g: SecurityGroup, asker: Asker) => asker.isAdmin || g.projectId === asker.projectId;

export async function allGroups(table: Table): Promise<SecurityGroup[]> {
  return (await queryPartition<Record<string, unknown>>(table, SECURITY_GROUP_PARTITION, 'SG#')).map((i) => withoutKeys<SecurityGroup>(i));
}

export async function allRules(table: Table): Promise<SecurityGroupRule[]> {
  return (await queryPartition<Record<string, unknown>>(table, RULE_PARTITION, 'RULE#')).map((i) => withoutKeys<SecurityGroupRule>(i));
}

export async function visibleGroup(table: Table, asker: Asker, id: string): Promise<SecurityGroup> {
  const item = await getItem<Record<string, unknown>>(table, networkKeys.securityGroup(id));
  const group = item && withoutKeys<SecurityGroup>(item);
  if (!group || !canSeeGroup(group, asker)) throw securityGroupNotFound(id);
  return group;
}

export async function rulesOf(table: Table, groupId: string): Promise<SecurityGroupRule[]> {
  return (await allRules(table)).filter((r) => r.securityGroupId === groupId);
}

/** The ids of the groups a port of `projectId` names, each checked to be one of the project's (404 otherwise). */
export async function groupsForPort(table: Table, projectId: string, requested: readonly string[] | undefined, now: number): Promise<string[]> {
  if (requested === undefined) return [await ensureDefaultGroup(table, projectId, now)];
  const asker = { projectId, isAdmin: false };
  for (const id of requested) await visibleGroup(table, asker, id);
  return [...new Set(requested)];
}

/** A group of the project by name (Nova names groups), the default one made if need be. */
export async function groupByName(table: Table, projectId: string, name: string): Promise<SecurityGroup | undefined> {
  if (name === DEFAULT_GROUP) await ensureDefaultGroup(table, projectId);
  return (await allGroups(table)).find((g) => g.projectId === projectId && g.name === name);
}

export async function createGroup(
  table: Table, requestId: string, fields: Pick<SecurityGroup, 'name' | 'description' | 'projectId' | 'stateful'>, now: number,
): Promise<SecurityGroup> {
  const at = nowIso(now);
  const group: SecurityGroup = { id: derivedUuid('security-group', requestId), ...fields, createdAt: at, updatedAt: at, revision: 1 };
  // Neutron gives a new group the two egress rules (any address, IPv4 and IPv6).
  for (const ethertype of ['IPv4', 'IPv6'] as const) {
    const shape = {
      securityGroupId: group.id, direction: 'egress' as const, ethertype, protocol: null, portRangeMin: null, portRangeMax: null,
      remoteIpPrefix: null, remoteGroupId: null,
    };
    const rule: SecurityGroupRule = {
      id: ruleId(shape), projectId: fields.projectId, ...shape, description: '', createdAt: at, updatedAt: at, revision: 1, belongsToDefault: false,
    };
    await table.db.send(new PutCommand({
      TableName: table.name, Item: { ...networkKeys.rule(rule.id), ...rule }, ConditionExpression: 'attribute_not_exists(pk)',
    })).catch((err) => { if (!isConditionFailure(err)) throw err; });
  }
  try {
    await table.db.send(new PutCommand({
      TableName: table.name, Item: { ...networkKeys.securityGroup(group.id), ...group },
      ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    }));
  } catch (err) {
    // This request made it before it died: its retry reports that one.
    if (!isConditionFailure(err)) throw err;
    const made = itemFromConditionFailure<Record<string, unknown>>(err);
    if (made) return withoutKeys<SecurityGroup>(made);
  }
  return group;
}

export async function updateGroup(
  table: Table, asker: Asker, id: string, changes: Partial<Pick<SecurityGroup, 'name' | 'description' | 'stateful'>>, now: number,
): Promise<SecurityGroup> {
  const group = await visibleGroup(table, asker, id);
  if (group.name === DEFAULT_GROUP && changes.name !== undefined && changes.name !== DEFAULT_GROUP) {
    throw new Conflict('Insufficient rights for removing default security group.', { type: 'SecurityGroupCannotUpdateDefault' });
  }
  const names: Record<string, string> = { '#project': 'projectId', '#rev': 'revision', '#updated': 'updatedAt' };
  const values: Record<string, unknown> = { ':project': group.projectId, ':now': nowIso(now), ':one': 1 };
  const sets = ['#updated = :now', ...fieldAssignments(changes, names, values)];
  const condition = '#project = :project';
  const expression = `SET ${sets.join(', ')} ADD #rev :one`;
  try {
    const out = await table.db.send(new UpdateCommand({
      TableName: table.name, Key: networkKeys.securityGroup(id), ConditionExpression: condition, UpdateExpression: expression,
      ...usedPlaceholders([condition, expression], names, values), ReturnValues: 'ALL_NEW',
    }));
    return withoutKeys<SecurityGroup>(out.Attributes!);
  } catch (err) {
    if (isConditionFailure(err)) throw securityGroupNotFound(id);
    throw err;
  }
}

/** The project's ports, from its port index, every listing partition of it (for a group's in-use check). */
export async function projectPorts(table: Table, projectId: string): Promise<Port[]> {
  const byPartition = await Promise.all(listingKeys(table, 'PORTS', projectId).map(async (pk) => {
    const ports: Port[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await queryIndexedItems<Port>(table, {
        IndexName: INDEX_BY_PROJECT, KeyConditionExpression: 'gsi1pk = :pk',
        ExpressionAttributeValues: { ':pk': pk }, ExclusiveStartKey: start,
      });
      ports.push(...out.items);
      start = out.next;
    } while (start);
    return ports;
  }));
  return byPartition.flat();
}

/**
 * Neutron's delete: the default group cannot go (409), nor one a port uses (409
 * SecurityGroupInUse); its rules go with it.
 */
export async function deleteGroup(table: Table, asker: Asker, id: string): Promise<void> {
  const group = await visibleGroup(table, asker, id);
  if (group.name === DEFAULT_GROUP) {
    throw new Conflict('Insufficient rights for removing default security group.', { type: 'SecurityGroupCannotRemoveDefault' });
  }
  if ((await projectPorts(table, group.projectId)).some((p) => p.status !== 'deleting' && p.securityGroups?.includes(id))) {
    throw new Conflict(`Security Group ${id} in use.`, { type: 'SecurityGroupInUse' });
  }
  try {
    await table.db.send(new DeleteCommand({
      TableName: table.name, Key: networkKeys.securityGroup(id),
      ConditionExpression: '#project = :project', ExpressionAttributeNames: { '#project': 'projectId' },
      ExpressionAttributeValues: { ':project': group.projectId },
    }));
  } catch (err) {
    if (isConditionFailure(err)) throw securityGroupNotFound(id);
    throw err;
  }
  for (const rule of await rulesOf(table, id)) {
    await table.db.send(new DeleteCommand({
      TableName: table.name, Key: networkKeys.rule(rule.id),
      ConditionExpression: '#group = :group', ExpressionAttributeNames: { '#group': 'securityGroupId' }, ExpressionAttributeValues: { ':group': id },
    })).catch((err) => { if (!isConditionFailure(err)) throw err; });
  }
}

/** A rule's id, from what it says: one rule of a kind per group. */
const ruleId = (r: Pick<SecurityGroupRule, 'securityGroupId' | 'direction' | 'ethertype' | 'protocol' | 'portRangeMin'
  | 'portRangeMax' | 'remoteIpPrefix' | 'remoteGroupId'>) => derivedUuid('security-group-rule', r.securityGroupId, r.direction,
  r.ethertype, String(r.protocol), String(r.portRangeMin), String(r.portRangeMax), String(r.remoteIpPrefix), String(r.remoteGroupId));

export type NewRule = Omit<SecurityGroupRule, 'id' | 'createdAt' | 'updatedAt' | 'revision' | 'belongsToDefault' | 'projectId'>;

/**
 * A rule of a group the asker can see (the group's owner, or the administrator). Its id comes from
 * what it says, so the put that makes it (only if absent) is also what refuses a duplicate
 * (Neutron's 409), however many are made at once; a retry of the same request gets its rule back.
 */
export async function createRule(table: Table, asker: Asker, requestId: string, rule: NewRule, now: number): Promise<SecurityGroupRule> {
  const group = await visibleGroup(table, asker, rule.securityGroupId);
  if (rule.remoteGroupId) await visibleGroup(table, asker, rule.remoteGroupId);
  const id = ruleId(rule);
  const at = nowIso(now);
  const made: SecurityGroupRule = { ...rule, id, projectId: group.projectId, createdAt: at, updatedAt: at, revision: 1, belongsToDefault: false };
  try {
    await table.db.send(new PutCommand({
      TableName: table.name, Item: { ...networkKeys.rule(id), ...made, createdByRequest: requestId },
      ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    }));
    return made;
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    const existing = itemFromConditionFailure<SecurityGroupRule & { createdByRequest?: string }>(err);
    if (existing?.createdByRequest === requestId) return withoutKeys<SecurityGroupRule>(existing as never);
    throw new Conflict(`Security group rule already exists. Rule id is ${id}.`, { type: 'SecurityGroupRuleExists' });
  }
}

export async function visibleRule(table: Table, asker: Asker, id: string): Promise<SecurityGroupRule> {
  const item = await getItem<Record<string, unknown>>(table, networkKeys.rule(id));
  const rule = item && withoutKeys<SecurityGroupRule>(item);
  if (!rule || !(asker.isAdmin || rule.projectId === asker.projectId)) throw ruleNotFound(id);
  return rule;
}

export async function deleteRule(table: Table, asker: Asker, id: string): Promise<void> {
  const rule = await visibleRule(table, asker, id);
  try {
    await table.db.send(new DeleteCommand({
      TableName: table.name, Key: networkKeys.rule(id), ConditionExpression: 'attribute_exists(pk)',
    }));
  } catch (err) {
    if (isConditionFailure(err)) throw ruleNotFound(rule.id);
    throw err;
  }
}
