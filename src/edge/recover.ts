/**
 * Exception recovery: a handler that throws (synchronously or by rejecting) gets a 500
 * JSON error naming the request id, or, when its response had already started, a cut
 * connection (the client then sees a truncated answer, not a wrong one). The process
 * keeps serving.
 */
import type { Logger } from '../observability/logger.js';
import { sendError } from './http-util.js';
import type { HttpContext } from './context.js';
import type { Middleware } from './compose.js';

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

export function recover(log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      answerUnhandled(ctx, err, log);
    }
  };
}
