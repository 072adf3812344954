/**
 * IP addresses and CIDR ranges as the config writes them ("10.0.0.1", "10.0.0.0/8",
 * "fd00::/8"), read into node:net's BlockList, whose check() also matches an IPv4-mapped
 * IPv6 address (::ffff:a.b.c.d) against IPv4 ranges.
 */
import { BlockList, isIP } from 'node:net';

export interface IpRange {
  address: string;
  /** undefined: the single address. */
  prefix: number | undefined;
  family: 'ipv4' | 'ipv6';
}

/** "addr" or "addr/bits" with bits in range for the family; undefined if it is neither. */
export function parseIpRange(s: string): IpRange | undefined {
  const [addr, bits, extra] = s.split('/');
  const v = isIP(addr);
  if (!v || extra !== undefined) return undefined;
  const family = v === 4 ? 'ipv4' : 'ipv6';
  if (bits === undefined) return { address: addr, prefix: undefined, family };
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > (v === 4 ? 32 : 128)) return undefined;
  return { address: addr, prefix: Number(bits), family };
}

export function isAddressOrRange(s: string): boolean {
  return parseIpRange(s) !== undefined;
}

/** A BlockList of ranges already checked with parseIpRange. */
export function ipRangeList(ranges: readonly IpRange[]): BlockList {
  const list = new BlockList();
  for (const r of ranges) {
    if (r.prefix === undefined) list.addAddress(r.address, r.family);
    else list.addSubnet(r.address, r.prefix, r.family);
  }
  return list;
}

/** Whether `address` (an IP address) is in `list`; false for anything that is not an IP address. */
export function inIpRanges(list: BlockList, address: string): boolean {
  const v = isIP(address);
  return v !== 0 && list.check(address, v === 4 ? 'ipv4' : 'ipv6');
}
