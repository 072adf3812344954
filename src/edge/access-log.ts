/**
 * One structured log line per request, when its response is done (finished or cut off):
 * for an SSE stream that is when the stream ends. Never logs header values that may hold
 * secrets (Authorization, API keys, cookies) nor the query string, nor a session id
 * (whoever holds one drives the session): its fingerprint instead.
 *
 * The line is preformatted (observability/logger.ts lineWriter): its fields are fixed and
 * none is named like a secret, so pino's redaction walk has nothing to do; configured
 * secret values are still scrubbed from the whole line, client-sent text included.
 * One listener function for every response, no per-request closure or field object.
 */
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { lineWriter, type Logger } from '../observability/logger.js';
import type { Middleware } from './compose.js';
import { contextOf, type HttpContext } from './context.js';
import { sessionFingerprint } from '../protocol/fingerprint.js';

const MAX_UA = 256;
const MSG = '"http request"';

interface AccessFields {
  reqId: string;
  method: string;
  path: string;
  status: number;
  ms: number;
  bytes: number;
  ip: string;
  session: string | undefined;
  ua: string | undefined;
  aborted?: true;
}

function fieldsOf(ctx: HttpContext, res: ServerResponse): AccessFields {
  const { req } = ctx;
  const sid = ctx.sessionId ?? res.getHeader('mcp-session-id');
  const ua = req.headers['user-agent'];
  return {
    reqId: ctx.requestId,
    method: req.method ?? '',
    path: ctx.path,
    status: res.statusCode,
    ms: Math.round((performance.now() - ctx.startMs) * 10) / 10,
    // Bytes on the socket for this response, headers included (requests on a connection are sequential).
    bytes: req.socket.bytesWritten - ctx.bytesWrittenBefore,
    ip: ctx.clientIp,
    // The id is a bearer credential: logs carry its fingerprint.
    session: typeof sid === 'string' ? sessionFingerprint(sid) : undefined,
    ua: ua && ua.length > MAX_UA ? ua.slice(0, MAX_UA) : ua,
    ...(res.writableFinished ? {} : { aborted: true as const }),
  };
}

/** The fields of fieldsOf as JSON, in the same order, without building the object. */
function formatFields(ctx: HttpContext, res: ServerResponse): string {
  const { req } = ctx;
  const sid = ctx.sessionId ?? res.getHeader('mcp-session-id');
  const ua = req.headers['user-agent'];
  const ms = Math.round((performance.now() - ctx.startMs) * 10) / 10;
  let f = `"reqId":${JSON.stringify(ctx.requestId)},"method":${JSON.stringify(req.method ?? '')},"path":${JSON.stringify(ctx.path)},"status":${res.statusCode},"ms":${ms},"bytes":${req.socket.bytesWritten - ctx.bytesWrittenBefore},"ip":${JSON.stringify(ctx.clientIp)}`;
  if (typeof sid === 'string') f += `,"session":"${sessionFingerprint(sid)}"`;
  if (ua !== undefined) f += `,"ua":${JSON.stringify(ua.length > MAX_UA ? ua.slice(0, MAX_UA) : ua)}`;
  if (!res.writableFinished) f += ',"aborted":true';
  return f;
}

export function accessLog(log: Logger): Middleware {
  const write = lineWriter(log, 'info');
  function onClose(this: ServerResponse): void {
    const ctx = contextOf(this.req);
    if (!ctx) return;
    if (write) write(formatFields(ctx, this), MSG);
    else log.info(fieldsOf(ctx, this), 'http request');
  }
  return (ctx, next) => {
    // 'close' comes once per response: `on` spares the wrapper `once` allocates.
    ctx.res.on('close', onClose);
    return next();
  };
}
