import { DriverError } from '../shared/errors.js';
import type { Table } from '../shared/table.js';
import { allocate, allocationOf, settleStaleAllocations, type Request } from './allocations.js';
import { isUp, readHosts, type Allocation, type Host } from './hosts.js';
import { maxPerHost, pinGroup, readGroup, type ServerGroup } from './serverGroups.js';

// The scheduler: Nova's filter scheduler over the host items, with Placement's allocation as the
// commit. It reads every host once (they are few), filters them as Nova's default filters do
// (ComputeFilter: enabled and up; AvailabilityZoneFilter; the resources; the server group's
// (anti-)affinity filters), weighs what is left (the soft group policies first, then the most
// free RAM, Nova's default spreading RAMWeigher), and takes the best with one conditional write.
// A write refused because another scheduler got there first returns the host as it is now: the
// scheduler filters again with that and tries the best host left. The refusal is the only
// arbiter, so no host ever goes over its capacity and no anti-affinity group ever shares a host.

export const NO_VALID_HOST = 'No valid host was found. There are not enough hosts available.';

export interface Placement {
  readonly host: string;
  /** The hypervisor's hostname: one node per simulated host, named as it is. */
  readonly node: string;
  /** The host's availability zone: the server's from then on (Nova sets it when scheduling). */
  readonly zone: string;
  /** The allocation as written: what the server's give-back returns, with no read. */
  readonly allocation: Allocation;
}

export interface ScheduleRequest extends Omit<Request, 'group'> {
  readonly groupId?: string;
  /** The availability zone asked for, and an administrator's forced host (`zone:host`). */
  readonly zone?: string;
  readonly forcedHost?: string;
  /**
   * A move (movedBy set): the host the server leaves, never a candidate (Nova's migrate and
   * evacuate never choose the source); the server's allocation there is kept until the move ends.
   */
  readonly excludeHost?: string;
  /** How old an allocation must be before its server's absence means its worker died. */
  readonly leaseMs: number;
}

const fits = (h: Host, r: Pick<Request, 'vcpus' | 'ram' | 'disk'>) =>
  h.usedVcpus + r.vcpus <= h.vcpus && h.usedRam + r.ram <= h.ram && h.usedDisk + r.disk <= h.disk;

const placedOn = (h: Host, serverId: string): Placement => ({ host: h.name, node: h.name, zone: h.zone, allocation: h.allocations[serverId]! });

/** Bounds the tries: every refusal is another server's success, or a host leaving the candidates. */
const MAX_TRIES = 500;

export async function schedule(table: Table, req: ScheduleRequest): Promise<Placement> {
  const group = req.groupId ? await readGroup(table, req.groupId) : undefined;
  let hosts = await readHosts(table);
  // A redelivery of a create (or of a move) that allocated before its worker died finds its allocation.
  const ours = (h: Host) => (req.movedBy === undefined || h.allocations?.[req.serverId]?.movedBy === req.movedBy) && h.name !== req.excludeHost;
  const earlier = allocationOf(hosts.filter(ours), req.serverId);
  if (earlier) return placedOn(earlier.host, req.serverId);
  let pinned = group?.policy === 'affinity' ? group.host : undefined;
  const limit = group ? maxPerHost(group) : undefined;
  const allocation: Request = { ...req, ...(group ? { group: { id: group.id, ...(limit !== undefined ? { maxPerHost: limit } : {}) } } : {}) };
  let settled = false;
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    const candidates = hosts.filter((h) => isUp(h) && fits(h, req) && h.name !== req.excludeHost && !h.allocations?.[req.serverId]
      && (req.zone === undefined || h.zone === req.zone) && (req.forcedHost === undefined || h.name === req.forcedHost)
      && (limit === undefined || (h.groups?.[group!.id] ?? 0) < limit)
      && (pinned === undefined || h.name === pinned));
    const best = weigh(candidates, group, req)[0];
    if (!best) {
      // Before refusing: allocations left by servers that are gone may be what fills the hosts.
      if (!settled && await settleStaleAllocations(table, hosts, req.now, req.leaseMs) > 0) {
        settled = true;
        hosts = await readHosts(table);
        continue;
      }
      throw new DriverError(NO_VALID_HOST, 500);
    }
    if (group?.policy === 'affinity' && pinned === undefined) {
      pinned = await pinGroup(table, group.id, best.name) ?? best.name;
      if (pinned !== best.name) continue;
    }
    const claimed = await allocate(table, best, allocation);
    if (claimed.ok) return placedOn(claimed.host, req.serverId);
    // Refused: the host as it is now replaces what was read (gone: dropped).
    hosts = hosts.flatMap((h) => (h.name !== best.name ? [h] : claimed.host ? [claimed.host] : []));
    if (claimed.host?.allocations?.[req.serverId] && ours(claimed.host)) return placedOn(claimed.host, req.serverId);
  }
  throw new DriverError(NO_VALID_HOST, 500);
}

/** Nova's weighers, best first: the soft group policies, then free RAM (spreading), then the configured order. */
function weigh(hosts: readonly Host[], group: ServerGroup | undefined, req: Pick<Request, 'ram'>): Host[] {
  const members = (h: Host) => (group ? h.groups?.[group.id] ?? 0 : 0);
  const soft = group?.policy === 'soft-affinity' ? -1 : group?.policy === 'soft-anti-affinity' ? 1 : 0;
  return [...hosts].sort((a, b) => soft * (members(a) - members(b))
    || (b.ram - b.usedRam - req.ram) - (a.ram - a.usedRam - req.ram)
    || a.number - b.number);
}
