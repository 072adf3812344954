/** Whether a bind address is loopback-only (127.0.0.0/8, ::1, localhost): the edge's Host check and the config's refusal to serve unauthenticated elsewhere. */
import { isIPv4 } from 'node:net';

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || (isIPv4(h) && h.startsWith('127.')) || h === '::ffff:127.0.0.1';
}
