/**
 * Authentication on the MCP endpoints (auth/authenticate.ts decides): the principal goes
 * on the context for the transports, which give it to the session they create or find. A
 * refusal is answered here, before the body is read: 401 with the Bearer challenge (RFC
 * 6750 §3, RFC 9728 §5.1), 403 for a missing scope, 503 when the authorization server
 * could not be asked. Only in the chain when auth is configured: no cost otherwise.
 * A CORS preflight carries no credentials (Fetch standard, CORS-preflight request) and passes.
 */
import type { Authenticator } from '../auth/authenticate.js';
import type { Middleware } from './compose.js';
import { sendError } from './http-util.js';

export function authenticate(auth: Authenticator): Middleware {
  return async (ctx, next) => {
    if (ctx.endpoint !== 'mcp' || ctx.req.method === 'OPTIONS') return next();
    const r = await auth.authenticate(ctx.req.headers, ctx.path);
    if (r.ok) {
      ctx.principal = r.principal;
      return next();
    }
    ctx.req.resume();
    sendError(ctx.res, r.code, r.message, r.challenge ? { 'www-authenticate': r.challenge } : { 'retry-after': '5' });
  };
}
