/**
 * Gateway-scope rate limits on the MCP endpoints, and on the other requests that may make
 * the gateway ask the authorization server (`alsoCounts`: a bearer token on /health,
 * /health/ready or /metrics, edge/authenticate.ts), which otherwise checked invented tokens
 * at any rate past the limits the MCP endpoints keep (review 32). Every answer of a limited
 * request carries RateLimit-Limit, -Remaining and -Reset (seconds), after
 * draft-ietf-httpapi-ratelimit-headers; a refusal is 429 with Retry-After (RFC 9110 §10.2.3),
 * except on health, which is never refused (a probe must see the gateway's state, not
 * someone else's flood): its credential goes unchecked (`ctx.rateLimited`) and the caller
 * gets the status alone, as one without a credential does.
 */
import type { RateLimiter } from '../resilience/rate-limiter.js';
import { GatewayError } from '../errors/catalog.js';
import { sendError } from './http-util.js';
import type { Middleware } from './compose.js';
import type { HttpContext } from './context.js';
import { ceilSeconds } from './headers.js';
import { rateLimitBlocks } from '../observability/channels.js';

export function rateLimit(limiter: RateLimiter, source?: unknown, alsoCounts?: (ctx: HttpContext) => boolean): Middleware {
  return async (ctx, next) => {
    if (ctx.endpoint !== 'mcp' && !alsoCounts?.(ctx)) return next();
    let d: Awaited<ReturnType<RateLimiter['checkHttp']>>;
    try {
      d = await limiter.checkHttp(ctx);
    } catch (err) {
      // A shared bucket store that cannot be asked (state.store: redis, Redis away): 503 with its code, not an internal error.
      if (!(err instanceof GatewayError)) throw err;
      if (ctx.endpoint === 'health') {
        ctx.rateLimited = true;
        return next();
      }
      ctx.req.resume();
      sendError(ctx.res, err.code, err.message, { 'retry-after': '1' });
      return;
    }
    if (d) {
      const { res } = ctx;
      res.setHeader('ratelimit-limit', String(d.limit));
      res.setHeader('ratelimit-remaining', String(d.remaining));
      res.setHeader('ratelimit-reset', String(ceilSeconds(d.resetMs)));
      if (!d.allowed) {
        if (rateLimitBlocks.hasSubscribers) rateLimitBlocks.publish({ source, scope: 'gateway' });
        if (ctx.endpoint === 'health') {
          ctx.rateLimited = true;
          return next();
        }
        const wait = Math.max(1, ceilSeconds(d.retryAfterMs));
        ctx.req.resume();
        sendError(res, 'MCPEG_ERR_RATE_LIMITED', `Rate limit exceeded: ${d.rule}; retry after ${wait} s`, { 'retry-after': String(wait) });
        return;
      }
    }
    return next();
  };
}
