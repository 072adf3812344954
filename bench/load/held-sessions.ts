/**
 * Opens `count` MCP sessions (initialize + notifications/initialized) and holds them:
 * no call, no DELETE, so the server keeps each one as idle state. Sessions are not tied
 * to connections, so a few keep-alive connections open them all.
 */
import { performance } from 'node:perf_hooks';
import { Http1Connection } from './http1.js';
import { McpSession, type Endpoint } from './mcp-client.js';

export interface HeldResult {
  opened: number;
  elapsedMs: number;
  perSecond: number;
  sessionIds: number;
}

export async function openAndHold(endpoint: Endpoint, count: number, connections = 8): Promise<HeldResult> {
  let next = 0;
  let withId = 0;
  const conns = Array.from({ length: Math.min(connections, count) }, () => new Http1Connection(endpoint.port, '127.0.0.1', 60_000));
  const t0 = performance.now();
  await Promise.all(
    conns.map(async (conn) => {
      while (next < count) {
        next++;
        const s = new McpSession(endpoint, conn);
        await s.initialize();
        if (s.sessionId) withId++;
      }
    }),
  );
  const elapsedMs = performance.now() - t0;
  for (const c of conns) c.close();
  return { opened: count, elapsedMs, perSecond: (count / elapsedMs) * 1000, sessionIds: withId };
}
