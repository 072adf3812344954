/**
 * One structured log line per request, when its response is done (finished or cut off):
 * for an SSE stream that is when the stream ends. Never logs header values that may hold
 * secrets (Authorization, API keys, cookies) nor the query string, nor a session id
 * (whoever holds one drives the session): its fingerprint instead.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from '../observability/logger.js';
import type { Middleware } from './compose.js';
import { sessionFingerprint } from '../protocol/fingerprint.js';

const MAX_UA = 256;

export function accessLog(log: Logger): Middleware {
  return (ctx, next) => {
    const { req, res } = ctx;
    const socket = req.socket;
    const written = socket.bytesWritten;
    res.once('close', () => {
      const sid = ctx.sessionId ?? res.getHeader('mcp-session-id');
      const ua = req.headers['user-agent'];
      log.info(
        {
          reqId: ctx.requestId,
          method: req.method,
          path: ctx.path,
          status: res.statusCode,
          ms: Math.round((performance.now() - ctx.startMs) * 10) / 10,
          // Bytes on the socket for this response, headers included (requests on a connection are sequential).
          bytes: socket.bytesWritten - written,
          ip: ctx.clientIp,
          // The id is a bearer credential: logs carry its fingerprint.
          session: typeof sid === 'string' ? sessionFingerprint(sid) : undefined,
          ua: ua && ua.length > MAX_UA ? ua.slice(0, MAX_UA) : ua,
          ...(res.writableFinished ? {} : { aborted: true }),
        },
        'http request',
      );
    });
    return next();
  };
}
