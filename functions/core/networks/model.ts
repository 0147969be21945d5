import type { AttachableItem } from '../shared/attachables.js';
import { BadRequest, Conflict, NotFound } from '../shared/errors.js';

// Neutron's resources as taskgate keeps them in the one table. Networks, subnets and security
// groups are few: each kind lives in one partition, read whole (as flavors are). A port is the
// PORT# item the compute side reserves and binds (functions/core/shared/attachables.ts): one item,
// one mechanism for "at most one server". An address is an item of its own under its subnet,
// put only if absent: that put is what makes it unique.

export interface Network {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly projectId: string;
  readonly adminStateUp: boolean;
  readonly shared: boolean;
  /** Neutron's `router:external`. */
  readonly external: boolean;
  readonly mtu: number;
  readonly portSecurityEnabled: boolean;
  /** Subnet ids, in the order they were made (the first IPv4 one gives a port its address). */
  readonly subnets: readonly string[];
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly revision: number;
  /** Being deleted: a port being made on it gives up (networks.ts deleteNetwork). */
  readonly deleting?: boolean;
}

export interface AllocationPool {
  readonly start: string;
  readonly end: string;
}

export interface Subnet {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly projectId: string;
  readonly networkId: string;
  readonly ipVersion: 4 | 6;
  readonly cidr: string;
  readonly gatewayIp: string | null;
  readonly allocationPools: readonly AllocationPool[];
  readonly enableDhcp: boolean;
  readonly dnsNameservers: readonly string[];
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly revision: number;
  readonly deleting?: boolean;
}

export interface FixedIp {
  readonly subnetId: string;
  readonly ipAddress: string;
}

/**
 * A port: the attachable item (status available / attaching / in-use, and the server holding it)
 * with Neutron's fields. `creating` and `deleting` are the two transient states a port passes
 * through while its addresses are taken or given back; the sweeper finishes or undoes either
 * when the one who began it died (ports.ts).
 */
export interface Port extends Omit<AttachableItem, 'status'> {
  readonly status: AttachableItem['status'] | 'creating' | 'deleting';
  readonly projectId: string;
  readonly networkId: string;
  /** The network's name when the port was made: the label of the server's addresses. */
  readonly networkName: string;
  readonly name: string;
  readonly description: string;
  readonly macAddress: string;
  readonly fixedIps: readonly FixedIp[];
  /** The subnets it may hold an address in while `creating` (where an undo looks). */
  readonly subnetIds: readonly string[];
  readonly adminStateUp: boolean;
  readonly securityGroups: readonly string[];
  readonly portSecurityEnabled: boolean;
  /** Set through Neutron by a user, for a device that is not a server (a server's shows as instanceId). */
  readonly deviceId?: string;
  readonly deviceOwner?: string;
  /** The request that made it: a retry of that request finds it, an undo by it removes it. */
  readonly createdByRequest?: string;
  /** Nova made it for a server: it goes when the server lets go of it (detach, delete). */
  readonly novaMade?: boolean;
  /** Deleted through Neutron while a server held it: it goes when the server lets go of it. */
  readonly doomed?: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly revision: number;
}

export interface SecurityGroup {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly projectId: string;
  readonly stateful: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly revision: number;
}

export interface SecurityGroupRule {
  readonly id: string;
  readonly securityGroupId: string;
  readonly projectId: string;
  readonly direction: 'ingress' | 'egress';
  readonly ethertype: 'IPv4' | 'IPv6';
  readonly protocol: string | null;
  readonly portRangeMin: number | null;
  readonly portRangeMax: number | null;
  readonly remoteIpPrefix: string | null;
  readonly remoteGroupId: string | null;
  readonly description: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly revision: number;
  /** One of the rules Neutron gives every default group. */
  readonly belongsToDefault: boolean;
}

export const NETWORK_PARTITION = 'NETWORKS';
export const SUBNET_PARTITION = 'SUBNETS';
export const SECURITY_GROUP_PARTITION = 'SECURITY_GROUPS';
export const RULE_PARTITION = 'SECURITY_GROUP_RULES';

export const networkKeys = {
  network: (id: string) => ({ pk: NETWORK_PARTITION, sk: `NETWORK#${id}` }),
  subnet: (id: string) => ({ pk: SUBNET_PARTITION, sk: `SUBNET#${id}` }),
  /** One allocated address: the item whose conditional put makes it this port's alone. */
  address: (subnetId: string, ip: string) => ({ pk: `SUBNET#${subnetId}`, sk: `IP#${ip}` }),
  /** A port's presence on its network, where a network's deletion looks for ports consistently. */
  member: (networkId: string, portId: string) => ({ pk: `NETWORK#${networkId}`, sk: `PORT#${portId}` }),
  securityGroup: (id: string) => ({ pk: SECURITY_GROUP_PARTITION, sk: `SG#${id}` }),
  rule: (id: string) => ({ pk: RULE_PARTITION, sk: `RULE#${id}` }),
};

/** Who is asking, as Neutron's policies see it. */
export interface Asker {
  readonly projectId: string;
  readonly isAdmin: boolean;
}

// Neutron's errors (neutron_lib/exceptions), each with the type its body names.
export const networkNotFound = (id: string) => new NotFound(`Network ${id} could not be found.`, { type: 'NetworkNotFound' });
export const subnetNotFound = (id: string) => new NotFound(`Subnet ${id} could not be found.`, { type: 'SubnetNotFound' });
export const portNotFound = (id: string) => new NotFound(`Port ${id} could not be found.`, { type: 'PortNotFound' });
export const securityGroupNotFound = (id: string) =>
  new NotFound(`Security group ${id} does not exist`, { type: 'SecurityGroupNotFound' });
export const ruleNotFound = (id: string) =>
  new NotFound(`Security group rule ${id} does not exist`, { type: 'SecurityGroupRuleNotFound' });
export const invalidInput = (message: string) => new BadRequest(message, { type: 'HTTPBadRequest' });
export const addressesExhausted = (networkId: string) =>
  new Conflict(`No more IP addresses available on network ${networkId}.`, { type: 'IpAddressGenerationFailure' });
export const addressTaken = (ip: string, subnetId: string) =>
  new Conflict(`IP address ${ip} already allocated in subnet ${subnetId}`, { type: 'IpAddressAlreadyAllocated' });
export const portInUse = (portId: string, networkId: string, deviceId: string) => new Conflict(
  `Unable to complete operation on port ${portId} for network ${networkId}. Port already has an attached device ${deviceId}.`,
  { type: 'PortInUse' },
);

export const nowIso = (now: number) => new Date(now).toISOString();
