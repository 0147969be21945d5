import { allFlavors, type Flavor } from './flavors.js';
import type { Caller, Instance } from './instance.js';
import { listServers } from './instanceStore.js';
import type { Table } from '../shared/table.js';

// os-simple-tenant-usage (nova/api/openstack/compute/simple_tenant_usage.py): each server's
// hours inside a period, and what its flavor's vCPUs, memory and disk come to over them, summed
// by project. Nova reads every instance "active by window" (not terminated before the start,
// launched before the end); taskgate reads the servers that exist, through the indexes that
// list them (a deleted server leaves the indexes with its delete, so its hours are not counted).

export interface ServerUsage {
  readonly instance_id: string;
  readonly name: string;
  readonly hours: number;
  readonly memory_mb: number;
  readonly local_gb: number;
  readonly vcpus: number;
  readonly tenant_id: string;
  readonly flavor: string;
  readonly started_at: string;
  readonly ended_at: string | null;
  readonly state: string;
  readonly uptime: number;
}

export interface TenantUsage {
  readonly tenant_id: string;
  server_usages?: ServerUsage[];
  total_local_gb_usage: number;
  total_vcpus_usage: number;
  total_memory_mb_usage: number;
  total_hours: number;
  readonly start: string;
  readonly stop: string;
}

export interface UsagePeriod {
  readonly start: number;
  readonly stop: number;
}

/**
 * When the server was launched: Nova's launched_at is set by the first successful spawn; a
 * server still building has none (and counts no hours). taskgate keeps the creation time.
 */
const launchedAt = (s: Instance) => (s.vmState === 'building' ? undefined : Date.parse(s.created));

/** Nova's _hours_for: the part of the period the server ran, in hours. */
export function hoursFor(launched: number | undefined, terminated: number | undefined, p: UsagePeriod): number {
  if (launched === undefined) return 0;
  if (terminated !== undefined && terminated < p.start) return 0;
  if (launched > p.stop) return 0;
  const stop = terminated === undefined ? p.stop : Math.min(p.stop, terminated);
  return (stop - Math.max(launched, p.start)) / 3_600_000;
}

/** Nova's timeutils.normalize_time as its JSON shows it: ISO 8601 without a zone, microseconds when not zero. */
export function usageTime(ms: number): string {
  const [seconds, millis] = new Date(ms).toISOString().slice(0, -1).split('.');
  return millis === '000' ? seconds! : `${seconds}.${millis}000`;
}

/**
 * The usage of every project (or one), in Nova's shape, the servers newest first. `limit` and
 * `marker` page the servers as 2.40 does (Nova pages instances, then groups them by project).
 */
export async function tenantUsages(
  table: Table, caller: Caller,
  q: { period: UsagePeriod; now: number; projectId?: string; detailed: boolean; limit: number; marker?: string },
): Promise<{ usages: TenantUsage[]; servers: ServerUsage[] }> {
  const [page, flavors] = await Promise.all([
    listServers(table, caller, {
      limit: q.limit, marker: q.marker, ...(q.projectId !== undefined ? { projectId: q.projectId } : { allProjects: true }),
      filter: (s) => { const at = launchedAt(s); return at !== undefined && at < q.period.stop; },
    }),
    allFlavors(table),
  ]);
  const byId = new Map<string, Flavor>(flavors.map((f) => [f.id, f]));
  const byProject = new Map<string, TenantUsage>();
  const servers: ServerUsage[] = [];
  for (const s of page.servers) {
    const flavor = byId.get(s.flavorId);
    const started = launchedAt(s)!;
    const usage: ServerUsage = {
      instance_id: s.id, name: s.name, hours: hoursFor(started, undefined, q.period),
      memory_mb: flavor?.ram ?? 0, local_gb: (flavor?.disk ?? 0) + (flavor?.ephemeral ?? 0), vcpus: flavor?.vcpus ?? 0,
      tenant_id: s.projectId, flavor: flavor?.name ?? '', started_at: usageTime(started), ended_at: null,
      state: s.vmState, uptime: Math.floor((q.now - started) / 1000),
    };
    let summary = byProject.get(s.projectId);
    if (!summary) {
      summary = {
        tenant_id: s.projectId, ...(q.detailed ? { server_usages: [] } : {}), total_local_gb_usage: 0, total_vcpus_usage: 0,
        total_memory_mb_usage: 0, total_hours: 0, start: usageTime(q.period.start), stop: usageTime(q.period.stop),
      };
      byProject.set(s.projectId, summary);
    }
    summary.total_local_gb_usage += usage.local_gb * usage.hours;
    summary.total_vcpus_usage += usage.vcpus * usage.hours;
    summary.total_memory_mb_usage += usage.memory_mb * usage.hours;
    summary.total_hours += usage.hours;
    summary.server_usages?.push(usage);
    servers.push(usage);
  }
  return { usages: [...byProject.values()], servers };
}
