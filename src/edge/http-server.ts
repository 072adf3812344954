/**
 * The HTTP edge: one node:http server, routing by path to the MCP endpoints of each view
 * and to health. Nothing past this file knows about node:http except the transports.
 *
 *   <path> (default /mcp)        Streamable HTTP, aggregate view
 *   /sse, /messages              legacy HTTP+SSE, aggregate view
 *   /servers/<name>/mcp          Streamable HTTP, one backend, original names
 *   /servers/<name>/sse|messages legacy HTTP+SSE, one backend
 *   /health/live, /health        liveness; per-backend state (with auth configured: to an authenticated caller, else the status alone)
 *   /health/ready, /metrics      readiness; Prometheus (with auth configured: authenticated unless auth.public_metrics)
 *
 *   /.well-known/oauth-protected-resource[/<endpoint path>]   OAuth protected resource metadata (RFC 9728)
 *
 * Every request first passes the edge middleware (src/middleware), in this order:
 *   recover → access log → CORS → load shedding → rate limits → authentication → compression → route
 * (rate limits and authentication: the MCP endpoints, and /health, /health/ready and /metrics with auth configured)
 * (recover is the catch around the whole chain, not a link of it: one promise less per request).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ServerConfig } from '../config/schema.js';
import { isLoopbackHost } from '../util/loopback.js';
import type { RateLimitsConfig } from '../config/traffic.js';
import { accessLog } from './access-log.js';
import { ClientIpResolver } from './client-ip.js';
import { compose, type Middleware } from './compose.js';
import { compression } from './compression.js';
import { createContext, type HttpContext } from './context.js';
import { cors } from './cors.js';
import { asksAuthorizationServer, authenticate } from './authenticate.js';
import { Authenticator } from '../auth/authenticate.js';
import { resourceMetadata } from '../auth/metadata.js';
import { authConfigured, type AuthConfig } from '../config/auth.js';
import { loadShed } from './load-shed.js';
import { rateLimit } from './rate-limit.js';
import { observe } from './observe.js';
import { recover } from './recover.js';
import type { Logger } from '../observability/logger.js';
import { RateLimiter } from '../resilience/rate-limiter.js';
import { checkOriginAndHost, sendError, sendJson, type OriginPolicy } from './http-util.js';
import { UnsentWatch } from './unsent.js';
import { limitConnectionsPerClient } from './client-connections.js';
import { inTurn } from './pipelining.js';

/** What the edge routes to; the transports (transport/inbound) implement these. */
export interface StreamableEndpoint {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export interface LegacyEndpoint {
  open(req: IncomingMessage, res: ServerResponse): void;
  message(req: IncomingMessage, res: ServerResponse, sessionId: string | null): Promise<void>;
}

export interface EndpointSet {
  streamable: StreamableEndpoint;
  legacy: LegacyEndpoint | undefined;
}

export interface HttpRoutes {
  aggregate: EndpointSet;
  backend(name: string): EndpointSet | undefined;
  health(): Promise<{ status: number; body: unknown }>;
  /** 200 when the config is loaded and every `required` backend is up, else 503. */
  ready?(): Promise<{ status: number; body: unknown }>;
  /** Prometheus text exposition. */
  metrics?(): Promise<{ contentType: string; body: string }>;
}

export { isLoopbackHost };

/**
 * A health answer for a caller who did not authenticate: its `status` (and why, when it is
 * shutting down), not which backends there are, where they are or what failed.
 */
function statusOnly(body: unknown): { status: unknown; reason?: unknown } {
  const b = body as { status?: unknown; reason?: unknown };
  return { status: b.status, ...(typeof b.reason === 'string' ? { reason: b.reason } : {}) };
}

/** What a route that answered at once returns. */
const DONE: Promise<void> = Promise.resolve();

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** What the edge needs beyond `server`: the top-level rate_limits and traffic sections. */
export interface EdgeOptions {
  /** rate_limits: trusted_proxies (client IP) and, unless `rateLimiter` is given, the rules. */
  rateLimits?: RateLimitsConfig;
  /** The limiter shared with the protocol layer (backend/tool rules); built from rateLimits if absent. */
  rateLimiter?: RateLimiter;
  traffic?: { max_inflight: number };
  /** Identifies this gateway in the events metrics subscribe to (mcpeg:http:request, mcpeg:ratelimit:blocked). */
  source?: unknown;
  /** Client authentication on the MCP endpoints; none configured: every request is anonymous. */
  auth?: AuthConfig;
}

/**
 * The edge middleware for a server config, in order. `route` answers what is left.
 * Middleware that a config turns off is not in the chain at all (no per-request cost).
 */
export function edgeMiddleware(cfg: ServerConfig, edge: EdgeOptions, policy: OriginPolicy, log: Logger): Middleware[] {
  const chain: Middleware[] = [];
  if (edge.source !== undefined) chain.push(observe(edge.source));
  if (cfg.access_log && log.isLevelEnabled('info')) chain.push(accessLog(log));
  if (cfg.cors.enabled) chain.push(cors(cfg.cors, policy));
  const maxInflight = edge.traffic?.max_inflight ?? 0;
  if (maxInflight > 0) chain.push(loadShed(maxInflight));
  const limiter = edge.rateLimiter ?? (edge.rateLimits ? new RateLimiter(edge.rateLimits) : undefined);
  const auth = edge.auth && authConfigured(edge.auth) ? edge.auth : undefined;
  if (limiter?.hasGatewayRules) chain.push(rateLimit(limiter, edge.source, auth && asksAuthorizationServer(auth)));
  // After the rate limits: a flood of bad tokens is limited by address before any is checked.
  if (auth) chain.push(authenticate(new Authenticator(auth, cfg.path), log, { publicMetrics: auth.public_metrics }));
  if (cfg.compression.enabled) chain.push(compression(cfg.compression));
  return chain;
}

export function createHttpServer(cfg: ServerConfig, routes: HttpRoutes, log: Logger, edge: EdgeOptions = {}): Server {
  const policy: OriginPolicy = {
    allowedOrigins: cfg.allowed_origins,
    allowedHosts: cfg.allowed_hosts,
    boundToLoopback: isLoopbackHost(cfg.host),
  };
  const ips = new ClientIpResolver(edge.rateLimits?.trusted_proxies ?? []);
  // With authentication configured, health detail (backend names, endpoints, errors) is for authenticated callers only.
  const authOn = edge.auth !== undefined && authConfigured(edge.auth);
  const run = recover(compose([...edgeMiddleware(cfg, edge, policy, log), (ctx) => route(ctx)]), log);
  // recover() catches what any middleware or handler throws or rejects with.
  const serveOne = (req: IncomingMessage, res: ServerResponse): void => void run(createContext(req, res, cfg.path, ips));
  const server = createServer(
    {
      // Larger header blocks get 431 from node itself; slow ones 408 (slowloris).
      maxHeaderSize: cfg.max_header_bytes,
      // A header given twice reaches the checks as one value of both: two Host lines fail the Host check, two
      // Authorization or Mcp-Session-Id lines match no key or session. Node kept the first and dropped the rest,
      // so a request was judged on one line of two (RFC 9112 §3.2: two Host lines are a bad request).
      joinDuplicateHeaders: true,
      headersTimeout: cfg.headers_timeout,
      // The body too (a trickled one held its connection and a max_inflight place); at least headersTimeout (config/schema.ts).
      requestTimeout: cfg.request_timeout,
      // How often node looks for expired header and request timeouts (default 30 s, too coarse for short ones).
      connectionsCheckingInterval: Math.max(250, Math.min(30_000, Math.floor(Math.min(cfg.headers_timeout, cfg.request_timeout) / 4))),
    },
    // A pipelined request is handled when the answers before it on its connection are done.
    (req, res) => inTurn(req, res, serveOne),
  );
  server.keepAliveTimeout = 65_000;
  // Every connection holds memory and a descriptor: bounded (streams and requests ride on them).
  server.maxConnections = cfg.max_connections;
  // ...and one client may not hold them all.
  limitConnectionsPerClient(server, cfg.max_connections_per_client, ips, log, edge.source);
  // Answers a client does not take are held in memory: bounded in time and in total.
  new UnsentWatch({ sendTimeoutMs: cfg.send_timeout, maxUnsentBytes: cfg.max_unsent_bytes }, log, edge.source).attach(server);

  /** Not async: the MCP endpoints' own promise is the answer's (no wrapper promise per request). */
  function route(ctx: HttpContext): Promise<void> {
    const { req, res, path } = ctx;
    // DNS rebinding (Streamable HTTP spec, "Security Warning"): a page on another origin
    // must reach no endpoint of a local gateway, health and metrics included.
    const problem = checkOriginAndHost(req, policy);
    if (problem) {
      req.resume();
      sendError(res, problem.code, problem.message);
      return DONE;
    }
    const url = req.url ?? '/';
    if (path === cfg.path) return mcp(routes.aggregate, 'mcp', ctx, url);
    if (path.startsWith('/servers/')) {
      const rest = path.slice('/servers/'.length);
      const slash = rest.indexOf('/');
      const name = slash < 0 ? rest : rest.slice(0, slash);
      const set = routes.backend(safeDecode(name));
      const kind = slash < 0 ? '' : rest.slice(slash + 1);
      if (set && (kind === 'mcp' || kind === 'sse' || kind === 'messages')) return mcp(set, kind, ctx, url);
      req.resume();
      sendError(res, 'MCPEG_ERR_NOT_FOUND', `no backend endpoint at ${path}`);
      return DONE;
    }
    if (path === '/sse' || path === '/messages') return mcp(routes.aggregate, path.slice(1) as 'sse' | 'messages', ctx, url);
    return other(ctx);
  }

  /** Everything but the MCP endpoints: metadata, health, readiness, metrics. */
  async function other(ctx: HttpContext): Promise<void> {
    const { req, res, path } = ctx;
    if (ctx.endpoint === 'metadata') {
      req.resume();
      const doc = edge.auth ? resourceMetadata(edge.auth, path, cfg.path) : undefined;
      if (!doc) return sendError(res, 'MCPEG_ERR_NOT_FOUND', `no protected resource metadata at ${path}${edge.auth?.oauth ? '' : ' (auth.oauth is not configured)'}`);
      return sendJson(res, 200, doc, { 'cache-control': 'max-age=300' });
    }
    if (path === '/health/live') return sendJson(res, 200, { status: 'ok' });
    // Anonymous with auth on: the authenticate middleware found no valid credential (it refuses none here).
    const detail = !authOn || ctx.principal.kind !== 'anonymous';
    if (path === '/health/ready' && routes.ready) {
      const r = await routes.ready();
      return sendJson(res, r.status, detail ? r.body : statusOnly(r.body));
    }
    if (path === '/metrics' && routes.metrics) {
      req.resume();
      const m = await routes.metrics();
      res.writeHead(200, { 'content-type': m.contentType, 'cache-control': 'no-store' });
      res.end(m.body);
      return;
    }
    if (path === '/health') {
      const h = await routes.health();
      return sendJson(res, h.status, detail ? h.body : statusOnly(h.body));
    }
    req.resume();
    return sendError(res, 'MCPEG_ERR_NOT_FOUND', `no endpoint at ${path}`);
  }

  function mcp(set: EndpointSet, kind: 'mcp' | 'sse' | 'messages', ctx: HttpContext, url: string): Promise<void> {
    const { req, res } = ctx;
    if (kind === 'mcp') return set.streamable.handle(req, res);
    if (!set.legacy) {
      req.resume();
      sendError(res, 'MCPEG_ERR_NOT_FOUND', 'the legacy HTTP+SSE transport is disabled (server.legacy_sse)');
      return DONE;
    }
    if (kind === 'sse') {
      set.legacy.open(req, res);
      return DONE;
    }
    const sessionId = new URL(url, 'http://localhost').searchParams.get('sessionId');
    if (sessionId) ctx.sessionId = sessionId;
    return set.legacy.message(req, res, sessionId);
  }

  return server;
}
