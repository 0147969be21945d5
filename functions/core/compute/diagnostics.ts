import { attachmentsOf, Ports, Volumes } from '../shared/attachables.js';
import { isOnHost } from './consoleLog.js';
import { findFlavor } from './flavors.js';
import { isVisibleTo, type Caller, type Instance } from './instance.js';
import { readServer } from './attachmentItems.js';
import { PowerState } from './states.js';
import { Conflict, NotFound } from '../shared/errors.js';
import { authorize } from '../shared/policy.js';
import type { Table } from '../shared/table.js';

// GET /servers/{id}/diagnostics (server_diagnostics.py): what the hypervisor measures of a
// guest. The simulated hypervisor runs nothing, so every counter is 0: the sizes come from the
// flavor, the devices from the server's volumes and ports, the state from its power state. Before
// 2.48 each driver answered its own keys (the libvirt driver's are used); from 2.48 Nova's
// standard format (nova/virt/diagnostics.py).

/** nova/compute/power_state.py STATE_MAP. */
const STATE: Record<number, string> = {
  [PowerState.NOSTATE]: 'pending', [PowerState.RUNNING]: 'running', [PowerState.PAUSED]: 'paused',
  [PowerState.SHUTDOWN]: 'shutdown', [PowerState.CRASHED]: 'crashed', [PowerState.SUSPENDED]: 'suspended',
};

/** The server the caller sees (404), an administrator's to measure (403), on a host (Nova's @check_instance_host: 409 InstanceNotReady). */
async function measured(table: Table, caller: Caller, instanceId: string): Promise<Instance> {
  const instance = await readServer(table, instanceId);
  if (!isVisibleTo(instance, caller)) throw new NotFound(`Instance ${instanceId} could not be found.`);
  authorize(caller, 'os_compute_api:os-server-diagnostics');
  if (!isOnHost(instance)) throw new Conflict(`Instance ${instanceId} is not ready`);
  return instance;
}

const disks = (instance: Instance) => ['vda', ...attachmentsOf(instance, Volumes).map((v) => (v.device ?? '').replace('/dev/', '') || 'vdb')];

/** From 2.48: Nova's Diagnostics object. */
export async function diagnostics(table: Table, caller: Caller, instanceId: string, now: number) {
  const instance = await measured(table, caller, instanceId);
  const flavor = await findFlavor(table, instance.flavorId, true);
  const vcpus = flavor?.vcpus ?? 1;
  const ports = attachmentsOf(instance, Ports);
  const running = instance.powerState === PowerState.RUNNING;
  return {
    state: STATE[instance.powerState] ?? 'pending', driver: 'libvirt', hypervisor: 'qemu', hypervisor_os: 'linux',
    uptime: running ? Math.max(0, Math.floor((now - Date.parse(instance.updated)) / 1000)) : 0,
    config_drive: instance.configDrive === true,
    num_cpus: vcpus, num_disks: disks(instance).length, num_nics: ports.length,
    cpu_details: Array.from({ length: vcpus }, (_v, id) => ({ id, time: 0, utilisation: 0 })),
    memory_details: { maximum: flavor?.ram ?? 0, used: 0 },
    disk_details: disks(instance).map(() => ({ read_bytes: 0, read_requests: 0, write_bytes: 0, write_requests: 0, errors_count: 0 })),
    nic_details: ports.map((p) => ({
      mac_address: p.macAddress ?? null, rx_octets: 0, rx_errors: 0, rx_drop: 0, rx_packets: 0, rx_rate: null,
      tx_octets: 0, tx_errors: 0, tx_drop: 0, tx_packets: 0, tx_rate: null,
    })),
  };
}

/** Before 2.48: the libvirt driver's own keys (get_diagnostics), memory in KiB. */
export async function legacyDiagnostics(table: Table, caller: Caller, instanceId: string): Promise<Record<string, number>> {
  const instance = await measured(table, caller, instanceId);
  const flavor = await findFlavor(table, instance.flavorId, true);
  const out: Record<string, number> = { memory: (flavor?.ram ?? 0) * 1024 };
  for (let cpu = 0; cpu < (flavor?.vcpus ?? 1); cpu++) out[`cpu${cpu}_time`] = 0;
  for (const disk of disks(instance)) {
    for (const k of ['read', 'read_req', 'write', 'write_req', 'errors']) out[`${disk}_${k}`] = 0;
  }
  attachmentsOf(instance, Ports).forEach((_p, i) => {
    for (const k of ['rx', 'rx_drop', 'rx_errors', 'rx_packets', 'tx', 'tx_drop', 'tx_errors', 'tx_packets']) out[`tap${i}_${k}`] = 0;
  });
  return out;
}
