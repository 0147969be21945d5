import {
  AttachNetworkInterfaceCommand, AttachVolumeCommand, CreateImageCommand, CreateReplaceRootVolumeTaskCommand, CreateTagsCommand, DeleteSnapshotCommand,
  DeregisterImageCommand, DescribeImagesCommand, DescribeInstancesCommand, DescribeSnapshotsCommand,
  DescribeNetworkInterfacesCommand, DescribeReplaceRootVolumeTasksCommand, GetConsoleOutputCommand, DescribeVolumesCommand, DetachNetworkInterfaceCommand,
  DetachVolumeCommand, EC2Client, ModifyInstanceAttributeCommand, RebootInstancesCommand, RunInstancesCommand, SendDiagnosticInterruptCommand, StartInstancesCommand,
  StopInstancesCommand, TerminateInstancesCommand, type Tag,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { modelProblems } from './serviceModel.js';

// EC2 for the driver conformance suite, through aws-sdk-client-mock: the one place a test double
// stands in for the service (no EC2 emulator is in the registries). It keeps instances, volumes,
// network interfaces and root-volume tasks, answers each call in the shape EC2's API reference
// gives for it, with EC2's error codes for a call made in the wrong state, and moves transitional
// states on (pending, stopping, attaching...) only when the test says time has passed: advance().
// Every request is checked against the SDK's own model (serviceModel.ts) as it is made.

type State = 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';

interface FakeInstance {
  id: string; state: State; type: string; launchTime: number; tags: Tag[]; hibernation: boolean; clientToken?: string;
  imageId: string; hibernated?: boolean; reboots: number; interrupts: number;
  /** What the guest wrote to its serial console; `latest: false` for an instance type that keeps no live console (Xen). */
  console?: string; latest?: boolean;
}
interface FakeVolume { id: string; state: 'available' | 'in-use'; attachment?: { instanceId: string; state: 'attaching' | 'attached' | 'detaching'; device: string } }
interface FakeInterface { id: string; status: 'available' | 'in-use'; attachment?: { id: string; instanceId: string; status: 'attaching' | 'attached' | 'detaching'; deviceIndex: number } }
interface FakeImage { id: string; name: string; state: 'pending' | 'available'; tags: Tag[]; instanceId: string; noReboot: boolean; snapshotId: string }
interface FakeSnapshot { id: string; tags: Tag[] }
interface FakeTask { id: string; instanceId: string; imageId: string; state: 'pending' | 'in-progress' | 'succeeded' | 'failed'; tags: Tag[]; clientToken: string }

export const ec2Error = (code: string, message = code) => Object.assign(new Error(message), { name: code, $fault: 'client' as const });

/** Thrown after EC2 applied a call: the process died before it could act on the answer. */
export class DiedAfterCall extends Error {
  override readonly name = 'DiedAfterCall';
}

const MUTATIONS = new Set([
  'RunInstances', 'StartInstances', 'StopInstances', 'RebootInstances', 'TerminateInstances', 'ModifyInstanceAttribute',
  'CreateReplaceRootVolumeTask', 'CreateTags', 'SendDiagnosticInterrupt', 'CreateImage', 'DeregisterImage', 'DeleteSnapshot', 'AttachVolume', 'DetachVolume', 'AttachNetworkInterface', 'DetachNetworkInterface',
]);

export class FakeEc2 {
  readonly client = new EC2Client({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  readonly instances = new Map<string, FakeInstance>();
  readonly volumes = new Map<string, FakeVolume>();
  readonly interfaces = new Map<string, FakeInterface>();
  readonly tasks: FakeTask[] = [];
  /** AMIs (registered ones) and EBS snapshots; a deregistered AMI leaves its snapshot behind, as EC2's does. */
  readonly images = new Map<string, FakeImage>();
  readonly snapshots = new Map<string, FakeSnapshot>();
  /** Every call in order, and whether it changed anything (a call EC2 took as a no-op did not). */
  readonly calls: { action: string; input: unknown; effect: boolean }[] = [];
  readonly modelProblems: string[] = [];
  private seq = 0;
  /** EC2's clock: the real one, plus the time advance() let pass. */
  private passed = 0;
  private get clock() { return Date.now() + this.passed; }
  private throttled = 0;
  /** Mutating calls to let through before the one after which the worker dies (undefined: none). */
  private crashIn?: number;
  private readonly failOnce = new Map<string, string>();
  private readonly before = new Map<string, () => Promise<void>>();
  /**
   * Instances RunInstances made since time last passed: DescribeInstances does not list them yet
   * (EC2's eventual consistency), which is what makes the ClientToken necessary.
   */
  private readonly unlisted = new Set<string>();

  constructor() {
    const mock = mockClient(this.client);
    const on = <I>(command: new (...args: never[]) => { input: I }, action: string, handle: (input: NonNullable<I>) => { out: unknown; effect: boolean }) => {
      mock.on(command as never).callsFake(async (input: NonNullable<I>) => {
        const hook = this.before.get(action);
        this.before.delete(action);
        await hook?.();
        return this.call(action, input, () => handle(input));
      });
    };
    on(DescribeInstancesCommand, 'DescribeInstances', (i) => ({ out: this.describeInstances(i.Filters ?? []), effect: false }));
    on(RunInstancesCommand, 'RunInstances', (i) => this.run(i));
    on(StartInstancesCommand, 'StartInstances', (i) => this.power(i.InstanceIds!, 'start'));
    on(StopInstancesCommand, 'StopInstances', (i) => this.power(i.InstanceIds!, i.Hibernate ? 'hibernate' : 'stop'));
    on(RebootInstancesCommand, 'RebootInstances', (i) => this.power(i.InstanceIds!, 'reboot'));
    on(TerminateInstancesCommand, 'TerminateInstances', (i) => this.power(i.InstanceIds!, 'terminate'));
    on(CreateTagsCommand, 'CreateTags', (i) => {
      let effect = false;
      for (const id of i.Resources!) {
        const inst = this.instance(id);
        for (const tag of i.Tags ?? []) {
          const had = inst.tags.find((t) => t.Key === tag.Key);
          if (had?.Value === tag.Value) continue;
          inst.tags = [...inst.tags.filter((t) => t.Key !== tag.Key), tag];
          effect = true;
        }
      }
      return { out: {}, effect };
    });
    on(SendDiagnosticInterruptCommand, 'SendDiagnosticInterrupt', (i) => {
      const inst = this.instance(i.InstanceId!);
      if (inst.state !== 'running') throw ec2Error('IncorrectInstanceState', `The instance '${inst.id}' is not in the 'running' state.`);
      inst.interrupts++;
      return { out: {}, effect: true };
    });
    on(ModifyInstanceAttributeCommand, 'ModifyInstanceAttribute', (i) => {
      const inst = this.instance(i.InstanceId!);
      if (inst.state !== 'stopped') throw ec2Error('IncorrectInstanceState', `The instance '${inst.id}' is not in the 'stopped' state.`);
      const effect = inst.type !== i.InstanceType!.Value;
      inst.type = i.InstanceType!.Value!;
      return { out: {}, effect };
    });
    on(CreateReplaceRootVolumeTaskCommand, 'CreateReplaceRootVolumeTask', (i) => {
      const inst = this.instance(i.InstanceId!);
      const existing = this.tasks.find((t) => t.clientToken === i.ClientToken);
      if (existing) return { out: { ReplaceRootVolumeTask: this.taskOut(existing) }, effect: false };
      if (inst.state !== 'running' && inst.state !== 'stopped') throw ec2Error('IncorrectInstanceState', 'The instance is not running or stopped.');
      const task: FakeTask = {
        id: `replacevol-${this.hex()}`, instanceId: inst.id, imageId: i.ImageId!, state: 'pending',
        tags: i.TagSpecifications?.flatMap((s) => s.Tags ?? []) ?? [], clientToken: i.ClientToken!,
      };
      this.tasks.push(task);
      return { out: { ReplaceRootVolumeTask: this.taskOut(task) }, effect: true };
    });
    on(DescribeReplaceRootVolumeTasksCommand, 'DescribeReplaceRootVolumeTasks', (i) => {
      const ids = i.Filters?.find((f) => f.Name === 'instance-id')?.Values ?? [];
      return { out: { ReplaceRootVolumeTasks: this.tasks.filter((t) => ids.includes(t.instanceId)).map((t) => this.taskOut(t)) }, effect: false };
    });
    on(CreateImageCommand, 'CreateImage', (i) => {
      const inst = this.instance(i.InstanceId!);
      if ([...this.images.values()].some((x) => x.name === i.Name)) {
        throw ec2Error('InvalidAMIName.Duplicate', `AMI name ${i.Name} is already in use by AMI ${[...this.images.values()].find((x) => x.name === i.Name)!.id}`);
      }
      if (inst.state !== 'running' && inst.state !== 'stopped') throw ec2Error('IncorrectInstanceState', `The instance '${inst.id}' is not in a state from which it can be imaged.`);
      const tagsFor = (type: string) => i.TagSpecifications?.find((t) => t.ResourceType === type)?.Tags ?? [];
      const snapshot: FakeSnapshot = { id: `snap-${this.hex()}`, tags: tagsFor('snapshot') };
      const image: FakeImage = {
        id: `ami-${this.hex()}`, name: i.Name!, state: 'pending', tags: tagsFor('image'), instanceId: inst.id, noReboot: i.NoReboot === true, snapshotId: snapshot.id,
      };
      this.snapshots.set(snapshot.id, snapshot);
      this.images.set(image.id, image);
      this.unlisted.add(image.id);
      if (!image.noReboot && inst.state === 'running') inst.reboots++;
      return { out: { ImageId: image.id }, effect: true };
    });
    on(DescribeImagesCommand, 'DescribeImages', (i) => {
      const images = [...this.images.values()].filter((x) => !this.unlisted.has(x.id) && this.matches(i.Filters ?? [], x.tags, { name: x.name }));
      return {
        out: { Images: images.map((x) => ({ ImageId: x.id, Name: x.name, State: x.state, Tags: x.tags, BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: x.snapshotId } }] })) },
        effect: false,
      };
    });
    on(DeregisterImageCommand, 'DeregisterImage', (i) => {
      if (!this.images.delete(i.ImageId!)) throw ec2Error('InvalidAMIID.NotFound', `The image id '[${i.ImageId}]' does not exist`);
      return { out: {}, effect: true };
    });
    on(DescribeSnapshotsCommand, 'DescribeSnapshots', (i) => ({
      out: { Snapshots: [...this.snapshots.values()].filter((x) => this.matches(i.Filters ?? [], x.tags, {})).map((x) => ({ SnapshotId: x.id, Tags: x.tags, State: 'completed' })) },
      effect: false,
    }));
    on(DeleteSnapshotCommand, 'DeleteSnapshot', (i) => {
      const user = [...this.images.values()].find((x) => x.snapshotId === i.SnapshotId);
      if (user) throw ec2Error('InvalidSnapshot.InUse', `The snapshot ${i.SnapshotId} is currently in use by ${user.id}`);
      if (!this.snapshots.delete(i.SnapshotId!)) throw ec2Error('InvalidSnapshot.NotFound', `The snapshot '${i.SnapshotId}' does not exist.`);
      return { out: {}, effect: true };
    });
    on(GetConsoleOutputCommand, 'GetConsoleOutput', (i) => {
      const inst = this.instance(i.InstanceId!);
      if (i.Latest && inst.latest === false) throw ec2Error('UnsupportedOperation', 'The latest console output is only available on Nitro instances.');
      return { out: { InstanceId: inst.id, Timestamp: new Date(this.clock), Output: Buffer.from(inst.console ?? '').toString('base64') }, effect: false };
    });
    on(DescribeVolumesCommand, 'DescribeVolumes', (i) => {
      const v = this.volumes.get(i.VolumeIds![0]!);
      if (!v) throw ec2Error('InvalidVolume.NotFound', `The volume '${i.VolumeIds![0]}' does not exist.`);
      return {
        out: {
          Volumes: [{
            VolumeId: v.id, State: v.state, Size: 1, AvailabilityZone: 'us-east-1a',
            Attachments: v.attachment ? [{ InstanceId: v.attachment.instanceId, State: v.attachment.state, Device: v.attachment.device, VolumeId: v.id }] : [],
          }],
        },
        effect: false,
      };
    });
    on(AttachVolumeCommand, 'AttachVolume', (i) => {
      const v = this.volumes.get(i.VolumeId!)!;
      this.instance(i.InstanceId!);
      if (v.attachment) throw ec2Error('VolumeInUse', `${v.id} is already attached to an instance`);
      v.attachment = { instanceId: i.InstanceId!, state: 'attaching', device: i.Device! };
      v.state = 'in-use';
      return { out: { VolumeId: v.id, InstanceId: i.InstanceId, Device: i.Device, State: 'attaching' }, effect: true };
    });
    on(DetachVolumeCommand, 'DetachVolume', (i) => {
      const v = this.volumes.get(i.VolumeId!)!;
      if (!v.attachment) throw ec2Error('IncorrectState', `Volume '${v.id}' is in the 'available' state.`);
      const effect = v.attachment.state !== 'detaching';
      v.attachment.state = 'detaching';
      return { out: { VolumeId: v.id, InstanceId: v.attachment.instanceId, State: 'detaching' }, effect };
    });
    on(DescribeNetworkInterfacesCommand, 'DescribeNetworkInterfaces', (i) => {
      const n = this.interfaces.get(i.NetworkInterfaceIds![0]!);
      if (!n) throw ec2Error('InvalidNetworkInterfaceID.NotFound', `The networkInterface ID '${i.NetworkInterfaceIds![0]}' does not exist`);
      return {
        out: {
          NetworkInterfaces: [{
            NetworkInterfaceId: n.id, Status: n.status,
            ...(n.attachment ? { Attachment: { AttachmentId: n.attachment.id, InstanceId: n.attachment.instanceId, Status: n.attachment.status, DeviceIndex: n.attachment.deviceIndex } } : {}),
          }],
        },
        effect: false,
      };
    });
    on(AttachNetworkInterfaceCommand, 'AttachNetworkInterface', (i) => {
      const n = this.interfaces.get(i.NetworkInterfaceId!)!;
      this.instance(i.InstanceId!);
      if (n.attachment) throw ec2Error('InvalidNetworkInterface.InUse', `Interface: [${n.id}] in use.`);
      n.attachment = { id: `eni-attach-${this.hex()}`, instanceId: i.InstanceId!, status: 'attaching', deviceIndex: i.DeviceIndex! };
      n.status = 'in-use';
      return { out: { AttachmentId: n.attachment.id }, effect: true };
    });
    on(DetachNetworkInterfaceCommand, 'DetachNetworkInterface', (i) => {
      const n = [...this.interfaces.values()].find((x) => x.attachment?.id === i.AttachmentId);
      if (!n) throw ec2Error('InvalidAttachmentID.NotFound', `Interface attachment '${i.AttachmentId}' not found.`);
      const effect = n.attachment!.status !== 'detaching';
      n.attachment!.status = 'detaching';
      return { out: {}, effect };
    });
  }

  /** EC2's Filters on tags (`tag:<key>`) and on named attributes. */
  private matches(filters: { Name?: string; Values?: string[] }[], tags: Tag[], attributes: Record<string, string>): boolean {
    return filters.every((f) => (f.Name?.startsWith('tag:')
      ? tags.some((t) => t.Key === f.Name!.slice(4) && f.Values?.includes(t.Value!))
      : f.Name !== undefined && Object.hasOwn(attributes, f.Name) ? f.Values?.includes(attributes[f.Name]!) ?? false : true));
  }

  private hex = () => (++this.seq).toString(16).padStart(17, '0');

  private call(action: string, input: unknown, handle: () => { out: unknown; effect: boolean }): unknown {
    this.modelProblems.push(...modelProblems(action, input));
    if (this.throttled > 0) {
      this.throttled--;
      this.calls.push({ action, input, effect: false });
      throw ec2Error('RequestLimitExceeded', 'Request limit exceeded.');
    }
    const failure = this.failOnce.get(action);
    if (failure) {
      this.failOnce.delete(action);
      this.calls.push({ action, input, effect: false });
      throw ec2Error(failure, `${failure} (injected)`);
    }
    let result: { out: unknown; effect: boolean };
    try {
      result = handle();
    } catch (err) {
      this.calls.push({ action, input, effect: false });
      throw err;
    }
    this.calls.push({ action, input, effect: result.effect });
    if (this.crashIn !== undefined && MUTATIONS.has(action) && --this.crashIn === 0) {
      this.crashIn = undefined;
      throw new DiedAfterCall(`the worker died after ${action} was made`);
    }
    return result.out;
  }

  private instance(id: string): FakeInstance {
    const inst = this.instances.get(id);
    if (!inst) throw ec2Error('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
    return inst;
  }

  private instanceOut(i: FakeInstance) {
    const enis = [...this.interfaces.values()].filter((n) => n.attachment?.instanceId === i.id && n.attachment.status !== 'detaching');
    return {
      InstanceId: i.id, ImageId: i.imageId, InstanceType: i.type, LaunchTime: new Date(i.launchTime),
      State: { Name: i.state, Code: { pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80 }[i.state] },
      Tags: i.tags, HibernationOptions: { Configured: i.hibernation },
      NetworkInterfaces: [
        { NetworkInterfaceId: `eni-primary${i.id.slice(2, 10)}`, Attachment: { DeviceIndex: 0, Status: 'attached' } },
        ...enis.map((n) => ({ NetworkInterfaceId: n.id, Attachment: { DeviceIndex: n.attachment!.deviceIndex, Status: n.attachment!.status } })),
      ],
    };
  }

  private taskOut(t: FakeTask) {
    return { ReplaceRootVolumeTaskId: t.id, InstanceId: t.instanceId, TaskState: t.state, Tags: t.tags, ImageId: t.imageId };
  }

  private describeInstances(filters: { Name?: string; Values?: string[] }[]) {
    const matches = [...this.instances.values()].filter((i) => !this.unlisted.has(i.id) && filters.every((f) => {
      if (f.Name?.startsWith('tag:')) return i.tags.some((t) => t.Key === f.Name!.slice(4) && f.Values?.includes(t.Value!));
      if (f.Name === 'instance-id') return f.Values?.includes(i.id);
      return true;
    }));
    return { Reservations: matches.map((i) => ({ ReservationId: `r-${i.id.slice(2)}`, OwnerId: '123456789012', Instances: [this.instanceOut(i)] })) };
  }

  private run(i: ConstructorParameters<typeof RunInstancesCommand>[0]) {
    const existing = i.ClientToken ? [...this.instances.values()].find((x) => x.clientToken === i.ClientToken) : undefined;
    if (existing) return { out: { ReservationId: `r-${existing.id.slice(2)}`, Instances: [this.instanceOut(existing)] }, effect: false };
    const inst: FakeInstance = {
      id: `i-${this.hex()}`, state: 'pending', type: String(i.InstanceType), launchTime: this.clock, imageId: i.ImageId!,
      tags: i.TagSpecifications?.find((s) => s.ResourceType === 'instance')?.Tags ?? [], hibernation: i.HibernationOptions?.Configured === true,
      clientToken: i.ClientToken, reboots: 0, interrupts: 0,
    };
    this.instances.set(inst.id, inst);
    this.unlisted.add(inst.id);
    return { out: { ReservationId: `r-${inst.id.slice(2)}`, OwnerId: '123456789012', Instances: [this.instanceOut(inst)] }, effect: true };
  }

  private power(ids: string[], how: 'start' | 'stop' | 'hibernate' | 'reboot' | 'terminate') {
    const inst = this.instance(ids[0]!);
    const before = inst.state;
    const wrong = () => ec2Error('IncorrectInstanceState', `The instance '${inst.id}' is not in a state from which it can be ${how}ed.`);
    if (before === 'terminated' && how !== 'terminate') throw wrong();
    switch (how) {
      case 'start':
        if (before === 'stopping' || before === 'shutting-down') throw wrong();
        if (before === 'stopped') { inst.state = 'pending'; inst.launchTime = this.clock; inst.hibernated = false; }
        break;
      case 'stop': case 'hibernate':
        if (how === 'hibernate' && !inst.hibernation) throw ec2Error('UnsupportedHibernationConfiguration', 'The instance is not configured for hibernation.');
        if (before === 'pending' || before === 'shutting-down') throw wrong();
        if (before === 'running') { inst.state = 'stopping'; inst.hibernated = how === 'hibernate'; }
        break;
      case 'reboot':
        if (before !== 'running') throw wrong();
        inst.reboots++;
        return { out: {}, effect: true };
      case 'terminate':
        if (before !== 'terminated') inst.state = 'shutting-down';
        break;
    }
    return {
      out: { [how === 'terminate' ? 'TerminatingInstances' : how === 'start' ? 'StartingInstances' : 'StoppingInstances']: [{ InstanceId: inst.id, PreviousState: { Name: before }, CurrentState: { Name: inst.state } }] },
      effect: inst.state !== before,
    };
  }

  // ---- the test's side: time, failures, the world outside taskgate -------------------------

  /** Time passes: every transition EC2 had started is finished. */
  advance(ms = 30_000): void {
    this.passed += ms;
    this.unlisted.clear();
    for (const i of this.instances.values()) {
      if (i.state === 'pending') i.state = 'running';
      else if (i.state === 'stopping') i.state = 'stopped';
      else if (i.state === 'shutting-down') i.state = 'terminated';
    }
    for (const v of this.volumes.values()) {
      if (v.attachment?.state === 'attaching') v.attachment.state = 'attached';
      else if (v.attachment?.state === 'detaching') { v.attachment = undefined; v.state = 'available'; }
    }
    for (const n of this.interfaces.values()) {
      if (n.attachment?.status === 'attaching') n.attachment.status = 'attached';
      else if (n.attachment?.status === 'detaching') { n.attachment = undefined; n.status = 'available'; }
    }
    for (const image of this.images.values()) image.state = 'available';
    for (const t of this.tasks) {
      if (t.state === 'pending' || t.state === 'in-progress') {
        t.state = 'succeeded';
        const inst = this.instances.get(t.instanceId);
        if (inst) inst.imageId = t.imageId;
      }
    }
  }

  now = () => this.clock;
  throttleNext(n: number) { this.throttled = n; }
  failNext(action: string, code: string) { this.failOnce.set(action, code); }
  /** Runs `hook` when the driver next makes `action`, before EC2 answers it. */
  beforeNext(action: string, hook: () => Promise<void>) { this.before.set(action, hook); }
  /** The k-th call from now that may change EC2 is made, and the worker dies before it hears the answer. */
  crashAfterCall(k: number) { this.crashIn = k; }

  /** An instance for a server, as a finished create (and whatever followed) left it. */
  provision(server: { id: string; projectId: string; requestId: string }, state: State, type: string, imageId: string, hibernation = true): string {
    const id = `i-${this.hex()}`;
    this.instances.set(id, {
      id, state, type, imageId, hibernation, launchTime: this.clock - 3_600_000, reboots: 0, interrupts: 0, hibernated: state === 'stopped',
      tags: [
        { Key: 'taskgate:stack', Value: 'conformance' }, { Key: 'taskgate:server', Value: server.id },
        { Key: 'taskgate:project', Value: server.projectId }, { Key: 'taskgate:request', Value: server.requestId },
      ],
    });
    return id;
  }

  addVolume(attachedTo?: string): string {
    const id = `vol-${this.hex()}`;
    this.volumes.set(id, attachedTo
      ? { id, state: 'in-use', attachment: { instanceId: attachedTo, state: 'attached', device: '/dev/sdb' } }
      : { id, state: 'available' });
    return id;
  }

  addInterface(attachedTo?: string): string {
    const id = `eni-${this.hex()}`;
    this.interfaces.set(id, attachedTo
      ? { id, status: 'in-use', attachment: { id: `eni-attach-${this.hex()}`, instanceId: attachedTo, status: 'attached', deviceIndex: 1 } }
      : { id, status: 'available' });
    return id;
  }

  /** Changed outside taskgate (the console, another tool). */
  setState(instanceId: string, state: State) { this.instance(instanceId).state = state; }
  forget(instanceId: string) { this.instances.delete(instanceId); }
  serverInstances(serverId: string) {
    return [...this.instances.values()].filter((i) => i.tags.some((t) => t.Key === 'taskgate:server' && t.Value === serverId));
  }
  effects = () => this.calls.filter((c) => c.effect).length;
}
