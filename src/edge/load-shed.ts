/**
 * Global load shedding (traffic.max_inflight): over the cap, a new MCP request gets 503
 * with Retry-After: 1 before its body is read. POST and DELETE count while their answer
 * is open (a POST answered as SSE counts until its stream ends); a GET stream is a
 * standing subscription, not work in flight, so it does not count.
 */
import { sendError } from './http-util.js';
import type { Middleware } from './compose.js';

export interface InflightCounter {
  readonly inflight: number;
}

export function loadShed(maxInflight: number): Middleware & InflightCounter {
  let inflight = 0;
  const mw = (ctx: Parameters<Middleware>[0], next: () => Promise<void>): Promise<void> => {
    const m = ctx.req.method;
    if (ctx.endpoint !== 'mcp' || (m !== 'POST' && m !== 'DELETE')) return next();
    if (inflight >= maxInflight) {
      // connection: close, so node does not read (drain) the body we refuse.
      sendError(ctx.res, 'MCPEG_ERR_OVERLOADED', `Overloaded: ${maxInflight} requests in flight (traffic.max_inflight); retry shortly`, {
        'retry-after': '1',
        connection: 'close',
      });
      return Promise.resolve();
    }
    inflight++;
    ctx.res.once('close', () => inflight--);
    return next();
  };
  return Object.defineProperty(mw, 'inflight', { get: () => inflight }) as Middleware & InflightCounter;
}
