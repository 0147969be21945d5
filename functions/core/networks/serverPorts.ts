import { markAttached, Ports, reserve, unreserve } from '../shared/attachables.js';
import { BadRequest, Conflict, DomainError, DriverError, Forbidden, NotFound } from '../shared/errors.js';
import { canonicalUuid, derivedUuid } from '../shared/ids.js';
import type { Table } from '../shared/table.js';
import type { Attachment, Caller, Instance } from '../compute/instance.js';
import type { Reservation, ReservationContext } from '../compute/reservations.js';
import { checkRequestedAddress } from './addresses.js';
import { canonicalIp } from './ip.js';
import { networkKeys, type FixedIp, type Network, type Port } from './model.js';
import { cachedNetwork, cachedNetworks, canSeeNetwork, readNetwork } from './networks.js';
import { createPort } from './ports.js';
import { defaultGroupId, ensureDefaultGroup } from './securityGroups.js';
import { getItem } from './store.js';
import { subnetsOf } from './subnets.js';

// Nova's side of networking: which networks and ports a server asks for, and the ports it gets.
// A port the user names is reserved for the server at admission, before the server's item is
// written (attachables.ts reserve: Nova's 409 PortInUse is one failed write); a port on a network
// is made by the create's worker (as Nova's compute manager allocates them while it builds),
// bound to the server and the create's request, and reaches the server's item with the create's
// fenced release. A create that fails, or is taken over by a delete, gives each port back (the
// ones Nova made go with their addresses); one that succeeds marks them in use.

/** One interface a server asked for, as admission resolved it. */
export type Nic =
  | { readonly kind: 'network'; readonly networkId: string; readonly fixedIp?: string }
  | { readonly kind: 'port'; readonly portId: string; readonly port?: PortDetails };

/** What a server's interface shows of its port. */
export type PortDetails = {
  readonly macAddress: string;
  readonly netId: string;
  readonly netName: string;
  readonly fixedIp?: string;
  readonly fixedIps: readonly FixedIp[];
};

export const portDetails = (p: Pick<Port, 'macAddress' | 'networkId' | 'networkName' | 'fixedIps'>): PortDetails => ({
  macAddress: p.macAddress, netId: p.networkId, netName: p.networkName, fixedIps: [...(p.fixedIps ?? [])],
  ...(p.fixedIps?.[0] ? { fixedIp: p.fixedIps[0].ipAddress } : {}),
});

/** The id of the port Nova makes for a server's `index`th interface: a redelivery makes the same one. */
export const novaPortId = (requestId: string, index: number) => derivedUuid('port', requestId, String(index));

const usable = (n: Network, caller: Pick<Caller, 'projectId'>) =>
  !n.deleting && n.adminStateUp !== false && !n.external && (n.shared || n.projectId === caller.projectId);

/**
 * The one network a server gets when it names none (Nova's `auto`, and the default before 2.37):
 * the project's own or a shared one; several are Nova's 409 NetworkAmbiguous.
 */
export async function projectNetwork(table: Table, caller: Pick<Caller, 'projectId'>): Promise<Network | undefined> {
  const candidates = (await cachedNetworks(table)).filter((n) => usable(n, caller) && n.subnets.length > 0);
  if (candidates.length > 1) {
    throw new Conflict('Multiple possible networks found, use a Network ID to be more specific.');
  }
  return candidates[0];
}

/** A network the caller names for a server: visible, not external (unless an administrator asks), with a subnet. */
export async function networkForServer(
  table: Table, caller: Pick<Caller, 'projectId' | 'isAdmin'>, id: string, notFound: (message: string) => DomainError,
): Promise<Network> {
  const network = await cachedNetwork(table, id);
  if (!network || !canSeeNetwork(network, caller)) throw notFound(`Network ${id} could not be found.`);
  if (network.external && !network.shared && !caller.isAdmin) {
    throw new Forbidden(`It is not allowed to create an interface on external network ${id}`);
  }
  if (network.subnets.length === 0) throw new BadRequest(`Network ${id} requires a subnet in order to boot instances on.`);
  return network;
}

export interface RequestedNetwork {
  readonly uuid?: string;
  readonly port?: string | null;
  readonly fixed_ip?: string;
}

/**
 * Nova's reading of a create's `networks` (servers.py, and the network API's validation): `none`
 * is no interface, `auto` (or nothing, before 2.37) the project's one network, a list each
 * network or port named. Every refusal is Nova's, and nothing is written.
 */
export async function requestedNics(
  table: Table, caller: Pick<Caller, 'projectId' | 'isAdmin'>, networks: 'auto' | 'none' | readonly RequestedNetwork[] | undefined,
  count: number,
): Promise<Nic[]> {
  if (networks === 'none') return [];
  if (networks === undefined || networks === 'auto') {
    const network = await projectNetwork(table, caller);
    if (!network && networks === 'auto') {
      throw new BadRequest(`Unable to automatically allocate a network for project ${caller.projectId}`);
    }
    return network ? [{ kind: 'network', networkId: network.id }] : [];
  }
  const nics: Nic[] = [];
  for (const n of networks) {
    if (n.port) {
      if (count > 1) {
        throw new BadRequest('Unable to launch multiple instances with a single configured port ID. Please launch your instance one by one with different ports.');
      }
      nics.push({ kind: 'port', portId: canonicalUuid(n.port) });
      continue;
    }
    if (n.uuid === undefined) throw new BadRequest('Bad network format: missing \'uuid\'');
    const network = await networkForServer(table, caller, canonicalUuid(n.uuid), (m) => new BadRequest(m));
    if (n.fixed_ip === undefined) {
      nics.push({ kind: 'network', networkId: network.id });
      continue;
    }
    if (count > 1) throw new BadRequest('Failed to launch instances: max_count cannot be greater than 1 if an fixed_ip is specified.');
    const ip = canonicalIp(n.fixed_ip) ?? n.fixed_ip;
    const subnet = (await subnetsOf(table, network)).find((s) => {
      try { checkRequestedAddress(s, ip); return true; } catch { return false; }
    });
    if (!subnet) throw new BadRequest(`Fixed IP address ${n.fixed_ip} is not valid on network ${network.id}.`);
    const held = await getItem<{ portId: string }>(table, networkKeys.address(subnet.id, ip));
    if (held) throw new BadRequest(`Fixed IP address ${ip} is already in use on instance .`);
    nics.push({ kind: 'network', networkId: network.id, fixedIp: ip });
  }
  const ports = nics.filter((n) => n.kind === 'port').map((n) => (n as { portId: string }).portId);
  if (new Set(ports).size !== ports.length) throw new BadRequest('Duplicate port IDs are not allowed.');
  return nics;
}

/**
 * Admission's part: each port the create names is reserved for the server (Nova's 409 PortInUse,
 * its 400 PortNotFound), its details kept for the worker. On a refusal, the ports reserved so far
 * are given back.
 */
export async function reserveNamedPorts(
  table: Table, req: { instanceId: string; projectId: string; requestId: string; now: number; leaseMs: number }, nics: readonly Nic[],
): Promise<Nic[]> {
  const reserved: Nic[] = [];
  try {
    for (const nic of nics) {
      if (nic.kind !== 'port') {
        reserved.push(nic);
        continue;
      }
      let port: Port;
      try {
        port = await reserve(table, Ports, { id: nic.portId, ...req }) as Port;
      } catch (err) {
        // Nova's create answers a port it cannot find with 400 (servers.py), its attach with 404.
        if (err instanceof NotFound) throw new BadRequest(`Port id ${nic.portId} could not be found.`, { cause: err });
        throw err;
      }
      reserved.push({ kind: 'port', portId: nic.portId, port: portDetails(port) });
    }
  } catch (err) {
    await giveBackPorts(table, req.instanceId, { requestId: req.requestId, params: { nics: reserved } });
    throw err;
  }
  return reserved;
}

const nicsOf = (params: Record<string, unknown>): Nic[] => (Array.isArray(params.nics) ? params.nics as Nic[] : []);

/** Each of the create's ports, named or made: [port id, nic]. */
const portsOf = (claim: { requestId: string; params: Record<string, unknown> }) =>
  nicsOf(claim.params).map((nic, i) => [nic.kind === 'port' ? nic.portId : novaPortId(claim.requestId, i), nic] as const);

async function giveBackPorts(table: Table, instanceId: string, claim: { requestId: string; params: Record<string, unknown> }) {
  for (const [id] of portsOf(claim)) await unreserve(table, Ports, { id, instanceId, requestId: claim.requestId });
}

/** The create's ports, around its release: given back if it failed (or was taken over), in use if it succeeded. */
export const creatingServerPorts: Reservation = {
  undo: (table, claim, instanceId) => giveBackPorts(table, instanceId, claim),
  settle: async (table, claim, instanceId) => {
    for (const [id] of portsOf(claim)) await markAttached(table, Ports, { id, instanceId, requestId: claim.requestId });
  },
};

/** The interface the server's item keeps for a port. */
export function interfaceOf(port: PortDetails & { id: string }, instanceId: string, requestId: string, now: number, tag?: string): Attachment {
  return {
    id: port.id, instanceId, requestId, created: new Date(now).toISOString(), macAddress: port.macAddress, netId: port.netId,
    netName: port.netName, fixedIps: port.fixedIps, ...(port.fixedIp ? { fixedIp: port.fixedIp } : {}),
    ...(tag !== undefined ? { tag } : {}),
  };
}

/**
 * The create's worker: a port on each network the server asked for, made bound to the server and
 * this request (a redelivery finds the ones it made), and each interface for the release to put
 * on the server's item. A network gone or out of addresses fails the build, as in Nova.
 */
export async function allocateServerPorts(
  table: Table, op: { instance: Instance; requestId: string; params: Record<string, unknown>; now: number },
): Promise<Record<string, Attachment>> {
  const interfaces: Record<string, Attachment> = {};
  const { instance, requestId, now } = op;
  const leaseUntil = Math.max(instance.leaseUntil ?? 0, now + 60_000);
  for (const [id, nic] of portsOf(op)) {
    if (nic.kind === 'port') {
      if (nic.port) interfaces[id] = interfaceOf({ id, ...nic.port }, instance.id, requestId, now);
      continue;
    }
    try {
      const network = await readNetwork(table, nic.networkId);
      if (!network || network.deleting) throw new NotFound(`Network ${nic.networkId} could not be found.`);
      const port = await createPort(table, {
        id, projectId: instance.projectId, network, subnets: await subnetsOf(table, network), name: '', description: '',
        adminStateUp: true, ...(nic.fixedIp ? { fixedIps: [{ ipAddress: nic.fixedIp }] } : {}),
        securityGroups: [await ensureDefaultGroup(table, instance.projectId, now)], portSecurityEnabled: network.portSecurityEnabled,
        requestId, now, creatingUntil: leaseUntil, bind: { instanceId: instance.id, leaseUntil },
      });
      if (port.instanceId !== instance.id) throw new Conflict(`Port ${id} is still in use.`);
      interfaces[id] = interfaceOf({ id, ...portDetails(port) }, instance.id, requestId, now);
    } catch (err) {
      // The network said no (gone, full, the address taken): the build fails, as Nova's does.
      if (err instanceof DomainError && err.kind !== 'serviceUnavailable') {
        throw new DriverError(`Build of instance ${instance.id} aborted: ${err.message}`, 500, { cause: err });
      }
      throw err;
    }
  }
  return interfaces;
}

/**
 * os-interface attach: the port named is reserved for the server, or (a network, or nothing
 * named) Nova makes one on it, bound to the server and the request. Either way its details go on
 * the claim for the worker and the answer.
 */
export const attachingInterface: Reservation = {
  reserve: async (table: Table, ctx: ReservationContext) => {
    const id = String(ctx.params.portId);
    if (ctx.params.create !== true) {
      return portDetails(await reserve(table, Ports, {
        id, instanceId: ctx.instanceId, projectId: ctx.projectId, requestId: ctx.requestId, now: ctx.now, leaseMs: ctx.leaseMs,
      }) as Port);
    }
    const network = await readNetwork(table, String(ctx.params.netId));
    if (!network || network.deleting) throw new NotFound(`Network ${String(ctx.params.netId)} could not be found.`);
    const leaseUntil = ctx.now + ctx.leaseMs;
    const fixedIp = typeof ctx.params.fixedIp === 'string' ? ctx.params.fixedIp : undefined;
    try {
      const port = await createPort(table, {
        id, projectId: ctx.projectId, network, subnets: await subnetsOf(table, network), name: '', description: '', adminStateUp: true,
        ...(fixedIp ? { fixedIps: [{ ipAddress: fixedIp }] } : {}),
        // The default group by its id alone: a refused attach (its claim refused after this) leaves nothing made.
        securityGroups: [defaultGroupId(ctx.projectId)], portSecurityEnabled: network.portSecurityEnabled,
        requestId: ctx.requestId, now: ctx.now, creatingUntil: leaseUntil, bind: { instanceId: ctx.instanceId, leaseUntil },
      });
      return portDetails(port);
    } catch (err) {
      if (err instanceof DomainError && err.type === 'IpAddressGenerationFailure') {
        throw new BadRequest(`No fixed IP addresses available for network: ${network.id}`, { cause: err });
      }
      if (err instanceof DomainError && err.type === 'IpAddressAlreadyAllocated') {
        throw new Conflict(`Fixed IP address ${fixedIp} is already in use on instance .`, { cause: err });
      }
      throw err;
    }
  },
  undo: async (table, claim, instanceId) => {
    await unreserve(table, Ports, { id: String(claim.params.portId), instanceId, requestId: claim.requestId });
  },
  settle: async (table, claim, instanceId) => {
    await markAttached(table, Ports, { id: String(claim.params.portId), instanceId, requestId: claim.requestId });
  },
};
