/**
 * The HTTP edge: one node:http server, routing by path to the MCP endpoints of each view
 * and to health. Nothing past this file knows about node:http except the transports.
 *
 *   <path> (default /mcp)        Streamable HTTP, aggregate view
 *   /sse, /messages              legacy HTTP+SSE, aggregate view
 *   /servers/<name>/mcp          Streamable HTTP, one backend, original names
 *   /servers/<name>/sse|messages legacy HTTP+SSE, one backend
 *   /health/live, /health        liveness; per-backend state
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIPv4 } from 'node:net';
import type { ServerConfig } from '../../config/schema.js';
import type { Logger } from '../../observability/logger.js';
import { checkOriginAndHost, sendError, sendJson, type OriginPolicy } from './http-util.js';
import type { LegacySseEndpoint } from './legacy-sse.js';
import type { StreamableHttpEndpoint } from './streamable-http.js';

export interface EndpointSet {
  streamable: StreamableHttpEndpoint;
  legacy: LegacySseEndpoint | undefined;
}

export interface HttpRoutes {
  aggregate: EndpointSet;
  backend(name: string): EndpointSet | undefined;
  health(): Promise<{ status: number; body: unknown }>;
}

/** Whether a bind address is loopback-only (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || (isIPv4(h) && h.startsWith('127.')) || h === '::ffff:127.0.0.1';
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function createHttpServer(cfg: ServerConfig, routes: HttpRoutes, log: Logger): Server {
  const policy: OriginPolicy = {
    allowedOrigins: cfg.allowed_origins,
    allowedHosts: cfg.allowed_hosts,
    boundToLoopback: isLoopbackHost(cfg.host),
  };
  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      log.error({ err: (err as Error).message, url: req.url }, 'unhandled error in HTTP handler');
      sendError(res, 'MCPEG_ERR_INTERNAL', 'Internal error');
    });
  });
  server.keepAliveTimeout = 65_000;

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path === cfg.path) return mcp(routes.aggregate, 'mcp', req, res, url);
    if (path.startsWith('/servers/')) {
      const rest = path.slice('/servers/'.length);
      const slash = rest.indexOf('/');
      const name = slash < 0 ? rest : rest.slice(0, slash);
      const set = routes.backend(safeDecode(name));
      const kind = slash < 0 ? '' : rest.slice(slash + 1);
      if (set && (kind === 'mcp' || kind === 'sse' || kind === 'messages')) return mcp(set, kind, req, res, url);
      req.resume();
      return sendError(res, 'MCPEG_ERR_NOT_FOUND', `no backend endpoint at ${path}`);
    }
    if (path === '/sse' || path === '/messages') return mcp(routes.aggregate, path.slice(1) as 'sse' | 'messages', req, res, url);
    if (path === '/health/live') return sendJson(res, 200, { status: 'ok' });
    if (path === '/health') {
      const h = await routes.health();
      return sendJson(res, h.status, h.body);
    }
    req.resume();
    return sendError(res, 'MCPEG_ERR_NOT_FOUND', `no endpoint at ${path}`);
  }

  async function mcp(set: EndpointSet, kind: 'mcp' | 'sse' | 'messages', req: IncomingMessage, res: ServerResponse, url: string): Promise<void> {
    const problem = checkOriginAndHost(req, policy);
    if (problem) {
      req.resume();
      return sendError(res, problem.code, problem.message);
    }
    if (kind === 'mcp') return set.streamable.handle(req, res);
    if (!set.legacy) {
      req.resume();
      return sendError(res, 'MCPEG_ERR_NOT_FOUND', 'the legacy HTTP+SSE transport is disabled (server.legacy_sse)');
    }
    if (kind === 'sse') return set.legacy.open(req, res);
    const sessionId = new URL(url, 'http://localhost').searchParams.get('sessionId');
    return set.legacy.message(req, res, sessionId);
  }

  return server;
}
