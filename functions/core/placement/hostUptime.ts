import type { Host } from './hosts.js';

// A hypervisor's uptime as Nova's drivers report it (libvirt's get_host_uptime is the line the
// host's `uptime` command prints). A simulated host has been up since it was seeded; nobody logs
// in to it and it runs nothing, so its line says 0 users and no load.

/** The host's `uptime` line at `now` (epoch ms). */
export function hostUptime(host: Pick<Host, 'since' | 'updated'>, now: number): string {
  const seconds = Math.max(0, Math.floor((now - Date.parse(host.since ?? host.updated)) / 1000));
  const days = Math.floor(seconds / 86_400);
  const hours = Math.floor((seconds % 86_400) / 3_600);
  const minutes = Math.floor((seconds % 3_600) / 60);
  const clock = new Date(now).toISOString().slice(11, 19);
  const dayPart = days > 0 ? `${days} day${days === 1 ? '' : 's'}, ` : '';
  return ` ${clock} up ${dayPart}${hours}:${String(minutes).padStart(2, '0')},  0 users,  load average: 0.00, 0.00, 0.00`;
}
