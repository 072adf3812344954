/**
 * The admin API's listener: its own node:http server on admin.host:admin.port (loopback
 * by default), apart from the MCP edge. Each request: Host/Origin check → authenticate
 * (401) → route (404, 405) → authorize the role (403) → handler → one JSON answer; every
 * mutating request, refused or not, writes one audit line. docs/admin-api.md describes it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../errors/catalog.js';
import { configSecrets } from '../observability/secrets.js';
import type { Gateway } from '../gateway.js';
import { isLoopbackHost } from '../edge/http-server.js';
import { checkOriginAndHost } from '../edge/http-util.js';
import { inTurn } from '../edge/pipelining.js';
import { UnsentWatch } from '../edge/unsent.js';
import { writeAudit } from './audit.js';
import { authenticate, authorize, type Identity } from './auth.js';
import { EVENT_LOOP_RESOLUTION_MS, type AdminContext } from './context.js';
import { AdminError, readAdminBody, sendAdminError, sendAdminJson } from './http.js';
import { adminRoutes } from './routes/index.js';
import { isWrite, Router, type AdminRequest, type Method } from './router.js';
import { RecentSeries } from './recent-series.js';
import { isConsolePath, serveConsole } from './ui-static.js';
import { localInstances, type InstanceLister } from '../state/instances.js';

/** Audit lines kept for GET /admin/audit: this many changes made, and apart this many refused. */
const MAX_AUDIT = 500;

export interface AdminServerOptions {
  /** The config file the gateway was started from, and the CLI overrides applied to it. */
  configFile?: string | undefined;
  configOverrides?: Array<{ path: string[]; value: unknown }> | undefined;
  /** The bound URL of the MCP endpoint (for GET /admin/info). */
  mcpUrl?: string | undefined;
  /** Called with the config in force after each successful change (state.store: redis shares it with the other instances). */
  changed?: ((config: Readonly<Config>) => Promise<void>) | undefined;
  /** Lists the running instances (GET /admin/instances); without it, this instance alone. */
  instances?: InstanceLister | undefined;
}

export interface AdminServer {
  /** http://host:port/admin */
  readonly url: string;
  close(): Promise<void>;
}

export async function startAdminServer(gw: Gateway, opts: AdminServerOptions = {}): Promise<AdminServer> {
  const cfg = gw.config.admin;
  const log = gw.log.child({ component: 'admin' });
  if (cfg.insecure_no_auth && !isLoopbackHost(cfg.host)) {
    throw new ConfigError(
      `admin.insecure_no_auth is only honoured on a loopback address, and admin.host is "${cfg.host}": bind the admin API to 127.0.0.1 or configure admin.keys`,
    );
  }
  const eventLoop = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
  eventLoop.enable();
  let url = '';
  const ctx: AdminContext = {
    gw,
    log,
    startedAt: Date.now(),
    configFile: opts.configFile,
    loadFile: () => loadConfig({ file: opts.configFile, overrides: opts.configOverrides ?? [] }),
    urls: () => ({ mcp: opts.mcpUrl, admin: url || undefined }),
    eventLoop,
    lastSync: undefined,
    maxBodyBytes: gw.config.server.max_body_bytes,
    ...(opts.changed ? { changed: opts.changed } : {}),
    instances: opts.instances ?? localInstances(),
    recentAudit: { done: [], refused: [] },
    maxAudit: MAX_AUDIT,
    series: new RecentSeries(
      () => gw.metrics.registry,
      () => gw.registry.backends.keys(),
    ),
  };
  const router: Router = new Router(adminRoutes(() => router.table));
  let insecureAllowed = false;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const t0 = performance.now();
    const method = req.method ?? 'GET';
    const path = trimSlashes(new URL(req.url ?? '/', 'http://admin').pathname);
    let who: Identity | undefined;
    let route = path;
    let params: Record<string, string> = {};
    const details: Record<string, unknown> = {};
    let status = 500;
    let code: string | undefined;
    try {
      // DNS rebinding (a browser page reaching a loopback listener): loopback names only.
      // The console's own requests carry its origin (the admin listener's, as the browser reached it; https behind a TLS proxy).
      const sameOrigin = typeof req.headers.host === 'string' ? [`http://${req.headers.host}`, `https://${req.headers.host}`] : [];
      const bad = checkOriginAndHost(req, { allowedOrigins: sameOrigin, allowedHosts: [], boundToLoopback: insecureAllowed });
      if (bad) throw new AdminError(bad.code, bad.message);
      // The console's page and assets: no key (they hold no data; the page's calls send one).
      if (isConsolePath(path)) {
        status = await serveConsole(req, res, new URL(req.url ?? '/', 'http://admin').pathname);
        return;
      }
      who = authenticate(req, gw.config.admin, insecureAllowed);
      if (path !== '/admin' && !path.startsWith('/admin/'))
        throw new AdminError('MCPEG_ERR_NOT_FOUND', `no admin route ${path} (the admin API is under /admin; GET /admin lists the routes)`);
      const m = router.match(method, path);
      if ('allowed' in m) {
        if (m.allowed.length === 0) throw new AdminError('MCPEG_ERR_NOT_FOUND', `no admin route ${path} (GET /admin lists the routes)`);
        throw new AdminError('MCPEG_ERR_METHOD_NOT_ALLOWED', `${method} is not allowed on ${path} (allowed: ${m.allowed.join(', ')})`, undefined, 405, {
          allow: m.allowed.join(', '),
        });
      }
      route = m.route.path;
      params = m.params;
      authorize(who, isWrite(method), m.route.registration === true);
      const areq: AdminRequest = {
        method: method as Method,
        path,
        params,
        query: new URL(req.url ?? '/', 'http://admin').searchParams,
        headers: req.headers,
        who,
        body: () => readAdminBody(req, ctx.maxBodyBytes, m.route.yaml === true),
        audit: details,
      };
      const reply = await m.route.handler(areq, ctx);
      status = reply.status ?? 200;
      sendAdminJson(res, status, reply.body, {}, configSecrets(gw.config));
    } catch (err) {
      status = sendAdminError(res, err, configSecrets(gw.config));
      code = err instanceof AdminError ? err.code : 'MCPEG_ERR_INTERNAL';
      if (status >= 500) log.error({ err: (err as Error).message, method, route }, 'admin request failed');
    } finally {
      if (!req.readableEnded) req.resume();
    }
    const ms = Math.round((performance.now() - t0) * 10) / 10;
    if (isWrite(method)) {
      // Refusals (anyone reaching the listener, with no key or a viewer's) are kept apart from the changes made: they never push one out.
      const ring = status < 400 ? ctx.recentAudit.done : ctx.recentAudit.refused;
      ring.push(writeAudit(log, { who, method, route, path, target: params, status, code, details, remote: req.socket.remoteAddress, ms }));
      if (ring.length > MAX_AUDIT) ring.splice(0, ring.length - MAX_AUDIT);
    } else log.debug({ who: who?.name ?? null, method, route, status, ms }, 'admin request');
  };

  // Pipelined requests one at a time, and answers not taken bounded, as on the MCP edge (src/edge/pipelining.ts, unsent.ts):
  // the console's files are served without a key.
  const serveOne = (req: IncomingMessage, res: ServerResponse): void => void handle(req, res);
  const server: Server = createServer({ maxHeaderSize: 16 * 1024, headersTimeout: 20_000, requestTimeout: 120_000, joinDuplicateHeaders: true }, (req, res) =>
    inTurn(req, res, serveOne),
  );
  // Every connection holds a descriptor the MCP listener needs too; the console files need no key.
  server.maxConnections = cfg.max_connections;
  const edge = gw.config.server;
  new UnsentWatch({ sendTimeoutMs: edge.send_timeout, maxUnsentBytes: edge.max_unsent_bytes }, log, undefined).attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port, cfg.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  insecureAllowed = isLoopbackHost(addr.address);
  ctx.series.start();
  const close = () =>
    new Promise<void>((resolve) => {
      eventLoop.disable();
      ctx.series.stop();
      server.close(() => resolve());
      server.closeAllConnections();
    });
  if (cfg.insecure_no_auth && !insecureAllowed) {
    await close();
    throw new ConfigError(`admin.insecure_no_auth is only honoured on a loopback address; the admin API bound to ${addr.address}`);
  }
  url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}/admin`;
  if (cfg.insecure_no_auth) log.warn({ url }, 'admin API without authentication (admin.insecure_no_auth): every local process has role admin');
  else if (cfg.keys.length === 0) log.warn({ url }, 'admin API has no keys (admin.keys): every request is refused with 401');
  log.info({ url, keys: cfg.keys.map((k) => `${k.name} (${k.role})`) }, 'admin API listening');
  return { url, close };
}

/** "/admin/x///" → "/admin/x" ("/" stays): a loop, since a regex over a run of slashes is quadratic. */
function trimSlashes(path: string): string {
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 0x2f) end--;
  return end === path.length ? path : path.slice(0, end);
}
