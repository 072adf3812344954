/**
 * Connections per client address. `server.max_connections` bounds the listener's
 * connections together, so one client could hold all of them: connections that send no
 * headers live `headers_timeout`, idle keep-alive ones 65 s, and a client opening more as
 * those close kept every other client (health checks included) out. Here a client address
 * (an IPv4 address, an IPv6 /64: util/client-key.ts) may hold at most
 * `server.max_connections_per_client` at once; more are closed as they arrive, as
 * `max_connections` closes them (nginx's `limit_conn`). The TCP peer is what counts, not
 * `X-Forwarded-For` (no header has arrived yet); a peer listed in
 * `rate_limits.trusted_proxies` carries many clients and is not capped.
 *
 * One counter per address holding a connection, deleted with its last connection: the
 * table is bounded by the open connections.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { connectionsRefused } from '../observability/channels.js';
import type { Logger } from '../observability/logger.js';
import { clientKey } from '../util/client-key.js';
import { normalizeIp, type ClientIpResolver } from './client-ip.js';

/** A refusal is logged at most this often (with how many there were since): a flood must not flood the log. */
const LOG_EVERY_MS = 10_000;

export function limitConnectionsPerClient(server: Server, max: number, ips: ClientIpResolver, log: Logger, source: unknown): void {
  if (max <= 0) return;
  const open = new Map<string, number>();
  let refused = 0;
  let loggedAt = -Infinity;
  server.on('connection', (socket: Socket) => {
    const peer = normalizeIp(socket.remoteAddress);
    if (peer === undefined || ips.isTrusted(peer)) return;
    const key = clientKey(peer);
    const held = open.get(key) ?? 0;
    if (held >= max) {
      socket.destroy();
      refused++;
      if (connectionsRefused.hasSubscribers) connectionsRefused.publish({ source, reason: 'max_connections_per_client' });
      const now = performance.now();
      if (now - loggedAt >= LOG_EVERY_MS) {
        log.warn({ client: key, max_connections_per_client: max, refused }, `connections refused: ${key} holds server.max_connections_per_client (${max}) connections`);
        loggedAt = now;
        refused = 0;
      }
      return;
    }
    open.set(key, held + 1);
    socket.once('close', () => {
      const n = (open.get(key) ?? 1) - 1;
      if (n <= 0) open.delete(key);
      else open.set(key, n);
    });
  });
}
