/**
 * Every diagnostics_channel the gateway publishes on, and what its events carry. The hot
 * path publishes only while someone listens (`hasSubscribers`); metrics and the request
 * log subscribe (STYLE: observe without cost). Events name the gateway that published
 * them in `source`, since several gateways may share a process.
 */
import { channel } from 'node:diagnostics_channel';
import type { RequestId } from '../wire/jsonrpc.js';

/** Published on `mcpeg:mcp:request` when a client request completes. */
export interface McpRequestEvent {
  /** The dispatch options of the gateway that served it (several gateways may share a process). */
  source: unknown;
  method: string;
  id: RequestId;
  session: string;
  /** The HTTP request that carried it (X-Request-Id), when there is one. */
  requestId: string | undefined;
  backend: string | undefined;
  tool: string | undefined;
  replica: string | undefined;
  durationMs: number;
  outcome: 'ok' | 'error' | 'tool_error' | 'cancelled';
  /** MCPEG_ERR_* (or the backend's JSON-RPC code) for errors, the tool error code for isError results. */
  code: string | undefined;
  message: string | undefined;
}

export const mcpRequests = channel('mcpeg:mcp:request');

/** Published by the HTTP edge when a response is done. */
export const httpRequests = channel('mcpeg:http:request');
export interface HttpRequestEvent {
  source: unknown;
  endpoint: string;
  method: string;
  status: number;
  durationMs: number;
}

/** Published when a rate limit refuses a request (HTTP edge or in a session). */
export const rateLimitBlocks = channel('mcpeg:ratelimit:blocked');
export interface RateLimitEvent {
  source: unknown;
  scope: string;
}

/** Published by the HTTP edge when it closes connections whose clients did not take their answers (edge/unsent.ts). */
export const slowClients = channel('mcpeg:http:slow-clients');
export interface SlowClientsEvent {
  source: unknown;
  reason: 'send_timeout' | 'max_unsent_bytes';
  connections: number;
}

/** Published by the HTTP edge for each connection it closes as it arrives because its client holds too many (edge/client-connections.ts). */
export const connectionsRefused = channel('mcpeg:http:connections-refused');
export interface ConnectionsRefusedEvent {
  source: unknown;
  reason: 'max_connections_per_client';
}

/**
 * A subscriber that cannot end the process: diagnostics_channel turns a subscriber's throw
 * into an uncaught exception, and events carry what clients and backends wrote (review 16:
 * one backend answer ended the gateway through the metrics subscriber). An observer that
 * fails on an event misses that event; the request it describes is served all the same.
 */
export function observer(fn: (msg: unknown) => void): (msg: unknown) => void {
  return (msg) => {
    try {
      fn(msg);
    } catch {
      // Not observed: nothing else to do with it here (logging it could fail the same way).
    }
  };
}
