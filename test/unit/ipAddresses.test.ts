import { canonicalIp, contains, defaultPools, formatCidr, isReserved, parseCidr, parseIp, poolSize, type Cidr } from '../../functions/core/networks/ip.js';

// An address item's key is its address's spelling: one address, one spelling (RFC 5952 for
// IPv6), or one address could be two items and be given to two ports.

it('spells every address one way, whatever way it was given', () => {
  expect(canonicalIp('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
  expect(canonicalIp('2001:db8::0:1')).toBe('2001:db8::1');
  expect(canonicalIp('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
  expect(canonicalIp('0:0:0:0:0:0:0:0')).toBe('::');
  expect(canonicalIp('::ffff:10.0.0.1')).toBe('::ffff:a00:1');
  expect(canonicalIp('2001:0db8:0000:0000:0001:0000:0000:0000')).toBe('2001:db8:0:0:1::');
  expect(canonicalIp('10.0.0.5')).toBe('10.0.0.5');
  for (const bad of ['10.0.0.256', '10.0.0', '010.0.0.1', '1::2::3', '12345::', 'x', '', 7]) expect(canonicalIp(bad)).toBeUndefined();
});

it('reads prefixes, refusing host bits with the prefix meant', () => {
  expect(parseCidr('10.0.0.5/24')).toEqual({ recommended: '10.0.0.0/24' });
  expect(parseCidr('10.0.0.0/33')).toBe('invalid');
  const v6 = parseCidr('2001:db8::/64') as Cidr;
  expect(formatCidr(v6)).toBe('2001:db8::/64');
  expect(contains(v6, parseIp('2001:db8::ffff:ffff:ffff:ffff')!)).toBe(true);
  expect(contains(v6, parseIp('2001:db8:0:1::')!)).toBe(false);
});

it('gives a prefix Neutron\'s default pools: every usable address but the gateway', () => {
  const v4 = parseCidr('10.0.0.0/28') as Cidr;
  expect(defaultPools(v4, v4.network + 1n).map((p) => [p.start - v4.network, p.end - v4.network])).toEqual([[2n, 14n]]);
  expect(poolSize(defaultPools(v4, v4.network + 1n))).toBe(13n);
  expect(poolSize(defaultPools(v4, v4.network + 5n))).toBe(13n);
  expect(isReserved(v4, parseIp('10.0.0.15')!)).toBe(true);
  const v6 = parseCidr('2001:db8::/64') as Cidr;
  expect(poolSize(defaultPools(v6, v6.network + 1n))).toBe(2n ** 64n - 2n);
});
