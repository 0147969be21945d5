import { readHosts, type Host } from '../../functions/core/placement/hosts.js';
import type { Table } from '../../functions/core/shared/table.js';
import { SeededRandom } from './faults/random.js';
import type { Nova } from './nova.js';

// What the placement tests and the placement bench check of a run: the hosts' items against
// their capacity, and where the servers were placed.


/** Hosts over their capacity, or whose used figures are not the sum of their allocations. */
export function capacityViolations(hosts: readonly Host[]): string[] {
  const out: string[] = [];
  for (const h of hosts) {
    const allocations = Object.values(h.allocations ?? {});
    const sum = (f: (a: (typeof allocations)[number]) => number) => allocations.reduce((n, a) => n + f(a), 0);
    if (h.usedVcpus > h.vcpus || h.usedRam > h.ram || h.usedDisk > h.disk) out.push(`${h.name} over capacity`);
    if (h.usedVcpus !== sum((a) => a.vcpus) || h.usedRam !== sum((a) => a.ram) || h.usedDisk !== sum((a) => a.disk)) {
      out.push(`${h.name} used is not the sum of its allocations`);
    }
  }
  return out;
}

/** Creates `count` servers at once (seeded jitter), each answer with its server id. */
export async function concurrentCreates(
  nova: Nova, count: number, seed: number, server: (i: number) => Record<string, unknown>, hints?: Record<string, unknown>,
) {
  const random = new SeededRandom(seed);
  return Promise.all(Array.from({ length: count }, async (_, i) => {
    await new Promise((r) => setTimeout(r, random.int(5)));
    return nova.post('/servers', { server: server(i), ...(hints ? { 'os:scheduler_hints': hints } : {}) });
  }));
}

/** Each server as it settled: status, host (an administrator's view), fault. */
export async function settled(admin: Nova, ids: readonly string[]) {
  const out: { id: string; status: string; host: string | null; fault?: string }[] = [];
  for (const id of ids) {
    await admin.waitIdle(id);
    const s = (await admin.get(`/servers/${id}`)).body.server;
    out.push({ id, status: s.status, host: s['OS-EXT-SRV-ATTR:host'], fault: s.fault?.message });
  }
  return out;
}

/** The hosts once every delete has given its allocation back (a give-back follows the release the server's absence shows). */
export async function hostsEmptied(table: Table): Promise<Host[]> {
  let hosts = await readHosts(table);
  for (let i = 0; i < 500 && hosts.some((h) => Object.keys(h.allocations ?? {}).length > 0); i++) {
    await new Promise((r) => setTimeout(r, 10));
    hosts = await readHosts(table);
  }
  return hosts;
}
