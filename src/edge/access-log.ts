/**
 * One structured log line per request, when its response is done (finished or cut off):
 * for an SSE stream that is when the stream ends. Never logs header values that may hold
 * secrets (Authorization, API keys, cookies) nor the query string, nor a session id
 * (whoever holds one drives the session): its fingerprint instead.
 *
 * The line is preformatted (observability/logger.ts linePrinter), in one piece: its fields are fixed and
 * none is named like a secret, so pino's redaction walk has nothing to do; configured
 * secret values are still scrubbed from the whole line, client-sent text included.
 * One listener function for every response, no per-request closure or field object.
 */
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { linePrinter, type Logger } from '../observability/logger.js';
import type { Middleware } from './compose.js';
import { contextOf, type HttpContext } from './context.js';
import { sessionFingerprint } from '../protocol/fingerprint.js';

const MAX_UA = 256;
const END = ',"msg":"http request"}\n';

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

/**
 * The pieces of one line (head, the fields of fieldsOf in the same order, end), joined
 * once: one flat string per line. Reused (a line is built synchronously), at a fixed
 * length: an absent field is empty strings.
 */
const PARTS: Array<string | number> = new Array(24).fill('');

/** `s` as the inside of a JSON string literal: itself when nothing in it needs escaping (printable ASCII), else as JSON.stringify writes it. */
function jsonText(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return JSON.stringify(s).slice(1, -1);
  }
  return s;
}

/** The line of a response: the fields of fieldsOf as JSON, in the same order, without building the object. */
function formatLine(head: string, ctx: HttpContext, res: ServerResponse, scrub: (text: string) => string): string {
  const { req } = ctx;
  const sid = ctx.sessionId ?? res.getHeader('mcp-session-id');
  const ua = req.headers['user-agent'];
  const p = PARTS;
  p[0] = head;
  p[1] = '"reqId":"';
  p[2] = jsonText(ctx.requestId);
  p[3] = '","method":"';
  p[4] = jsonText(req.method ?? '');
  p[5] = '","path":"';
  p[6] = jsonText(ctx.path);
  p[7] = '","status":';
  p[8] = res.statusCode;
  p[9] = ',"ms":';
  p[10] = Math.round((performance.now() - ctx.startMs) * 10) / 10;
  p[11] = ',"bytes":';
  p[12] = req.socket.bytesWritten - ctx.bytesWrittenBefore;
  p[13] = ',"ip":"';
  p[14] = jsonText(ctx.clientIp);
  p[15] = '"';
  const hasSid = typeof sid === 'string';
  p[16] = hasSid ? ',"session":"' : '';
  p[17] = hasSid ? sessionFingerprint(sid) : '';
  p[18] = hasSid ? '"' : '';
  p[19] = ua !== undefined ? ',"ua":"' : '';
  // Scrubbed before the cut: a cut through a secret would leave its start, which the line's scrub no longer sees.
  p[20] = ua !== undefined ? jsonText(ua.length > MAX_UA ? scrub(ua).slice(0, MAX_UA) : ua) : '';
  p[21] = ua !== undefined ? '"' : '';
  p[22] = res.writableFinished ? '' : ',"aborted":true';
  p[23] = END;
  const line = p.join('');
  // Not held until the next line: the pieces may be client text.
  p[2] = p[4] = p[6] = p[14] = p[20] = '';
  return line;
}

export function accessLog(log: Logger): Middleware {
  const printer = linePrinter(log, 'info');
  function onClose(this: ServerResponse): void {
    const ctx = contextOf(this.req);
    if (!ctx) return;
    if (!printer) log.info(fieldsOf(ctx, this), 'http request');
    else if (printer.enabled()) printer.write(formatLine(printer.head(), ctx, this, printer.scrub));
  }
  return (ctx, next) => {
    // 'close' comes once per response: `on` spares the wrapper `once` allocates.
    ctx.res.on('close', onClose);
    return next();
  };
}
