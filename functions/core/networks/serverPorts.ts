import { markAttached, Ports, reserve, unreserve } from '../shared/attachables.js';
import { BadRequest, Conflict, DomainError, Forbidden, NotFound } from '../shared/errors.js';
import { canonicalUuid, derivedUuid } from '../shared/ids.js';
import type { Table } from '../shared/table.js';
import type { Attachment, Caller } from '../compute/instance.js';
import type { Reservation, ReservationContext } from '../compute/reservations.js';
import { checkRequestedAddress } from './addresses.js';
import { canonicalIp } from './ip.js';
import { networkKeys, type FixedIp, type Network, type Port } from './model.js';
import { cachedNetwork, cachedNetworks, canSeeNetwork, readNetwork } from './networks.js';
import { createPort } from './ports.js';
import { defaultGroupId } from './securityGroups.js';
import { getItem } from './store.js';
import { subnetsOf } from './subnets.js';

// Nova's side of networking: which networks and ports a server asks for, and the ports it gets.
// All of it happens at admission, before the server's or the claim's one conditional write (as
// an attach reserves its volume): a port the user names is reserved for the server (attachables.ts
// reserve: Nova's 409 PortInUse is one failed write), a port on a network is made bound to the
// server and the request. The server's item is written holding them, so whatever becomes of the
// operation they are the server's from then on; until then each carries a short lease, and the
// sweeper gives back what a request that died before writing the server's item left.

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
  // An empty list asks for nothing in particular: Nova gives the server the available network, as for `auto`.
  if (networks === undefined || networks === 'auto' || networks.length === 0) {
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
 * A create's interfaces, made at admission before the server's item is written (which then holds
 * them in its `ports`): each port named is reserved for the server (Nova's 409 PortInUse, its 400
 * PortNotFound), and on each network named a port is made, bound to the server and the request
 * (its id from the request: a retry of the request goes on with the same ports). Every refusal is
 * Nova's, and gives back what was made or reserved before it.
 */
export async function interfacesForCreate(
  table: Table, req: { instanceId: string; projectId: string; requestId: string; now: number; leaseMs: number }, nics: readonly Nic[],
): Promise<Record<string, Attachment>> {
  const interfaces: Record<string, Attachment> = {};
  const leaseUntil = req.now + req.leaseMs;
  try {
    for (const [index, nic] of nics.entries()) {
      const id = nic.kind === 'port' ? nic.portId : novaPortId(req.requestId, index);
      let port: Port;
      try {
        port = nic.kind === 'port'
          ? await reserve(table, Ports, { id, ...req }) as Port
          : await novaPort(table, { ...req, id, networkId: nic.networkId, fixedIp: nic.fixedIp, leaseUntil });
      } catch (err) {
        throw asNovaCreateRefusal(err, nic);
      }
      interfaces[id] = interfaceOf({ id, ...portDetails(port) }, req.instanceId, req.requestId, req.now);
    }
  } catch (err) {
    await giveBackPorts(table, req.instanceId, { requestId: req.requestId, params: { portIds: Object.keys(interfaces) } });
    throw err;
  }
  return interfaces;
}

/** A port Nova makes on a network for a server, bound to it and the request. */
async function novaPort(
  table: Table, req: { id: string; instanceId: string; projectId: string; requestId: string; now: number; networkId: string; fixedIp?: string; leaseUntil: number },
): Promise<Port> {
  const network = await readNetwork(table, req.networkId);
  if (!network || network.deleting) throw new NotFound(`Network ${req.networkId} could not be found.`, { type: 'NetworkNotFound' });
  return createPort(table, {
    id: req.id, projectId: req.projectId, network, subnets: await subnetsOf(table, network), name: '', description: '', adminStateUp: true,
    ...(req.fixedIp ? { fixedIps: [{ ipAddress: req.fixedIp }] } : {}),
    // The default group by its id alone: a request refused after this (its claim) leaves nothing made.
    securityGroups: [defaultGroupId(req.projectId)], portSecurityEnabled: network.portSecurityEnabled,
    requestId: req.requestId, now: req.now, creatingUntil: req.leaseUntil, bind: { instanceId: req.instanceId, leaseUntil: req.leaseUntil },
  });
}

/** Neutron's refusals as Nova's create answers them (servers.py): 400, or 409 for a port in use. */
function asNovaCreateRefusal(err: unknown, nic: Nic): unknown {
  if (!(err instanceof DomainError)) return err;
  if (err.kind === 'itemNotFound') {
    return new BadRequest(nic.kind === 'port' ? `Port id ${nic.portId} could not be found.` : err.message, { cause: err });
  }
  if (err.type === 'IpAddressGenerationFailure') return new BadRequest(`No fixed IP addresses available for network: ${(nic as { networkId: string }).networkId}`, { cause: err });
  if (err.type === 'IpAddressAlreadyAllocated') return new BadRequest(`Fixed IP address ${(nic as { fixedIp?: string }).fixedIp} is already in use on instance .`, { cause: err });
  return err;
}

/** The create's ports, from its claim. */
const portIdsOf = (params: Record<string, unknown>): string[] => (Array.isArray(params.portIds) ? params.portIds.map(String) : []);

async function giveBackPorts(table: Table, instanceId: string, claim: { requestId: string; params: Record<string, unknown> }) {
  for (const id of portIdsOf(claim.params)) await unreserve(table, Ports, { id, instanceId, requestId: claim.requestId });
}

/**
 * Around the create's release: its ports are on the server's item from the start, so whatever
 * becomes of the create they are the server's (a delete that takes it over frees them with the
 * server). A successful create marks them in use; after a failed one (the server in ERROR keeps
 * its ports until it is deleted) the sweeper does, finding them on the server past their lease.
 */
export const creatingServerPorts: Reservation = {
  undo: async () => undefined,
  settle: async (table, claim, instanceId) => {
    for (const id of portIdsOf(claim.params)) await markAttached(table, Ports, { id, instanceId, requestId: claim.requestId });
  },
};

/** A create that never reached the queue (its item deleted again): what it made or reserved goes back. */
export const giveBackCreatePorts = giveBackPorts;

/** The interface the server's item keeps for a port. */
export function interfaceOf(port: PortDetails & { id: string }, instanceId: string, requestId: string, now: number, tag?: string): Attachment {
  return {
    id: port.id, instanceId, requestId, created: new Date(now).toISOString(), macAddress: port.macAddress, netId: port.netId,
    netName: port.netName, fixedIps: port.fixedIps, ...(port.fixedIp ? { fixedIp: port.fixedIp } : {}),
    ...(tag !== undefined ? { tag } : {}),
  };
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
    const fixedIp = typeof ctx.params.fixedIp === 'string' ? ctx.params.fixedIp : undefined;
    try {
      return portDetails(await novaPort(table, {
        id, instanceId: ctx.instanceId, projectId: ctx.projectId, requestId: ctx.requestId, now: ctx.now,
        networkId: String(ctx.params.netId), fixedIp, leaseUntil: ctx.now + ctx.leaseMs,
      }));
    } catch (err) {
      if (err instanceof DomainError && err.type === 'IpAddressGenerationFailure') {
        throw new BadRequest(`No fixed IP addresses available for network: ${String(ctx.params.netId)}`, { cause: err });
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
