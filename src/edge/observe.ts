/**
 * Publishes one `mcpeg:http:request` event per response when it is done (metrics
 * subscribe); nothing is measured while no one listens. One listener function for every
 * response, no per-request closure.
 */
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { httpRequests, type HttpRequestEvent } from '../observability/channels.js';
import type { Middleware } from './compose.js';
import { contextOf } from './context.js';

export function observe(source: unknown): Middleware {
  function onClose(this: ServerResponse): void {
    const ctx = contextOf(this.req);
    if (!ctx || !httpRequests.hasSubscribers) return;
    const e: HttpRequestEvent = { source, endpoint: ctx.endpoint, method: ctx.req.method ?? '', status: this.statusCode, durationMs: performance.now() - ctx.startMs };
    httpRequests.publish(e);
  }
  return (ctx, next) => {
    // 'close' comes once per response: `on` spares the wrapper `once` allocates.
    if (httpRequests.hasSubscribers) ctx.res.on('close', onClose);
    return next();
  };
}
