import { operationRow, resolveVmOutcome, type OperationName } from '../../functions/core/compute/catalogue.js';
import { requestOperation } from '../../functions/core/compute/admission.js';
import { EVERY_OPERATION, type ComputeDriver, type DriverCapabilities } from '../../functions/core/compute/driver.js';
import { Ec2Capabilities } from '../../functions/core/compute/ec2/capabilities.js';
import { Ec2Driver } from '../../functions/core/compute/ec2/ec2Driver.js';
import type { Instance } from '../../functions/core/compute/instance.js';
import type { OperationMessage } from '../../functions/core/compute/queue.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import { PowerState, type VmState } from '../../functions/core/compute/states.js';
import { runOperation, type WorkOutcome } from '../../functions/core/compute/worker.js';
import { Ports, Volumes, type AttachableKind } from '../../functions/core/shared/attachables.js';
import type { Ec2Settings } from '../../functions/core/shared/config.js';
import type { Table } from '../../functions/core/shared/table.js';
import { snapshotImage } from '../../functions/core/images/snapshots.js';
import { DiedAfterCall, FakeEc2 } from './ec2/fakeEc2.js';
import { alice, CapturingQueue, requestId, seedAttachment, seedInstance } from './emulators.js';
import { seedPort } from './networks.js';
import { IMAGE, IMAGE2 } from './nova.js';
import { seedVolume } from './volumes.js';

// The driver conformance suite's machinery: what any driver must do, whatever its backend. A
// Backend is a driver with the knobs the suite turns: time passing, a worker dying right after
// a call, throttling, and (for a driver with a world outside taskgate) that world changing.

export interface Backend {
  readonly name: string;
  readonly driver: ComputeDriver;
  /** What the driver declares it cannot carry out: admission refuses those. */
  readonly capabilities: DriverCapabilities;
  /** Gives a seeded server what its vm_state implies it has on the backend. */
  provision(server: Instance, vmState: VmState): void;
  /** A volume or port for the operation: attached to the server already, or free. */
  resource(kind: AttachableKind, taskgateId: string, server: Instance, attached: boolean): void;
  /** Time passes: what the backend had started is finished. */
  advance(): void;
  /** The k-th side effect from now is made and the worker dies before it hears the answer. */
  crashAfterCall(k: number): void;
  throttleNext(n: number): void;
  /** Side effects so far: calls that changed the backend. */
  effects(): number;
  /** The backend agrees with the server as released (power state, instance type, attachments). */
  agrees(server: Instance, op: OperationName, resourceId?: string): string[];
  /** The world outside taskgate, for a driver that has one. */
  readonly outside?: FakeEc2;
}

export const FLAVOR = '1';
export const FLAVOR2 = '2';

class DiedInStep extends Error {
  override readonly name = 'DiedInStep';
}

export function simulatedBackend(table: Table): Backend {
  let crashAt = -1;
  let throttled = 0;
  let steps = 0;
  return {
    name: 'simulated', capabilities: EVERY_OPERATION,
    driver: new SimulatedDriver(table, {
      stepMs: 0,
      beforeStep: () => {
        if (throttled > 0) { throttled--; throw Object.assign(new Error('throttled'), { name: 'ThrottlingException' }); }
        // The simulated hypervisor's "call" is a step: the worker dies after one, before the next.
        if (crashAt === steps) { crashAt = -1; throw new DiedInStep('died after a step'); }
        steps++;
      },
    }),
    provision: () => undefined,
    resource: () => undefined,
    advance: () => undefined,
    crashAfterCall: (k) => { crashAt = steps + k; },
    throttleNext: (n) => { throttled = n; },
    effects: () => steps,
    agrees: () => [],
  };
}

export const EC2_TEST_SETTINGS = (): Ec2Settings & { ebsVolumes: Record<string, string>; networkInterfaces: Record<string, string> } => ({
  subnetId: 'subnet-0123456789abcdef0', securityGroupIds: ['sg-0123456789abcdef0'], stackTag: 'conformance',
  instanceProfileArn: 'arn:aws:iam::123456789012:instance-profile/taskgate-guest', keyName: 'taskgate',
  instanceTypes: { [FLAVOR]: 't3.micro', [FLAVOR2]: 't3.small' },
  amis: { [IMAGE]: 'ami-0aaaaaaaaaaaaaaa1', [IMAGE2]: 'ami-0bbbbbbbbbbbbbbb2' },
  ebsVolumes: {}, networkInterfaces: {}, pollSeconds: 15, operationTimeoutSeconds: 3600,
});

/** What EC2 state a server's vm_state means (building: no instance yet). */
const EC2_STATE_OF: Partial<Record<VmState, 'running' | 'stopped'>> = {
  active: 'running', error: 'running', rescued: 'running', resized: 'running', soft_deleted: 'running',
  stopped: 'stopped', paused: 'stopped', suspended: 'stopped', shelved: 'stopped', shelved_offloaded: 'stopped',
};

/** The EC2 backend; `table` is where the snapshots' image records are (createImage, createBackup). */
export function ec2Backend(table?: Table): Backend {
  const ec2 = new FakeEc2();
  const settings = EC2_TEST_SETTINGS();
  const instanceOf = (serverId: string) => ec2.serverInstances(serverId).find((i) => i.state !== 'terminated');
  return {
    name: 'ec2', capabilities: Ec2Capabilities,
    driver: new Ec2Driver(ec2.client, settings, table ? { table } : {}).asComputeDriver(),
    outside: ec2,
    provision(server, vmState) {
      const state = EC2_STATE_OF[vmState];
      if (state) ec2.provision({ id: server.id, projectId: server.projectId, requestId: 'req-seed' }, state, settings.instanceTypes[server.flavorId]!, settings.amis[server.imageId]!);
    },
    resource(kind, taskgateId, server, attached) {
      const on = attached ? instanceOf(server.id)?.id : undefined;
      if (kind === Volumes) settings.ebsVolumes[taskgateId] = ec2.addVolume(on);
      else settings.networkInterfaces[taskgateId] = ec2.addInterface(on);
    },
    advance: () => ec2.advance(),
    crashAfterCall: (k) => ec2.crashAfterCall(k),
    throttleNext: (n) => ec2.throttleNext(n),
    effects: () => ec2.effects(),
    agrees(server, op, resourceId) {
      const problems: string[] = [];
      const live = ec2.serverInstances(server.id);
      if (server.deleted || server.vmState === 'deleted') {
        if (live.some((i) => i.state !== 'terminated')) problems.push('a deleted server still has a live instance');
        return problems;
      }
      const inst = instanceOf(server.id);
      if (live.filter((i) => i.state !== 'terminated').length > 1) problems.push(`${live.length} instances for one server`);
      if (!inst) return [...problems, 'no instance'];
      const want = server.powerState === PowerState.RUNNING ? 'running' : 'stopped';
      if (server.powerState !== PowerState.NOSTATE && inst.state !== want) problems.push(`power ${server.powerState} but EC2 says ${inst.state}`);
      if (inst.type !== settings.instanceTypes[server.flavorId]) problems.push(`flavor ${server.flavorId} but EC2 type ${inst.type}`);
      if (op === 'rebuild' && inst.imageId !== settings.amis[server.imageId]) problems.push(`image ${server.imageId} but AMI ${inst.imageId}`);
      if (op === 'create_image' || op === 'create_backup') {
        const amis = [...ec2.images.values()].filter((a) => a.instanceId === inst.id);
        if (amis.length !== 1) problems.push(`${amis.length} AMIs of the server's instance`);
        if (amis.some((a) => !a.noReboot)) problems.push('CreateImage without NoReboot');
      }
      if (resourceId && (op === 'attach_volume' || op === 'detach_volume')) {
        const v = ec2.volumes.get(settings.ebsVolumes[resourceId]!)!;
        const onIt = v.attachment?.instanceId === inst.id && v.attachment.state === 'attached';
        if (onIt !== (op === 'attach_volume')) problems.push(`volume ${op === 'attach_volume' ? 'not ' : ''}attached on EC2`);
      }
      if (resourceId && (op === 'attach_interface' || op === 'detach_interface')) {
        const n = ec2.interfaces.get(settings.networkInterfaces[resourceId]!)!;
        const onIt = n.attachment?.instanceId === inst.id && n.attachment.status === 'attached';
        if (onIt !== (op === 'attach_interface')) problems.push(`interface ${op === 'attach_interface' ? 'not ' : ''}attached on EC2`);
      }
      return problems;
    },
  };
}

/**
 * Where an operation is admitted but must fail on any driver, as Nova's compute manager fails it:
 * a crash dump needs a running guest (InstanceNotRunning), and a paused one is not.
 */
export const FAILS_FROM: Partial<Record<OperationName, readonly VmState[]>> = { trigger_crash_dump: ['paused'] };

/** The vm_states each operation is tried from: its catalogue row's (delete: a sample of them). */
export function statesFor(op: OperationName): VmState[] {
  const row = operationRow(op);
  if (row.allowedVmStates === 'any') return ['active', 'stopped', 'building', 'error', 'shelved_offloaded'];
  return [...row.allowedVmStates];
}

const KIND: Partial<Record<OperationName, { kind: AttachableKind; attached: boolean }>> = {
  attach_volume: { kind: Volumes, attached: false }, detach_volume: { kind: Volumes, attached: true },
  attach_interface: { kind: Ports, attached: false }, detach_interface: { kind: Ports, attached: true },
};

export interface Prepared {
  readonly server: Instance;
  readonly message: OperationMessage;
  readonly resourceId?: string;
}

/** A server in `vmState` on `backend`, and `op` admitted on it as the API admits it. */
export async function prepare(table: Table, backend: Backend, op: OperationName, vmState: VmState): Promise<Prepared> {
  const resized = vmState === 'resized' ? { flavorId: FLAVOR2, oldFlavorId: FLAVOR, preResizeVmState: 'active' as const } : {};
  const powerState = EC2_STATE_OF[vmState] === 'running' ? PowerState.RUNNING : vmState === 'building' ? PowerState.NOSTATE : PowerState.SHUTDOWN;
  const server = await seedInstance(table, { vmState, powerState, flavorId: FLAVOR, imageId: IMAGE, ...resized });
  backend.provision(server, vmState);
  const attachable = KIND[op];
  let resourceId: string | undefined;
  if (attachable) {
    resourceId = attachable.attached
      ? await seedAttachment(table, attachable.kind, server.id)
      : attachable.kind === Volumes ? await seedVolume(table, { projectId: server.projectId }) : await seedPort(table, server.projectId);
    backend.resource(attachable.kind, resourceId, server, attachable.attached);
  }
  const id = requestId();
  const params: Record<string, unknown> = {
    ...(op === 'create_image' || op === 'create_backup' ? snapshotParams(op, id, server) : {}),
    ...(op === 'resize' ? { flavorRef: FLAVOR2 } : {}),
    ...(op === 'rebuild' ? { imageRef: IMAGE2 } : {}),
    ...(attachable?.kind === Volumes ? { volumeId: resourceId } : {}),
    ...(attachable?.kind === Ports ? { portId: resourceId } : {}),
  };
  const queue = new CapturingQueue();
  await requestOperation({ table, queue, claimLeaseMs: 600_000 }, { instanceId: server.id, op, caller: alice, requestId: id, params });
  return { server, message: queue.messages.at(-1)!, ...(resourceId ? { resourceId } : {}) };
}

/** What the API puts on a createImage's or createBackup's claim: the image record it makes (and a backup's rotation). */
export function snapshotParams(op: 'create_image' | 'create_backup', requestId: string, server: Instance, rotation = 2): Record<string, unknown> {
  const kind = op === 'create_image' ? 'snapshot' : 'backup';
  const image = snapshotImage({
    kind, requestId, caller: alice, instance: server, flavorDisk: 1, name: `${kind} of ${server.id}`, metadata: {}, now: Date.now(),
    ...(kind === 'backup' ? { backupType: 'daily' } : {}),
  });
  return { image, ...(kind === 'backup' ? { backupType: 'daily', rotation } : {}) };
}

export interface Driven {
  readonly outcome: WorkOutcome;
  /** Deliveries of the message (Lambda invocations) until it was done. */
  readonly invocations: number;
  readonly crashes: number;
  readonly instance: Instance;
}

/**
 * Delivers the message as the queue would until the operation is done: after a ResumeLater the
 * backend's time passes; after a crash the message is delivered again.
 */
export async function drive(table: Table, backend: Backend, message: OperationMessage, opts: { beforeEach?: (n: number) => void; limit?: number } = {}): Promise<Driven> {
  const worker = { table, driver: backend.driver, runLeaseMs: 60_000, claimLeaseMs: 600_000 };
  let crashes = 0;
  for (let invocations = 1; invocations <= (opts.limit ?? 50); invocations++) {
    opts.beforeEach?.(invocations);
    let outcome: WorkOutcome;
    try {
      outcome = await runOperation(worker, message);
    } catch (err) {
      if (!(err instanceof DiedAfterCall || err instanceof DiedInStep || (err as Error).name === 'ThrottlingException')) throw err;
      crashes++;
      continue;
    }
    if (outcome === 'done' || outcome === 'dropped') {
      return { outcome, invocations, crashes, instance: (await readInstance(table, message.instanceId))! };
    }
    backend.advance();
  }
  throw new Error(`${message.op} did not finish in ${opts.limit ?? 50} deliveries`);
}

/** The vm_state the catalogue says `op` leaves from `server`'s state. */
export const expectedVmState = (op: OperationName, server: Instance, ok = true): VmState =>
  resolveVmOutcome(ok ? operationRow(op).onSuccess : operationRow(op).onFailure, server.vmState, server.preResizeVmState);
