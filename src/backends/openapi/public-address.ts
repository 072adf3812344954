/**
 * The guard on `$ref`s to origins the config does not name: such a document is fetched only
 * from a public address, so a remote document cannot make the gateway read an internal
 * service (cloud metadata at 169.254.169.254, an admin port on localhost) and publish the
 * answer in tools/list. The host is resolved once, every address must be public, and the
 * connection is pinned to those addresses: a second lookup could answer differently (DNS
 * rebinding).
 */
import type { LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { Agent } from 'undici';
import { SpecLoadError } from './spec-error.js';

/** Special-purpose ranges that are not globally reachable (IANA registries, RFC 6890 and RFC 8190). */
const NOT_PUBLIC = (() => {
  const b = new BlockList();
  for (const [net, prefix] of [
    ['0.0.0.0', 8],
    ['10.0.0.0', 8],
    ['100.64.0.0', 10],
    ['127.0.0.0', 8],
    ['169.254.0.0', 16],
    ['172.16.0.0', 12],
    ['192.0.0.0', 24],
    ['192.0.2.0', 24],
    ['192.88.99.0', 24],
    ['192.168.0.0', 16],
    ['198.18.0.0', 15],
    ['198.51.100.0', 24],
    ['203.0.113.0', 24],
    ['224.0.0.0', 4],
    ['240.0.0.0', 4],
  ] as const)
    b.addSubnet(net, prefix, 'ipv4');
  // BlockList checks an IPv4-mapped address (::ffff:a.b.c.d) against the IPv4 rules above.
  // NAT64 and 6to4 addresses embed an IPv4 address too: refused whole rather than decoded.
  for (const [net, prefix] of [
    ['::', 128],
    ['::1', 128],
    ['64:ff9b::', 96],
    ['64:ff9b:1::', 48],
    ['100::', 64],
    ['2001::', 23],
    ['2001:db8::', 32],
    ['2002::', 16],
    ['fc00::', 7],
    ['fe80::', 10],
    ['fec0::', 10],
    ['ff00::', 8],
  ] as const)
    b.addSubnet(net, prefix, 'ipv6');
  return b;
})();

export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return !NOT_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * A dispatcher that connects `url`'s host only to the public addresses it resolves to now;
 * refuses (SpecLoadError) if any of them is not public. Close it after the request.
 */
export async function publicDispatcher(url: URL, what: string): Promise<Agent> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: LookupAddress[];
  try {
    addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true, verbatim: true });
  } catch (err) {
    throw new SpecLoadError(`${what}: cannot resolve ${host}: ${(err as Error).message}`);
  }
  const bad = addresses.find((a) => !isPublicAddress(a.address));
  if (!addresses.length || bad) {
    throw new SpecLoadError(
      `${what}: ${host} is not a public address${bad && bad.address !== host ? ` (it resolves to ${bad.address})` : ''}; only the document's own origin and base_url's origin may be private`,
    );
  }
  const pinned = (_host: string, opts: { all?: boolean; family?: number | string }, cb: (err: Error | null, address: string | LookupAddress[], family?: number) => void) => {
    const want = opts.family === 'IPv4' ? 4 : opts.family === 'IPv6' ? 6 : Number(opts.family ?? 0);
    const list = addresses.filter((a) => !want || a.family === want);
    if (!list.length) return cb(Object.assign(new Error(`no ${want === 6 ? 'IPv6' : 'IPv4'} address checked for ${host}`), { code: 'ENOTFOUND' }), '');
    return opts.all ? cb(null, list) : cb(null, list[0].address, list[0].family);
  };
  return new Agent({ connect: { lookup: pinned as never } });
}
