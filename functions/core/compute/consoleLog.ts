import { listActionsOf, type InstanceAction } from './instanceActions.js';
import { isVisibleTo, type Caller, type Instance } from './instance.js';
import { readInstance } from './readInstance.js';
import { Conflict, NotFound } from '../shared/errors.js';
import type { Table } from '../shared/table.js';

// The simulated guest's serial console (os-getConsoleOutput). A real hypervisor keeps the
// guest's console log in a file; the simulated one keeps nothing, and its console is what the
// guest printed for what happened to it: a boot for each start, a power-down for each stop, a
// panic for each crash dump, in the order of the server's instance actions. Read, never written.

const BOOT = (instance: Instance) => [
  '[    0.000000] Linux version 6.1.0-taskgate (simulated guest)',
  '[    0.000000] Command line: root=/dev/vda1 ro console=ttyS0',
  '[    0.812345] EXT4-fs (vda1): mounted filesystem with ordered data mode',
  `Starting ${instance.name}...`,
  `${instance.hostname ?? instance.name} login: `,
];
const POWER_DOWN = ['reboot: Power down'];
const RESTART = ['reboot: Restarting system'];

/** What the guest prints when an action of Nova's succeeds on it (anything else prints nothing). */
const PRINTS: Record<string, (instance: Instance) => string[]> = {
  create: BOOT,
  start: BOOT,
  unshelve: BOOT,
  resume: () => ['PM: resume from suspend'],
  stop: () => POWER_DOWN,
  shelve: () => POWER_DOWN,
  suspend: () => ['PM: suspend entry (deep)'],
  reboot: (i) => [...RESTART, ...BOOT(i)],
  rebuild: (i) => [...POWER_DOWN, ...BOOT(i)],
  resize: (i) => [...POWER_DOWN, ...BOOT(i)],
  revertResize: (i) => [...POWER_DOWN, ...BOOT(i)],
  rescue: (i) => [...POWER_DOWN, '[    0.000000] Linux version 6.1.0-taskgate (rescue image)', `${i.name} (rescue) login: `],
  unrescue: (i) => [...POWER_DOWN, ...BOOT(i)],
  trigger_crash_dump: () => ['Uhhuh. NMI received for unknown reason 3d on CPU 0.', 'Kernel panic - not syncing: NMI: Not continuing'],
  changePassword: () => ['qemu-ga: info: guest-set-user-password called'],
};

/**
 * Where a server's console log comes from: the driver's side of os-getConsoleOutput (the
 * simulated guest's log below; EC2's GetConsoleOutput, ec2/console.ts). The whole log, oldest
 * line first; the API takes its tail.
 */
export interface ConsoleReader {
  read(instance: Instance): Promise<string>;
}

/** The simulated guest's console: what its instance actions made it print. */
export const simulatedConsole = (table: Table): ConsoleReader => ({
  read: async (instance) => consoleLog(instance, await listActionsOf(table, instance)),
});

/** The whole console log, oldest line first. */
export function consoleLog(instance: Instance, actions: readonly InstanceAction[]): string {
  const done = actions.filter((a) => a.result === 'Success').sort((a, b) => a.startTime.localeCompare(b.startTime));
  return done.flatMap((a) => PRINTS[a.action]?.(instance) ?? []).join('\n');
}

/**
 * Nova's compute manager _tail_log: the last `length` lines; 0 is nothing, and -1 (which Nova's
 * schema allows) drops the first line, as Python's `lines[-(-1):]` does.
 */
export function tailLog(log: string, length: number | undefined): string {
  if (length === undefined) return log;
  if (length === 0) return '';
  const lines = log.split('\n');
  return lines.slice(length > 0 ? Math.max(lines.length - length, 0) : -length).join('\n');
}

/**
 * Whether the server is on a host yet (Nova's @check_instance_host, InstanceNotReady): not while
 * it is still being built nor once shelved offloaded.
 */
export const isOnHost = (instance: Instance) => instance.vmState !== 'building' && instance.vmState !== 'shelved_offloaded';

/** os-getConsoleOutput: the server the caller sees (404), on a host (409), its console's last `length` lines. */
export async function consoleOutput(
  table: Table, caller: Caller, instanceId: string, length?: number, reader: ConsoleReader = simulatedConsole(table),
): Promise<string> {
  const instance = await readInstance(table, instanceId);
  if (!isVisibleTo(instance, caller)) throw new NotFound(`Instance ${instanceId} could not be found.`);
  if (!isOnHost(instance)) throw new Conflict(`Instance ${instanceId} is not ready`);
  // The console_output controller strips the characters XML cannot carry.
  return tailLog(await reader.read(instance), length).replace(/[\x00-\x08\x0B-\x1F]/g, '');
}
