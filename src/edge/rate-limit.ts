/**
 * Gateway-scope rate limits on the MCP endpoints (never /health). Every answer of a
 * limited route carries RateLimit-Limit, -Remaining and -Reset (seconds), after
 * draft-ietf-httpapi-ratelimit-headers; a refusal is 429 with Retry-After (RFC 9110 §10.2.3).
 */
import type { RateLimiter } from '../resilience/rate-limiter.js';
import { GatewayError } from '../errors/catalog.js';
import { sendError } from './http-util.js';
import type { Middleware } from './compose.js';
import { ceilSeconds } from './headers.js';
import { rateLimitBlocks } from '../observability/channels.js';

export function rateLimit(limiter: RateLimiter, source?: unknown): Middleware {
  return async (ctx, next) => {
    if (ctx.endpoint !== 'mcp') return next();
    let d: Awaited<ReturnType<RateLimiter['checkHttp']>>;
    try {
      d = await limiter.checkHttp(ctx);
    } catch (err) {
      // A shared bucket store that cannot be asked (state.store: redis, Redis away): 503 with its code, not an internal error.
      if (!(err instanceof GatewayError)) throw err;
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
        const wait = Math.max(1, ceilSeconds(d.retryAfterMs));
        ctx.req.resume();
        sendError(res, 'MCPEG_ERR_RATE_LIMITED', `Rate limit exceeded: ${d.rule}; retry after ${wait} s`, { 'retry-after': String(wait) });
        return;
      }
    }
    return next();
  };
}
