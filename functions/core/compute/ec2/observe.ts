import {
  DescribeImagesCommand, DescribeInstancesCommand, DescribeNetworkInterfacesCommand, DescribeSnapshotsCommand, DescribeReplaceRootVolumeTasksCommand, DescribeVolumesCommand,
  type EC2Client, type Instance as Ec2Instance,
} from '@aws-sdk/client-ec2';
import { TagKeys, tagValue } from './tags.js';

// What the driver reads from EC2 before each move: the server's instance, and the volume,
// network interface or root-volume task an operation works on. Every resumption starts here,
// so a call whose answer was lost (a crash after it) is seen by its effect, never made blind.

export type Ec2State = 'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped';

export interface InstanceView {
  readonly id: string;
  readonly state: Ec2State;
  readonly instanceType: string;
  /** When EC2 last started it (epoch ms): a start or a hard reboot's start moves it. */
  readonly launchTime: number;
  readonly hibernationConfigured: boolean;
  readonly serverId?: string;
  /** The request whose reboot stopped the instance and started it again (tags.ts). */
  readonly restartedBy?: string;
  readonly interfaces: readonly { readonly id: string; readonly deviceIndex: number }[];
}

export const isGone = (v: InstanceView | undefined) => !v || v.state === 'terminated' || v.state === 'shutting-down';

export function instanceView(i: Ec2Instance): InstanceView {
  return {
    id: i.InstanceId!,
    state: (i.State?.Name ?? 'pending') as Ec2State,
    instanceType: String(i.InstanceType),
    launchTime: i.LaunchTime ? new Date(i.LaunchTime).getTime() : 0,
    hibernationConfigured: i.HibernationOptions?.Configured === true,
    serverId: tagValue(i.Tags, TagKeys.server),
    restartedBy: tagValue(i.Tags, TagKeys.restarted),
    interfaces: (i.NetworkInterfaces ?? []).map((n) => ({ id: n.NetworkInterfaceId!, deviceIndex: n.Attachment?.DeviceIndex ?? 0 })),
  };
}

/**
 * The server's instance, found by its tags. A live one wins over a terminated one (a terminated
 * instance stays listed for about an hour); none at all is undefined.
 */
export async function serverInstance(ec2: EC2Client, stack: string, serverId: string): Promise<InstanceView | undefined> {
  const out = await ec2.send(new DescribeInstancesCommand({
    Filters: [{ Name: `tag:${TagKeys.server}`, Values: [serverId] }, { Name: `tag:${TagKeys.stack}`, Values: [stack] }],
  }));
  const views = (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map(instanceView);
  return views.find((v) => !isGone(v)) ?? views[0];
}

export interface VolumeView {
  readonly state: string;
  /** The attachment to the given instance, if any, and whether it is attached elsewhere. */
  readonly attachment?: string;
  readonly attachedElsewhere: boolean;
}

export async function volumeView(ec2: EC2Client, volumeId: string, instanceId: string | undefined): Promise<VolumeView> {
  const out = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] }));
  const volume = out.Volumes?.[0];
  const attachments = volume?.Attachments ?? [];
  const ours = attachments.find((a) => a.InstanceId === instanceId);
  return {
    state: String(volume?.State ?? 'unknown'),
    ...(ours ? { attachment: String(ours.State) } : {}),
    attachedElsewhere: attachments.some((a) => a.InstanceId !== instanceId && a.State !== 'detached'),
  };
}

export interface InterfaceView {
  readonly status: string;
  readonly attachmentId?: string;
  readonly attachedTo?: string;
  readonly attachmentStatus?: string;
}

export async function interfaceView(ec2: EC2Client, interfaceId: string): Promise<InterfaceView> {
  const out = await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [interfaceId] }));
  const eni = out.NetworkInterfaces?.[0];
  return {
    status: String(eni?.Status ?? 'unknown'),
    ...(eni?.Attachment?.AttachmentId ? { attachmentId: eni.Attachment.AttachmentId } : {}),
    ...(eni?.Attachment?.InstanceId ? { attachedTo: eni.Attachment.InstanceId } : {}),
    ...(eni?.Attachment?.Status ? { attachmentStatus: String(eni.Attachment.Status) } : {}),
  };
}

/** The state of the root-volume replacement this request started (tagged with its request id), if any. */
export async function rootVolumeTask(ec2: EC2Client, instanceId: string, requestId: string): Promise<string | undefined> {
  const out = await ec2.send(new DescribeReplaceRootVolumeTasksCommand({ Filters: [{ Name: 'instance-id', Values: [instanceId] }] }));
  const task = (out.ReplaceRootVolumeTasks ?? []).find((t) => tagValue(t.Tags, TagKeys.request) === requestId);
  return task ? String(task.TaskState) : undefined;
}

/**
 * The name of the AMI a snapshot or backup makes: EC2 refuses a second image of the same name in
 * a region (InvalidAMIName.Duplicate), which is what makes a repeated CreateImage harmless.
 */
export const amiName = (taskgateImageId: string) => `taskgate-${taskgateImageId}`;

export interface AmiView {
  readonly id: string;
  /** pending, available, failed, ... (deregistered ones are not listed). */
  readonly state: string;
  readonly taskgateImageId?: string;
}

/** The AMI made for this taskgate image, if EC2 lists it yet (DescribeImages is eventually consistent). */
export async function amiFor(ec2: EC2Client, taskgateImageId: string): Promise<AmiView | undefined> {
  const out = await ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'name', Values: [amiName(taskgateImageId)] }] }));
  const image = (out.Images ?? []).find((i) => i.State !== 'deregistered');
  return image ? { id: image.ImageId!, state: String(image.State) } : undefined;
}

/** What is left on EC2 of these taskgate images: their AMIs still registered and their EBS snapshots. */
export async function amisAndSnapshotsOf(ec2: EC2Client, stack: string, taskgateImageIds: readonly string[]): Promise<{ amis: AmiView[]; snapshots: string[] }> {
  if (taskgateImageIds.length === 0) return { amis: [], snapshots: [] };
  const Filters = [{ Name: `tag:${TagKeys.image}`, Values: [...taskgateImageIds] }, { Name: `tag:${TagKeys.stack}`, Values: [stack] }];
  const [images, snapshots] = await Promise.all([
    ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters })),
    ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters })),
  ]);
  return {
    amis: (images.Images ?? []).filter((i) => i.State !== 'deregistered')
      .map((i) => ({ id: i.ImageId!, state: String(i.State), taskgateImageId: tagValue(i.Tags, TagKeys.image) })),
    snapshots: (snapshots.Snapshots ?? []).map((x) => x.SnapshotId!),
  };
}
