import { randomBytes, randomInt } from 'node:crypto';
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, keys, type Table } from '../shared/table.js';
import {
  contains, formatIp, isReserved, nthOfPools, parseCidr, parseIp, poolSize, type Cidr, type Range,
} from './ip.js';
import {
  addressesExhausted, addressTaken, invalidInput, networkKeys, nowIso, subnetNotFound, type FixedIp, type Port, type Subnet,
} from './model.js';
import { getItem, queryPartition } from './store.js';

// Fixed IPs. An allocated address is an item (SUBNET#<subnet> / IP#<address>) put only if absent:
// that one conditional write is what makes an address one port's, however many ports are made at
// once. A port tries the free addresses in a random order, so concurrent ports spread over the
// pool instead of all colliding on its first free address; a collision costs one failed write and
// the next address. A subnet being deleted is checked after the address is taken (subnets.ts
// deletes after marking, then looks for addresses): whichever comes second sees the other.

/** Pools up to this size are read before choosing (a few pages at most); larger ones are sampled. */
const READ_FIRST_LIMIT = 65_536n;
/** Random draws in a pool too large to read: one full of ports collides rarely before this. */
const SAMPLES = 32;

interface AddressItem {
  readonly sk: string;
  readonly portId: string;
}

export const addressOf = (item: { sk: string }) => item.sk.slice('IP#'.length);

export function subnetCidr(s: Pick<Subnet, 'cidr'>): Cidr {
  const c = parseCidr(s.cidr);
  if (typeof c === 'string' || 'recommended' in c) throw new Error(`stored subnet with a bad cidr ${s.cidr}`);
  return c;
}

export function poolsOf(s: Subnet): Range[] {
  return s.allocationPools.map((p) => ({ start: parseIp(p.start)!.value, end: parseIp(p.end)!.value }));
}

/** Whether `ip` may be given to a port on `s` when asked for by address (inside the prefix, not its gateway nor reserved). */
export function checkRequestedAddress(s: Subnet, text: string): string {
  const ip = parseIp(text);
  const cidr = subnetCidr(s);
  if (!ip || !contains(cidr, ip) || isReserved(cidr, ip) || formatIp(ip) === s.gatewayIp) {
    throw invalidInput(`IP address ${text} is not a valid IP for the specified subnet.`);
  }
  return formatIp(ip);
}

export interface AllocationRequest {
  readonly subnet: Subnet;
  readonly portId: string;
  readonly networkId: string;
  /** A specific address (already checked with checkRequestedAddress); else one from the pools. */
  readonly ipAddress?: string;
  /** Addresses this port already took in this subnet during this creation (a port asking for two). */
  readonly exclude?: ReadonlySet<string>;
  readonly now: number;
}

/** Takes one address for the port. Idempotent for the port: a retry finds the address it took before. */
export async function allocateAddress(table: Table, req: AllocationRequest): Promise<FixedIp> {
  const subnetId = req.subnet.id;
  if (req.ipAddress !== undefined) {
    if (!await take(table, req, req.ipAddress)) throw addressTaken(req.ipAddress, subnetId);
    return confirmed(table, req, req.ipAddress);
  }
  const pools = poolsOf(req.subnet);
  const size = poolSize(pools);
  if (size > READ_FIRST_LIMIT) {
    for (let i = 0; i < SAMPLES; i++) {
      const candidate = formatIp({ version: req.subnet.ipVersion, value: nthOfPools(pools, randomBig(size)) });
      if (candidate !== req.subnet.gatewayIp && !req.exclude?.has(candidate) && await take(table, req, candidate)) {
        return confirmed(table, req, candidate);
      }
    }
    throw addressesExhausted(req.networkId);
  }
  for (let pass = 0; pass < 2; pass++) {
    const taken = await queryPartition<AddressItem>(table, `SUBNET#${subnetId}`, 'IP#', ['sk', 'portId']);
    const mine = taken.find((t) => t.portId === req.portId && !req.exclude?.has(addressOf(t)));
    if (mine) return confirmed(table, req, addressOf(mine));
    const used = new Set([...taken.map(addressOf), ...(req.exclude ?? []), ...(req.subnet.gatewayIp ? [req.subnet.gatewayIp] : [])]);
    const free: string[] = [];
    for (let i = 0n; i < size; i++) {
      const candidate = formatIp({ version: req.subnet.ipVersion, value: nthOfPools(pools, i) });
      if (!used.has(candidate)) free.push(candidate);
    }
    shuffle(free);
    for (const candidate of free) if (await take(table, req, candidate)) return confirmed(table, req, candidate);
    // Full: what crashed processes left behind is taken back before the pool is called exhausted.
    if (pass === 0 && await reclaimLeaked(table, subnetId, taken) === 0 && free.length === 0) break;
  }
  throw addressesExhausted(req.networkId);
}

/** One conditional put: the address is free, or already this port's (its own retry). */
async function take(table: Table, req: AllocationRequest, ip: string): Promise<boolean> {
  try {
    await table.db.send(new PutCommand({
      TableName: table.name,
      Item: {
        ...networkKeys.address(req.subnet.id, ip), portId: req.portId, networkId: req.networkId, subnetId: req.subnet.id,
        ipAddress: ip, createdAt: nowIso(req.now),
      },
      ConditionExpression: 'attribute_not_exists(pk) OR #port = :port',
      ExpressionAttributeNames: { '#port': 'portId' }, ExpressionAttributeValues: { ':port': req.portId },
    }));
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

/** After taking an address: the subnet is still there and not being deleted, else the address goes back. */
async function confirmed(table: Table, req: AllocationRequest, ip: string): Promise<FixedIp> {
  const subnet = await getItem<Subnet>(table, networkKeys.subnet(req.subnet.id));
  if (!subnet || subnet.deleting) {
    await freeAddress(table, req.subnet.id, ip, req.portId);
    throw subnetNotFound(req.subnet.id);
  }
  return { subnetId: req.subnet.id, ipAddress: ip };
}

/** Gives an address back: one conditional delete, only while it is still this port's. */
export async function freeAddress(table: Table, subnetId: string, ip: string, portId: string): Promise<boolean> {
  try {
    await table.db.send(new DeleteCommand({
      TableName: table.name, Key: networkKeys.address(subnetId, ip),
      ConditionExpression: '#port = :port', ExpressionAttributeNames: { '#port': 'portId' },
      ExpressionAttributeValues: { ':port': portId },
    }));
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

/** Every address held by `portId` in these subnets (where an interrupted creation may have left some). */
export async function addressesHeldBy(table: Table, portId: string, subnetIds: readonly string[]): Promise<FixedIp[]> {
  const held: FixedIp[] = [];
  for (const subnetId of subnetIds) {
    const items = await queryPartition<AddressItem>(table, `SUBNET#${subnetId}`, 'IP#', ['sk', 'portId']);
    for (const item of items) if (item.portId === portId) held.push({ subnetId, ipAddress: addressOf(item) });
  }
  return held;
}

/**
 * Addresses no port holds any more: their port's item is gone, or it was finished without
 * listing them (a creation retried after a crash took another). A port lists its addresses when
 * its creation finishes and they never change after, so a port that is not `creating` and does
 * not list an address will never hold it. Returns how many were given back.
 */
export async function reclaimLeaked(table: Table, subnetId: string, taken: readonly AddressItem[]): Promise<number> {
  let freed = 0;
  const ports = new Map<string, Port | undefined>();
  for (const item of taken) {
    if (!ports.has(item.portId)) ports.set(item.portId, await getItem<Port>(table, keys.port(item.portId)));
    const port = ports.get(item.portId);
    const ip = addressOf(item);
    const listed = port?.fixedIps?.some((f) => f.subnetId === subnetId && f.ipAddress === ip);
    if (port && (port.status === 'creating' || listed)) continue;
    if (await freeAddress(table, subnetId, ip, item.portId)) freed++;
  }
  return freed;
}

/** Whether any address of the subnet is allocated (its deletion's check). */
export async function hasAddresses(table: Table, subnetId: string): Promise<boolean> {
  const taken = await queryPartition<AddressItem>(table, `SUBNET#${subnetId}`, 'IP#', ['sk', 'portId']);
  if (taken.length === 0) return false;
  return await reclaimLeaked(table, subnetId, taken) < taken.length;
}

function randomBig(below: bigint): bigint {
  // 128 random bits: any pool a subnet has (an IPv6 /64 included), up to a bias no one can see.
  return BigInt(`0x${randomBytes(16).toString('hex')}`) % below;
}

function shuffle<T>(items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}
