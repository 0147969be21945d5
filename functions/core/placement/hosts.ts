import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { computeHosts, type ComputeHostConfig } from '../shared/config.js';
import { NotFound } from '../shared/errors.js';
import { derivedUuid } from '../shared/ids.js';
import { isConditionFailure, type Table } from '../shared/table.js';

// The compute hosts, as Placement's resource providers: one item per host (pk HOSTS, few and read
// together, as flavors are) holding its capacity, what is allocated on it (each server's share by
// server id, and the count of each server group's members), and its nova-compute service's state.
// Capacity is taken and given back only by conditional writes on this item (allocations.ts).

/** One server's share of a host, as allocated: what its give-back returns. */
export interface Allocation {
  readonly vcpus: number;
  readonly ram: number;
  readonly disk: number;
  /** The server group it was placed in, counted in `groups`. */
  readonly group?: string;
  /** When it was allocated (epoch ms): an allocation older than the lease whose server is gone is settled. */
  readonly at: number;
  /** A resize's: the request that resized it, and the allocation before, which a revert or a failed resize restores. */
  readonly resizedBy?: string;
  readonly previous?: Allocation;
  /**
   * A move's (migrate, live migration, evacuation): the request that took this allocation on the
   * target while the server's allocation on its source is kept, so that a failed or superseded
   * move gives back its own and nothing else.
   */
  readonly movedBy?: string;
}

export interface Host extends ComputeHostConfig {
  /** The zone the configuration gives it: `zone` is an aggregate's while the host is in one with a zone. */
  readonly configuredZone?: string;
  readonly usedVcpus: number;
  readonly usedRam: number;
  readonly usedDisk: number;
  readonly allocations: Readonly<Record<string, Allocation>>;
  /** Members of each server group on this host. */
  readonly groups: Readonly<Record<string, number>>;
  /** os-services: disabled hosts take no new servers. */
  readonly enabled: boolean;
  readonly disabledReason?: string | null;
  /** os-services force-down: the service is reported down, and takes no new servers. */
  readonly forcedDown: boolean;
  /** Nova's ids from 2.53 (uuids): the nova-compute service's and the hypervisor's. */
  readonly serviceId: string;
  readonly hypervisorId: string;
  /** The integer ids before 2.53: the host's place in the configuration, from 1. */
  readonly number: number;
  readonly updated: string;
  /** When the host came into service (was seeded): where its uptime starts. Absent on hosts seeded before it was kept. */
  readonly since?: string;
}

const PK = 'HOSTS';
export const hostKey = (name: string) => ({ pk: PK, sk: `HOST#${name}` });
const MARKER = { pk: PK, sk: 'SEEDED' };

export const serviceIdOf = (name: string) => derivedUuid('service', name);
export const hypervisorIdOf = (name: string) => derivedUuid('hypervisor', name);

function newHost(config: ComputeHostConfig, index: number, now: number): Host {
  return {
    ...config, configuredZone: config.zone, usedVcpus: 0, usedRam: 0, usedDisk: 0, allocations: {}, groups: {}, enabled: true, disabledReason: null,
    forcedDown: false, serviceId: serviceIdOf(config.name), hypervisorId: hypervisorIdOf(config.name), number: index + 1,
    updated: new Date(now).toISOString(), since: new Date(now).toISOString(),
  };
}

/**
 * Writes each host if absent (a host already there keeps what is allocated on it), then the
 * marker that says the table has its hosts. Tests and the local runtime seed their own set
 * this way before anything asks for the configured one.
 */
export async function seedHosts(table: Table, hosts: readonly ComputeHostConfig[], now = Date.now()): Promise<void> {
  for (const [i, h] of hosts.entries()) {
    try {
      await table.db.send(new PutCommand({
        TableName: table.name, Item: { ...hostKey(h.name), ...newHost(h, i, now) }, ConditionExpression: 'attribute_not_exists(pk)',
      }));
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }
  await table.db.send(new PutCommand({ TableName: table.name, Item: { ...MARKER, at: new Date(now).toISOString() } }));
}

const seeded = new Map<string, Promise<void>>();

/** The configured hosts (TASKGATE_COMPUTE_HOSTS) are in the table, unless it was seeded before; once per process and table. */
export function ensureHosts(table: Table): Promise<void> {
  let done = seeded.get(table.name);
  if (!done) {
    done = (async () => {
      const marker = await table.db.send(new GetCommand({ TableName: table.name, Key: MARKER, ConsistentRead: true }));
      if (!marker.Item) await seedHosts(table, computeHosts());
    })();
    seeded.set(table.name, done);
    done.catch(() => seeded.delete(table.name));
  }
  return done;
}

const asHost = ({ pk: _p, sk: _s, ...h }: Record<string, unknown>) => h as unknown as Host;

/** Every host, in the configuration's order, consistently read. */
export async function readHosts(table: Table): Promise<Host[]> {
  await ensureHosts(table);
  const hosts: Host[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await table.db.send(new QueryCommand({
      TableName: table.name, KeyConditionExpression: 'pk = :pk AND begins_with(sk, :host)',
      ExpressionAttributeValues: { ':pk': PK, ':host': 'HOST#' }, ConsistentRead: true, ExclusiveStartKey: start,
    }));
    hosts.push(...(out.Items ?? []).map(asHost));
    start = out.LastEvaluatedKey;
  } while (start);
  return hosts.sort((a, b) => a.number - b.number);
}

export async function readHost(table: Table, name: string): Promise<Host | undefined> {
  await ensureHosts(table);
  const out = await table.db.send(new GetCommand({ TableName: table.name, Key: hostKey(name), ConsistentRead: true }));
  return out.Item ? asHost(out.Item) : undefined;
}

/** Whether the scheduler may place new servers on the host (Nova's ComputeFilter). */
export const isUp = (h: Pick<Host, 'enabled' | 'forcedDown'>) => h.enabled && !h.forcedDown;

/** os-services' changes: enable/disable (with a reason) and force-down; one write, only on an existing host. */
export async function setHostService(
  table: Table, name: string, change: { enabled?: boolean; disabledReason?: string | null; forcedDown?: boolean }, now = Date.now(),
): Promise<Host> {
  await ensureHosts(table);
  const sets = ['#updated = :updated'];
  const names: Record<string, string> = { '#updated': 'updated' };
  const values: Record<string, unknown> = { ':updated': new Date(now).toISOString() };
  for (const [field, value] of Object.entries(change)) {
    if (value === undefined) continue;
    names[`#${field}`] = field;
    values[`:${field}`] = value;
    sets.push(`#${field} = :${field}`);
  }
  try {
    const out = await table.db.send(new UpdateCommand({
      TableName: table.name, Key: hostKey(name), UpdateExpression: `SET ${sets.join(', ')}`,
      ConditionExpression: 'attribute_exists(pk)', ExpressionAttributeNames: names, ExpressionAttributeValues: values,
      ReturnValues: 'ALL_NEW',
    }));
    return asHost(out.Attributes!);
  } catch (err) {
    if (isConditionFailure(err)) throw new NotFound(`Compute host ${name} could not be found.`);
    throw err;
  }
}
