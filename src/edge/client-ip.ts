/**
 * The client's address: the socket peer, unless that peer is a trusted proxy
 * (rate_limits.trusted_proxies); then the right-most address in X-Forwarded-For that is
 * not a trusted proxy. Entries left of it could be written by anyone, so a client cannot
 * choose its address by sending its own X-Forwarded-For (which is ignored entirely when
 * no proxy is trusted, the default).
 */
import { BlockList, isIP, isIPv4, type Socket } from 'node:net';
import { ConfigError } from '../errors/catalog.js';

/** A bare IP address: no brackets, port or zone; IPv4-mapped IPv6 as IPv4. undefined if not an IP. */
export function normalizeIp(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  let s = raw.trim();
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) return undefined;
    s = s.slice(1, end);
  } else if (s.indexOf(':') > 0 && s.indexOf(':') === s.lastIndexOf(':')) {
    s = s.slice(0, s.indexOf(':')); // a.b.c.d:port
  }
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (s.length > 7 && s.slice(0, 7).toLowerCase() === '::ffff:' && isIPv4(s.slice(7))) s = s.slice(7);
  return isIP(s) ? s.toLowerCase() : undefined;
}

export class ClientIpResolver {
  private readonly trusted: BlockList | undefined;

  /** `trusted`: addresses or CIDR ranges, IPv4 or IPv6. An invalid entry throws (ConfigError). */
  constructor(trusted: readonly string[]) {
    if (trusted.length === 0) return;
    const list = new BlockList();
    for (const [i, entry] of trusted.entries()) {
      const slash = entry.indexOf('/');
      const addr = normalizeIp(slash < 0 ? entry : entry.slice(0, slash));
      const prefix = slash < 0 ? undefined : Number(entry.slice(slash + 1));
      const family = addr && isIPv4(addr) ? 'ipv4' : 'ipv6';
      const max = family === 'ipv4' ? 32 : 128;
      if (!addr || (prefix !== undefined && !(Number.isInteger(prefix) && prefix >= 0 && prefix <= max))) {
        throw new ConfigError('invalid rate_limits.trusted_proxies', [
          `rate_limits.trusted_proxies[${i}]: ${JSON.stringify(entry)} is not an IP address or CIDR range (e.g. 10.0.0.1, 10.0.0.0/8, fd00::/8)`,
        ]);
      }
      if (prefix === undefined) list.addAddress(addr, family);
      else list.addSubnet(addr, prefix, family);
    }
    this.trusted = list;
  }

  isTrusted(ip: string): boolean {
    return this.trusted?.check(ip, isIPv4(ip) ? 'ipv4' : 'ipv6') === true;
  }

  /** The peer of a socket, normalized once per connection (requests on a keep-alive connection share it). */
  private readonly peers = new WeakMap<Socket, string>();

  /** resolve() for a request on `socket`. */
  resolveFor(socket: Socket, forwardedFor: string | string[] | undefined): string {
    let peer = this.peers.get(socket);
    if (peer === undefined) this.peers.set(socket, (peer = normalizeIp(socket.remoteAddress) ?? 'unknown'));
    if (!this.trusted || !forwardedFor) return peer;
    return this.resolve(peer, forwardedFor);
  }

  resolve(remoteAddress: string | undefined, forwardedFor: string | string[] | undefined): string {
    const peer = normalizeIp(remoteAddress) ?? 'unknown';
    if (!this.trusted || !forwardedFor || !this.isTrusted(peer)) return peer;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    let nearest = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const ip = normalizeIp(hops[i]);
      // Garbage where a trusted proxy should have written an address: stop at the last hop we can vouch for.
      if (!ip) return nearest;
      if (!this.isTrusted(ip)) return ip;
      nearest = ip;
    }
    return nearest; // every hop is a trusted proxy: the left-most is the client
  }
}
