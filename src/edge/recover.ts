/**
 * Exception recovery: a handler that throws (synchronously or by rejecting) gets a 500
 * JSON error naming the request id, or, when its response had already started, a cut
 * connection (the client then sees a truncated answer, not a wrong one). The process
 * keeps serving.
 */
import type { Logger } from '../observability/logger.js';
import { sendError } from './http-util.js';
import type { HttpContext } from './context.js';

export function answerUnhandled(ctx: HttpContext, err: unknown, log: Logger): void {
  log.error(
    { reqId: ctx.requestId, method: ctx.req.method, path: ctx.path, err: err instanceof Error ? (err.stack ?? err.message) : String(err) },
    'unhandled error in HTTP handler',
  );
  if (ctx.res.headersSent) {
    ctx.res.destroy();
    return;
  }
  sendError(ctx.res, 'MCPEG_ERR_INTERNAL', `Internal error (request ${ctx.requestId})`, {}, null, { requestId: ctx.requestId });
}

/**
 * The edge chain with its failures caught: the catch around the whole chain rather than
 * its first link (an async link would cost a promise and a turn of the microtask queue per
 * request, for the same effect). A handler's synchronous throw reaches it too: compose
 * turns it into a rejection.
 */
export function recover(run: (ctx: HttpContext) => Promise<void>, log: Logger): (ctx: HttpContext) => Promise<void> {
  return (ctx) => run(ctx).catch((err: unknown) => answerUnhandled(ctx, err, log));
}
