// IP addresses and prefixes as numbers, so pools, gateways and containment are arithmetic. One
// representation for both families (a bigint and the family), and one spelling per address
// (IPv6 as RFC 5952 writes it): an address item's key is its spelling, and two spellings of one
// address must never make two items.

export type IpVersion = 4 | 6;

export interface Ip {
  readonly version: IpVersion;
  readonly value: bigint;
}

export interface Cidr {
  readonly version: IpVersion;
  /** The first address of the prefix. */
  readonly network: bigint;
  readonly prefix: number;
}

const BITS: Record<IpVersion, number> = { 4: 32, 6: 128 };

function parseV4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part) || Number(part) > 255) return undefined;
    value = (value << 8n) | BigInt(part);
  }
  return value;
}

function parseV6(text: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.split('::').length > 2) return undefined;
  let tail = text;
  let embedded: bigint | undefined;
  // A trailing dotted quad stands for the last two groups (::ffff:10.0.0.1).
  const dotted = /^(.*:)([0-9.]+)$/.exec(text);
  if (dotted && dotted[2]!.includes('.')) {
    embedded = parseV4(dotted[2]!);
    if (embedded === undefined) return undefined;
    tail = `${dotted[1]}0:0`;
  }
  const [head, rest] = tail.split('::') as [string, string | undefined];
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const missing = 8 - left.length - right.length;
  if (rest === undefined ? missing !== 0 : missing < 1) return undefined;
  const all = [...left, ...Array<string>(rest === undefined ? 0 : missing).fill('0'), ...right];
  let value = 0n;
  for (const g of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    value = (value << 16n) | BigInt(parseInt(g, 16));
  }
  return embedded === undefined ? value : (value & ~0xffffffffn) | embedded;
}

export function parseIp(text: unknown): Ip | undefined {
  if (typeof text !== 'string' || text.length > 45) return undefined;
  const v4 = parseV4(text);
  if (v4 !== undefined) return { version: 4, value: v4 };
  const v6 = text.includes(':') ? parseV6(text) : undefined;
  return v6 === undefined ? undefined : { version: 6, value: v6 };
}

/** The one spelling of an address: dotted quad, or RFC 5952 (lower case, longest zero run as ::). */
export function formatIp(ip: Ip): string {
  if (ip.version === 4) return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => Number((ip.value >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = { at: -1, length: 1 };
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length) best = { at: i, length: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.length).join(':')}`;
}

/** The canonical spelling of an address given in any spelling; undefined if it is none. */
export const canonicalIp = (text: unknown): string | undefined => {
  const ip = parseIp(text);
  return ip && formatIp(ip);
};

export type CidrProblem = 'invalid' | { recommended: string };

/** A prefix `<address>/<length>`; one with host bits set is refused with the prefix it meant. */
export function parseCidr(text: unknown): Cidr | CidrProblem {
  if (typeof text !== 'string') return 'invalid';
  const m = /^([^/]+)\/([0-9]{1,3})$/.exec(text);
  const ip = m ? parseIp(m[1]) : undefined;
  if (!m || !ip) return 'invalid';
  const prefix = Number(m[2]);
  if (prefix > BITS[ip.version]) return 'invalid';
  const network = ip.value & mask(ip.version, prefix);
  if (network !== ip.value) return { recommended: formatCidr({ version: ip.version, network, prefix }) };
  return { version: ip.version, network, prefix };
}

export const formatCidr = (c: Cidr) => `${formatIp({ version: c.version, value: c.network })}/${c.prefix}`;

const mask = (version: IpVersion, prefix: number) => {
  const bits = BigInt(BITS[version]);
  return ((1n << bits) - 1n) ^ ((1n << (bits - BigInt(prefix))) - 1n);
};

/** The last address of the prefix (IPv4's broadcast). */
export const lastOf = (c: Cidr) => c.network + (1n << BigInt(BITS[c.version] - c.prefix)) - 1n;

export const contains = (c: Cidr, ip: Ip) => ip.version === c.version && ip.value >= c.network && ip.value <= lastOf(c);

/** Addresses no port may have: IPv4's network and broadcast addresses, IPv6's subnet-router anycast. */
export function isReserved(c: Cidr, ip: Ip): boolean {
  if (c.version === 6) return ip.value === c.network && c.prefix < 127;
  return c.prefix < 31 && (ip.value === c.network || ip.value === lastOf(c));
}

export interface Range {
  readonly start: bigint;
  readonly end: bigint;
}

/**
 * Neutron's default pool: every usable address of the prefix but the gateway, split around it
 * (10.0.0.0/24 with gateway .1: .2-.254).
 */
export function defaultPools(c: Cidr, gateway: bigint | undefined): Range[] {
  const first = c.version === 4 && c.prefix >= 31 ? c.network : c.network + 1n;
  const last = c.version === 4 && c.prefix < 31 ? lastOf(c) - 1n : lastOf(c);
  if (first > last) return [];
  if (gateway === undefined || gateway < first || gateway > last) return [{ start: first, end: last }];
  return [
    ...(gateway > first ? [{ start: first, end: gateway - 1n }] : []),
    ...(gateway < last ? [{ start: gateway + 1n, end: last }] : []),
  ];
}

export const poolSize = (pools: readonly Range[]) => pools.reduce((n, p) => n + p.end - p.start + 1n, 0n);

/** The address at `index` counting through the pools in order. */
export function nthOfPools(pools: readonly Range[], index: bigint): bigint {
  let i = index;
  for (const p of pools) {
    const size = p.end - p.start + 1n;
    if (i < size) return p.start + i;
    i -= size;
  }
  throw new RangeError('index past the pools');
}
