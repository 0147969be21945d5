import type { Ec2Settings } from '../../shared/config.js';
import { DriverError } from '../../shared/errors.js';

/**
 * taskgate's ids to EC2's: a flavor is an instance type, an image an AMI, a volume an EBS volume,
 * a port an ENI (config.ts ec2Settings). A server built on something unmapped fails as Nova fails
 * a build its host cannot serve: the operation ends in error with a fault saying what is missing.
 */
export class Ec2Resources {
  constructor(private readonly settings: Ec2Settings) {}

  private lookup(map: Readonly<Record<string, string>>, id: string, what: string, setting: string): string {
    const found = Object.hasOwn(map, id) ? map[id] : undefined;
    if (!found) throw new DriverError(`No EC2 ${what} for ${JSON.stringify(id)}: add it to ${setting}`, 400);
    return found;
  }

  instanceType = (flavorId: string) => this.lookup(this.settings.instanceTypes, flavorId, 'instance type', 'TASKGATE_EC2_INSTANCE_TYPES');
  ami = (imageId: string) => this.lookup(this.settings.amis, imageId, 'AMI', 'TASKGATE_EC2_AMIS');
  ebsVolume = (volumeId: string) => this.lookup(this.settings.ebsVolumes, volumeId, 'volume', 'TASKGATE_EC2_VOLUMES');
  networkInterface = (portId: string) =>
    this.lookup(this.settings.networkInterfaces, portId, 'network interface', 'TASKGATE_EC2_NETWORK_INTERFACES');
}

/**
 * Nova names a guest's disks /dev/vdX (virtio); EC2 takes /dev/sdX (or xvdX) in an AttachVolume
 * and shows it to the guest as it will. The letter is kept.
 */
export function ec2DeviceName(novaDevice: string): string {
  const m = /^\/dev\/(?:vd|xvd|sd|hd)([a-z]{1,2})$/.exec(novaDevice);
  if (!m) throw new DriverError(`EC2 takes no device named ${JSON.stringify(novaDevice)}`, 400);
  return `/dev/sd${m[1]}`;
}
