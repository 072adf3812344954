/**
 * Authentication on the MCP endpoints (auth/authenticate.ts decides): the principal goes
 * on the context for the transports, which give it to the session they create or find. A
 * refusal is answered here, before the body is read: 401 with the Bearer challenge (RFC
 * 6750 §3, RFC 9728 §5.1), 403 for a missing scope, 503 when the authorization server
 * could not be asked. Only in the chain when auth is configured: no cost otherwise.
 * A CORS preflight carries no credentials (Fetch standard, CORS-preflight request) and passes.
 *
 * `/metrics` is refused the same way (unless `auth.public_metrics`): its series name every
 * backend, tool and replica. `/health` and `/health/ready` are never refused (probes send no
 * credential): a caller is authenticated if it can be, and a bad or missing credential leaves
 * it anonymous, to which the route answers the status alone (http-server.ts).
 * A bearer token there may cost a call to the authorization server (introspection, keys), so
 * those requests take the gateway rate limits as the MCP endpoints do (`asksAuthorizationServer`,
 * edge/rate-limit.ts); a health request over them is not checked (`ctx.rateLimited`): anonymous.
 * Why the authorization server could not be asked goes to the log (a warning at most every
 * LOG_EVERY_MS, with how many more there were), not to the client.
 */
import type { Authenticator } from '../auth/authenticate.js';
import type { AuthConfig } from '../config/auth.js';
import type { HttpContext } from './context.js';
import type { Logger } from '../observability/logger.js';
import type { Middleware } from './compose.js';
import { sendError } from './http-util.js';

const LOG_EVERY_MS = 5000;

/** Answered in detail to an authenticated caller, in summary to any other. */
const DETAILED_HEALTH = new Set(['/health', '/health/ready']);

/**
 * The requests outside the MCP endpoints on which this middleware may ask the authorization
 * server (an Authorization header with auth.oauth: introspection, the key set; an API key
 * header is checked locally and not counted): the rate limits
 * count them as MCP requests, or /health would check invented tokens for anyone at any rate,
 * filling the introspection queue the MCP clients share (review 32). A CORS preflight is
 * answered by cors.ts before (health) or counted as any request (/metrics).
 */
export function asksAuthorizationServer(auth: AuthConfig): ((ctx: HttpContext) => boolean) | undefined {
  if (!auth.oauth) return undefined;
  const metrics = !auth.public_metrics;
  return (ctx) => ctx.req.headers.authorization !== undefined && (DETAILED_HEALTH.has(ctx.path) || (metrics && ctx.path === '/metrics'));
}

export function authenticate(auth: Authenticator, log: Logger, opts: { publicMetrics: boolean }): Middleware {
  let lastLogged = 0;
  let unlogged = 0;
  const warn = (detail: string) => {
    const now = Date.now();
    if (now - lastLogged < LOG_EVERY_MS) {
      unlogged++;
      return;
    }
    log.warn({ code: 'MCPEG_ERR_AUTH_UNAVAILABLE', reason: detail, alsoSince: unlogged }, 'authentication could not check a credential');
    lastLogged = now;
    unlogged = 0;
  };
  return async (ctx, next) => {
    // A preflight is answered by cors.ts on the endpoints CORS covers; /metrics ('other') serves any method.
    if (ctx.req.method === 'OPTIONS' && ctx.endpoint !== 'other') return next();
    if (ctx.endpoint === 'health') {
      if (!DETAILED_HEALTH.has(ctx.path) || ctx.rateLimited) return next();
      const h = await auth.authenticate(ctx.req.headers, ctx.path);
      if (h.ok) ctx.principal = h.principal;
      else if (h.detail !== undefined) warn(h.detail);
      return next();
    }
    if (ctx.endpoint !== 'mcp' && (ctx.path !== '/metrics' || opts.publicMetrics)) return next();
    const r = await auth.authenticate(ctx.req.headers, ctx.path);
    if (r.ok) {
      ctx.principal = r.principal;
      return next();
    }
    ctx.req.resume();
    if (r.detail !== undefined) warn(r.detail);
    sendError(ctx.res, r.code, r.message, r.challenge ? { 'www-authenticate': r.challenge } : { 'retry-after': '5' });
  };
}
