import { DeleteCommand, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Table } from '../../shared/table.js';
import { drainSlices } from './slices.js';

// Nova's quota limits (nova/quota.py, nova/conf/quota.py), kept as Nova's DbQuotaDriver keeps
// them: a default per resource, the `default` quota class overriding it, a project's own limit
// overriding both. Each is one small item (QUOTACLASS#<name>, QUOTA#<project>) whose attributes
// are the resources set there; -1 is unlimited. Limits change seldom and are read before a
// charge (usage.ts), which computes its bound from them. A change of a spread project's limits
// (its own, or the default class's it may inherit) drains its usage slices back into its counters
// once written (slices.ts), so that room taken under the old limits admits no create after.

/** Nova's resources with their configured defaults; the nova-network ones have none (-1). */
export const QUOTA_DEFAULTS = {
  instances: 10,
  cores: 20,
  ram: 51200,
  metadata_items: 128,
  injected_files: 5,
  injected_file_content_bytes: 10240,
  injected_file_path_bytes: 255,
  key_pairs: 100,
  server_groups: 10,
  server_group_members: 10,
  fixed_ips: -1,
  floating_ips: -1,
  security_groups: -1,
  security_group_rules: -1,
} as const;

export type QuotaResource = keyof typeof QUOTA_DEFAULTS;
export type Limits = Record<QuotaResource, number>;

export const RESOURCES = Object.keys(QUOTA_DEFAULTS) as QuotaResource[];
export const isResource = (name: string): name is QuotaResource => Object.hasOwn(QUOTA_DEFAULTS, name);

/** The only class Nova's driver applies to projects. */
export const DEFAULT_CLASS = 'default';

const projectKey = (projectId: string) => ({ pk: `QUOTA#${projectId}`, sk: 'LIMITS' });
const classKey = (name: string) => ({ pk: `QUOTACLASS#${name}`, sk: 'LIMITS' });

async function readSet(table: Table, key: Record<string, string>): Promise<Partial<Limits>> {
  const out = await table.db.send(new GetCommand({ TableName: table.name, Key: key, ConsistentRead: true }));
  const set: Partial<Limits> = {};
  for (const r of RESOURCES) if (typeof out.Item?.[r] === 'number') set[r] = out.Item[r] as number;
  return set;
}

/** A quota class's limits: the defaults with what the class sets. */
export async function classLimits(table: Table, name: string): Promise<Limits> {
  return { ...QUOTA_DEFAULTS, ...await readSet(table, classKey(name)) };
}

/** The limits a project is held to: its own, else the default class's, else the defaults. */
export async function projectLimits(table: Table, projectId: string): Promise<Limits> {
  const [defaults, own] = await Promise.all([classLimits(table, DEFAULT_CLASS), readSet(table, projectKey(projectId))]);
  return { ...defaults, ...own };
}

/** Set some of a project's (or a class's) limits: one write that touches only those named. */
async function setLimits(table: Table, key: Record<string, string>, values: Partial<Limits>): Promise<void> {
  const entries = Object.entries(values);
  if (entries.length === 0) return;
  await table.db.send(new UpdateCommand({
    TableName: table.name, Key: key,
    UpdateExpression: `SET ${entries.map((_, i) => `#r${i} = :v${i}`).join(', ')}`,
    ExpressionAttributeNames: Object.fromEntries(entries.map(([r], i) => [`#r${i}`, r])),
    ExpressionAttributeValues: Object.fromEntries(entries.map(([, v], i) => [`:v${i}`, v])),
  }));
}

export async function setProjectLimits(table: Table, projectId: string, values: Partial<Limits>): Promise<void> {
  await setLimits(table, projectKey(projectId), values);
  await drainSlices(table, projectId);
}

export async function setClassLimits(table: Table, name: string, values: Partial<Limits>): Promise<void> {
  await setLimits(table, classKey(name), values);
  if (name === DEFAULT_CLASS) for (const projectId of Object.keys(table.spreads ?? {})) await drainSlices(table, projectId);
}

/** Nova's quota-set delete: the project goes back to the class's limits. */
export async function deleteProjectLimits(table: Table, projectId: string): Promise<void> {
  await table.db.send(new DeleteCommand({ TableName: table.name, Key: projectKey(projectId) }));
  await drainSlices(table, projectId);
}
