import {
  AttachNetworkInterfaceCommand, AttachVolumeCommand, CreateImageCommand, CreateReplaceRootVolumeTaskCommand, CreateTagsCommand, DeleteSnapshotCommand,
  DeregisterImageCommand, DetachNetworkInterfaceCommand, DetachVolumeCommand, ModifyInstanceAttributeCommand, RebootInstancesCommand, RunInstancesCommand, SendDiagnosticInterruptCommand, StartInstancesCommand,
  StopInstancesCommand, TerminateInstancesCommand, type EC2Client,
} from '@aws-sdk/client-ec2';
import { Ports, Volumes } from '../../shared/attachables.js';
import type { Ec2Settings } from '../../shared/config.js';
import type { Table } from '../../shared/table.js';
import type { Image } from '../../images/image.js';
import { registeredAsAmi } from '../../images/snapshots.js';
import { attachableIdOf, attachedPatch, detachedPatch } from '../attachmentPatches.js';
import type { OperationName } from '../catalogue.js';
import type { OperationContext } from '../driver.js';
import type { InstancePatch } from '../instance.js';
import { PowerState, type TaskState } from '../states.js';
import { amiName, type AmiView, type InstanceView, type InterfaceView, type VolumeView } from './observe.js';
import type { Ec2Unsupported } from './capabilities.js';
import { ec2DeviceName, type Ec2Resources } from './resources.js';
import { TagKeys, tagging, tagsOf } from './tags.js';

// The mapping: for each catalogue operation, what it reads from EC2 and, given what it read,
// its next move. A plan never remembers what it did: it decides from EC2's state alone (and the
// claim's time), so a resumption after a crash picks up where EC2 is, whatever was answered.
// docs/ec2.md is this table in prose.

export interface Seen {
  readonly instance?: InstanceView;
  readonly volume?: VolumeView;
  readonly iface?: InterfaceView;
  /** The state of this request's root-volume replacement, if it started one. */
  readonly rootTask?: string;
  /** A snapshot or backup: its AMI, if EC2 lists one, and its image record as the image service has it. */
  readonly ami?: AmiView;
  readonly imageRecord?: Image;
  /** A backup: what is left on EC2 of the server's backups beyond its rotation. */
  readonly rotation?: { readonly amis: readonly AmiView[]; readonly snapshots: readonly string[] };
}

export type Move =
  /** The operation is finished: release the claim with this patch. */
  | { readonly kind: 'done'; readonly patch: InstancePatch }
  /** EC2 is on its way: look again later. */
  | { readonly kind: 'wait'; readonly reason: string }
  /** Make this call (fenced by a checkpoint first); then look again later, look again now, or finish. */
  | {
    readonly kind: 'call'; readonly action: string; readonly send: (ec2: EC2Client) => Promise<unknown>;
    readonly then: 'wait' | 'look' | { readonly patch: InstancePatch }; readonly taskState?: TaskState;
  }
  /** Write taskgate's own record of what EC2 did (fenced by a checkpoint first), then look again. */
  | { readonly kind: 'write'; readonly what: string; readonly write: (table: Table) => Promise<void> }
  | { readonly kind: 'fail'; readonly message: string; readonly code?: number };

export interface PlanInput {
  readonly ctx: OperationContext;
  readonly seen: Seen;
  readonly resources: Ec2Resources;
  readonly settings: Ec2Settings;
}

export type Looks = 'nothing' | 'instance' | 'volume' | 'interface' | 'rootVolumeTask' | 'image';

export interface Plan {
  readonly looks: Looks;
  /** Whether the operation expects the server to have a live instance (create and delete do not). */
  readonly needsInstance: boolean;
  readonly next: (input: PlanInput) => Move;
}

const done = (patch: InstancePatch): Move => ({ kind: 'done', patch });
const wait = (reason: string): Move => ({ kind: 'wait', reason });

const start = (id: string, taskState?: TaskState): Move => ({
  kind: 'call', action: 'StartInstances', then: 'wait', taskState,
  send: (ec2) => ec2.send(new StartInstancesCommand({ InstanceIds: [id] })),
});
const stop = (id: string, how: { force?: boolean; hibernate?: boolean; taskState?: TaskState } = {}): Move => ({
  kind: 'call', action: how.hibernate ? 'StopInstances Hibernate' : how.force ? 'StopInstances Force' : 'StopInstances', then: 'wait',
  taskState: how.taskState,
  send: (ec2) => ec2.send(new StopInstancesCommand({
    InstanceIds: [id], ...(how.force ? { Force: true } : {}), ...(how.hibernate ? { Hibernate: true } : {}),
  })),
});

/** Brings the instance to running or stopped through EC2's transitions, then finishes with `patch`. */
function powered(want: 'running' | 'stopped', i: InstanceView, patch: InstancePatch, taskState?: TaskState): Move {
  if (i.state === want) return done(patch);
  if (i.state === 'pending' || i.state === 'stopping') return wait(`instance ${i.id} is ${i.state}`);
  return want === 'running' ? start(i.id, taskState) : stop(i.id, { taskState });
}

const powerPlan = (want: 'running' | 'stopped', powerState: InstancePatch['powerState']): Plan => ({
  looks: 'instance', needsInstance: true,
  next: ({ seen }) => powered(want, seen.instance!, { powerState }),
});

/** Pause and suspend: EC2's hibernation (memory to the EBS root), where the instance was launched for it. */
const hibernatePlan = (powerState: InstancePatch['powerState']): Plan => ({
  looks: 'instance', needsInstance: true,
  next: ({ ctx, seen }) => {
    const i = seen.instance!;
    if (i.state === 'stopped') return done({ powerState });
    if (i.state === 'pending' || i.state === 'stopping') return wait(`instance ${i.id} is ${i.state}`);
    if (!i.hibernationConfigured) {
      return { kind: 'fail', message: `EC2 instance ${i.id} was not launched with hibernation configured: ${ctx.op} needs it (UnsupportedHibernationConfiguration)` };
    }
    return stop(i.id, { hibernate: true });
  },
});

/** Resize and its revert: stopped, given the target instance type, started again if it ran before. */
function retypePlan(
  target: (input: PlanInput) => string, wantRunning: (ctx: OperationContext) => boolean, patch: (ctx: OperationContext) => InstancePatch,
  taskStates: { readonly migrating?: TaskState; readonly finishing?: TaskState } = {},
): Plan {
  return {
    looks: 'instance', needsInstance: true,
    next: (input) => {
      const i = input.seen.instance!;
      const type = target(input);
      const { ctx } = input;
      if (i.instanceType === type) return powered(wantRunning(ctx) ? 'running' : 'stopped', i, patch(ctx), taskStates.finishing);
      if (i.state === 'stopped') {
        return {
          kind: 'call', action: 'ModifyInstanceAttribute InstanceType', then: 'look', taskState: taskStates.migrating,
          send: (ec2) => ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: i.id, InstanceType: { Value: type } })),
        };
      }
      return powered('stopped', i, {}, taskStates.migrating);
    },
  };
}

/**
 * createImage and createBackup: EC2's CreateImage, then the image record made active with the
 * AMI's id, then (a backup) the AMIs and EBS snapshots of the backups beyond its rotation gone.
 * NoReboot: Nova's libvirt driver snapshots a running guest live (the guest keeps running, the
 * image is crash-consistent) and never reboots it for a snapshot; CreateImage's default would
 * shut the instance down and start it again. The AMI's name comes from the image id, and EC2
 * refuses a second image of one name: a CreateImage whose answer was lost, or that a look does
 * not list yet, is made again harmlessly (InvalidAMIName.Duplicate, and the next look sees it).
 */
const snapshotPlan: Plan = {
  looks: 'image', needsInstance: true,
  next: ({ ctx, seen, settings }) => {
    const i = seen.instance!;
    const image = ctx.params.image as Image;
    const record = seen.imageRecord;
    const uploading = record?.status === 'queued' || record?.status === 'saving';
    const ami = seen.ami;
    if (!ami && uploading) {
      if (i.state === 'pending' || i.state === 'stopping') return wait(`instance ${i.id} is ${i.state}`);
      const tags = [
        ...tagsOf({ stack: settings.stackTag, server: ctx.instance.id, project: ctx.instance.projectId, request: ctx.requestId }),
        { Key: TagKeys.image, Value: image.id },
      ];
      return {
        kind: 'call', action: 'CreateImage', then: 'wait', taskState: 'image_pending_upload',
        send: (ec2) => ec2.send(new CreateImageCommand({
          InstanceId: i.id, Name: amiName(image.id), NoReboot: true, TagSpecifications: tagging(['image', 'snapshot'], tags),
        })),
      };
    }
    if (ami?.state === 'pending') return wait(`AMI ${ami.id} is pending`);
    if (ami && ami.state !== 'available' && uploading) return { kind: 'fail', message: `EC2 image ${ami.id} of snapshot ${image.id} is ${ami.state}` };
    if (ami && uploading) {
      const amiId = ami.id;
      return { kind: 'write', what: `image ${image.id} is AMI ${amiId}`, write: (table) => registeredAsAmi(table, image.id, ctx.instance, amiId, Date.now(), ctx.fence) };
    }
    // Nova's _rotate_backups, on EC2: each AMI deregistered first, then its snapshots, which EC2
    // keeps from deletion while an AMI uses them. Only what this stack tagged with those images.
    const gone = seen.rotation?.amis[0];
    if (gone) {
      return {
        kind: 'call', action: 'DeregisterImage', then: 'look', taskState: 'image_uploading',
        send: (ec2) => ec2.send(new DeregisterImageCommand({ ImageId: gone.id })),
      };
    }
    const snapshot = seen.rotation?.snapshots[0];
    if (snapshot) {
      return {
        kind: 'call', action: 'DeleteSnapshot', then: 'look', taskState: 'image_uploading',
        send: (ec2) => ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshot })),
      };
    }
    return done({});
  },
};

const powerOf = (i: InstanceView) => (i.state === 'stopped' ? PowerState.SHUTDOWN : PowerState.RUNNING);

/**
 * Every catalogue operation that EC2 can carry out: all but those capabilities.ts declares
 * unsupported, which admission refuses before anything is written.
 */
export const Plans: Readonly<Partial<Record<OperationName, Plan>> & Record<Exclude<OperationName, Ec2Unsupported>, Plan>> = {
  create: {
    looks: 'instance', needsInstance: false,
    next: ({ ctx, seen, resources, settings }) => {
      const i = seen.instance;
      if (i) return powered('running', i, { powerState: PowerState.RUNNING });
      const server = ctx.instance;
      const tags = tagsOf({ stack: settings.stackTag, server: server.id, project: server.projectId, request: ctx.requestId });
      const input = {
        // The request id as ClientToken: a redelivery (or a resumption that did not see the
        // instance yet: DescribeInstances is eventually consistent) gets the same instance back.
        ClientToken: ctx.requestId,
        ImageId: resources.ami(server.imageId),
        InstanceType: resources.instanceType(server.flavorId) as never,
        MinCount: 1, MaxCount: 1,
        SubnetId: settings.subnetId,
        SecurityGroupIds: [...settings.securityGroupIds],
        ...(settings.instanceProfileArn ? { IamInstanceProfile: { Arn: settings.instanceProfileArn } } : {}),
        ...(settings.keyName ? { KeyName: settings.keyName } : {}),
        // Nova's user_data is base64 already, as RunInstances takes it.
        ...(server.userData ? { UserData: server.userData } : {}),
        MetadataOptions: { HttpTokens: 'required' as const },
        TagSpecifications: tagging(['instance', 'volume', 'network-interface'], tags),
      };
      return {
        kind: 'call', action: 'RunInstances', then: 'wait', taskState: 'spawning',
        send: (ec2) => ec2.send(new RunInstancesCommand(input)),
      };
    },
  },
  delete: {
    looks: 'instance', needsInstance: false,
    next: ({ seen }) => {
      const i = seen.instance;
      if (!i || i.state === 'terminated') return done({ powerState: PowerState.NOSTATE });
      if (i.state === 'shutting-down') return wait(`instance ${i.id} is shutting down`);
      return {
        kind: 'call', action: 'TerminateInstances', then: 'wait',
        send: (ec2) => ec2.send(new TerminateInstancesCommand({ InstanceIds: [i.id] })),
      };
    },
  },
  start: powerPlan('running', PowerState.RUNNING),
  stop: powerPlan('stopped', PowerState.SHUTDOWN),
  unpause: powerPlan('running', PowerState.RUNNING),
  resume: powerPlan('running', PowerState.RUNNING),
  unshelve: powerPlan('running', PowerState.RUNNING),
  // Shelving keeps the EBS root volume as Nova keeps the shelved snapshot; a stopped EBS-backed
  // instance holds no host already, so offloading has nothing left to give back on EC2.
  shelve: powerPlan('stopped', PowerState.SHUTDOWN),
  shelve_offload: { looks: 'nothing', needsInstance: false, next: () => done({ powerState: PowerState.NOSTATE }) },
  pause: hibernatePlan(PowerState.PAUSED),
  suspend: hibernatePlan(PowerState.SUSPENDED),
  // Nova's inject_nmi: EC2 sends the guest a diagnostic interrupt (an NMI). Only to a running
  // guest, as libvirt's (InstanceNotRunning otherwise). Nothing to read back: sent again after a crash.
  trigger_crash_dump: {
    looks: 'instance', needsInstance: true,
    next: ({ ctx, seen }) => {
      const i = seen.instance!;
      if (i.state === 'pending') return wait(`instance ${i.id} is pending`);
      if (i.state !== 'running') return { kind: 'fail', message: `Instance ${ctx.instance.id} is not running.`, code: 409 };
      return {
        kind: 'call', action: 'SendDiagnosticInterrupt', then: { patch: {} },
        send: (ec2) => ec2.send(new SendDiagnosticInterruptCommand({ InstanceId: i.id })),
      };
    },
  },
  create_image: snapshotPlan,
  create_backup: snapshotPlan,
  reboot_soft: { looks: 'instance', needsInstance: true, next: ({ ctx, seen }) => rebooted(ctx, seen.instance!, 'soft') },
  reboot_hard: { looks: 'instance', needsInstance: true, next: ({ ctx, seen }) => rebooted(ctx, seen.instance!, 'hard') },
  resize: retypePlan(
    ({ ctx, resources }) => resources.instanceType(String(ctx.params.flavorRef)),
    (ctx) => ctx.instance.vmState !== 'stopped',
    (ctx) => ({
      flavorId: String(ctx.params.flavorRef),
      powerState: ctx.instance.vmState === 'stopped' ? PowerState.SHUTDOWN : PowerState.RUNNING,
    }),
    { migrating: 'resize_migrating', finishing: 'resize_finish' },
  ),
  revert_resize: retypePlan(
    ({ ctx, resources }) => resources.instanceType(ctx.instance.oldFlavorId ?? ctx.instance.flavorId),
    (ctx) => ctx.instance.preResizeVmState !== 'stopped',
    (ctx) => ({
      flavorId: ctx.instance.oldFlavorId ?? ctx.instance.flavorId,
      powerState: ctx.instance.preResizeVmState === 'stopped' ? PowerState.SHUTDOWN : PowerState.RUNNING,
      clear: ['oldFlavorId', 'preResizeVmState'],
    }),
  ),
  // EC2 changed the instance type in place: there is no source host to clean up.
  confirm_resize: { looks: 'nothing', needsInstance: false, next: () => done({ clear: ['oldFlavorId', 'preResizeVmState'] }) },
  rebuild: {
    looks: 'rootVolumeTask', needsInstance: true,
    next: ({ ctx, seen, resources, settings }) => {
      const i = seen.instance!;
      const imageId = String(ctx.params.imageRef ?? ctx.instance.imageId);
      const task = seen.rootTask;
      if (task === 'succeeded') return done({ imageId, powerState: powerOf(i) });
      if (task === 'failed' || task === 'failed-detached') return { kind: 'fail', message: `EC2 replace-root-volume task for ${i.id} ${task}` };
      if (task !== undefined) return wait(`replace-root-volume task is ${task}`);
      if (i.state !== 'running' && i.state !== 'stopped') return wait(`instance ${i.id} is ${i.state}`);
      const ImageId = resources.ami(imageId);
      const tags = tagsOf({ stack: settings.stackTag, server: ctx.instance.id, project: ctx.instance.projectId, request: ctx.requestId });
      return {
        kind: 'call', action: 'CreateReplaceRootVolumeTask', then: 'wait',
        send: (ec2) => ec2.send(new CreateReplaceRootVolumeTaskCommand({
          InstanceId: i.id, ImageId, DeleteReplacedRootVolume: true, ClientToken: ctx.requestId,
          TagSpecifications: tagging(['replace-root-volume-task'], tags),
        })),
      };
    },
  },
  attach_volume: {
    looks: 'volume', needsInstance: true,
    next: ({ ctx, seen, resources }) => {
      const v = seen.volume!;
      const i = seen.instance!;
      if (v.attachment === 'attached') return done(attachedPatch(ctx, Volumes));
      if (v.attachment === 'attaching') return wait('the volume is attaching');
      if (v.attachedElsewhere) return { kind: 'fail', message: `EC2 VolumeInUse: volume for ${attachableIdOf(ctx, Volumes)} is attached to another instance` };
      if (v.state !== 'available') return wait(`the volume is ${v.state}`);
      const VolumeId = resources.ebsVolume(attachableIdOf(ctx, Volumes));
      const Device = ec2DeviceName(String(ctx.params.device));
      return {
        kind: 'call', action: 'AttachVolume', then: 'wait',
        send: (ec2) => ec2.send(new AttachVolumeCommand({ InstanceId: i.id, VolumeId, Device })),
      };
    },
  },
  detach_volume: {
    looks: 'volume', needsInstance: true,
    next: ({ ctx, seen, resources }) => {
      const v = seen.volume!;
      if (!v.attachment || v.attachment === 'detached') return done(detachedPatch(ctx, Volumes));
      if (v.attachment === 'detaching') return wait('the volume is detaching');
      const VolumeId = resources.ebsVolume(attachableIdOf(ctx, Volumes));
      const InstanceId = seen.instance!.id;
      return {
        kind: 'call', action: 'DetachVolume', then: 'wait',
        send: (ec2) => ec2.send(new DetachVolumeCommand({ VolumeId, InstanceId })),
      };
    },
  },
  attach_interface: {
    looks: 'interface', needsInstance: true,
    next: ({ ctx, seen, resources }) => {
      const n = seen.iface!;
      const i = seen.instance!;
      if (n.attachedTo === i.id && n.attachmentStatus === 'attached') return done(attachedPatch(ctx, Ports));
      if (n.attachedTo === i.id) return wait(`the interface is ${n.attachmentStatus}`);
      if (n.attachedTo) return { kind: 'fail', message: `EC2 InvalidNetworkInterface.InUse: interface for ${attachableIdOf(ctx, Ports)} is attached to another instance` };
      if (n.status !== 'available') return wait(`the interface is ${n.status}`);
      const NetworkInterfaceId = resources.networkInterface(attachableIdOf(ctx, Ports));
      const DeviceIndex = Math.max(-1, ...i.interfaces.map((x) => x.deviceIndex)) + 1;
      return {
        kind: 'call', action: 'AttachNetworkInterface', then: 'wait',
        send: (ec2) => ec2.send(new AttachNetworkInterfaceCommand({ InstanceId: i.id, NetworkInterfaceId, DeviceIndex })),
      };
    },
  },
  detach_interface: {
    looks: 'interface', needsInstance: true,
    next: ({ ctx, seen }) => {
      const n = seen.iface!;
      if (n.attachedTo !== seen.instance!.id || !n.attachmentId || n.attachmentStatus === 'detached') return done(detachedPatch(ctx, Ports));
      if (n.attachmentStatus === 'detaching') return wait('the interface is detaching');
      const AttachmentId = n.attachmentId;
      return {
        kind: 'call', action: 'DetachNetworkInterface', then: 'wait',
        send: (ec2) => ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId })),
      };
    },
  },
};

/**
 * A reboot. Soft: RebootInstances on a running guest, done once sent (nothing to read back: a
 * reboot whose answer was lost is sent again). Hard, and soft on a guest that is not running (as
 * Nova falls back to hard): StopInstances Force, then, once stopped, the instance is tagged with
 * this request and started; running with that tag is done. The tag is what tells a resumption
 * where the reboot is; EC2's LaunchTime would too, but not every EC2-compatible API moves it.
 */
function rebooted(ctx: OperationContext, i: InstanceView, how: 'soft' | 'hard'): Move {
  const mine = i.restartedBy === ctx.requestId;
  if (i.state === 'pending' || i.state === 'stopping') return wait(`instance ${i.id} is ${i.state}`);
  if (i.state === 'running' && mine) return done({ powerState: PowerState.RUNNING });
  if (i.state === 'running' && how === 'soft') {
    return {
      kind: 'call', action: 'RebootInstances', then: { patch: { powerState: PowerState.RUNNING } },
      send: (ec2) => ec2.send(new RebootInstancesCommand({ InstanceIds: [i.id] })),
    };
  }
  if (i.state === 'running') return stop(i.id, { force: true });
  if (!mine) {
    return {
      kind: 'call', action: 'CreateTags taskgate:restarted', then: 'look',
      send: (ec2) => ec2.send(new CreateTagsCommand({ Resources: [i.id], Tags: [{ Key: TagKeys.restarted, Value: ctx.requestId }] })),
    };
  }
  return start(i.id);
}
