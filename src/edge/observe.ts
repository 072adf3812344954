/**
 * Publishes one `mcpeg:http:request` event per response when it is done (metrics
 * subscribe); nothing is measured while no one listens.
 */
import { performance } from 'node:perf_hooks';
import { httpRequests, type HttpRequestEvent } from '../observability/channels.js';
import type { Middleware } from './compose.js';

export function observe(source: unknown): Middleware {
  return (ctx, next) => {
    if (httpRequests.hasSubscribers) {
      ctx.res.once('close', () => {
        const e: HttpRequestEvent = { source, endpoint: ctx.endpoint, method: ctx.req.method ?? '', status: ctx.res.statusCode, durationMs: performance.now() - ctx.startMs };
        httpRequests.publish(e);
      });
    }
    return next();
  };
}
