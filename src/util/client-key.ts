/** Which client an address is: sessions per client (max_sessions_per_client), the bus's share per client and `ip`-keyed rate limit buckets count by it. */
import { isIPv4 } from 'node:net';

/**
 * Which client an address is: an IPv4 address, or an IPv6
 * address's /64 (one host usually holds a whole /64, and rotating within it is free).
 */
export function clientKey(ip: string): string {
  if (!ip.includes(':') || isIPv4(ip.replace(/^::ffff:/i, ''))) return ip.replace(/^::ffff:/i, '');
  const head = ip.split('::')[0].split(':');
  const tail = ip.includes('::') ? ip.split('::')[1].split(':').filter(Boolean) : [];
  const groups = ip.includes('::') ? [...head.filter(Boolean), ...Array(8 - head.filter(Boolean).length - tail.length).fill('0'), ...tail] : head;
  return `${groups
    .slice(0, 4)
    .map((g) => (parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`;
}
