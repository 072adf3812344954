/**
 * Streamable HTTP for stateless clients (protocol revision 2026-07-28, SEP-2575): a POST
 * without Mcp-Session-Id that carries the per-request envelope. Nothing is kept between
 * requests, so any gateway instance can serve any of them. The POST is answered with
 * JSON, or SSE once a notification for the request (progress, a log line) must go first;
 * a backend's request to the client never goes on the stream (the revision has none):
 * it comes back inside the result as `input_required`. subscriptions/listen holds its
 * POST open as the stream of list changes.
 *
 * Statuses (SEP-2575 "HTTP status codes"): 400 for a bad envelope (-32602), a header
 * that disagrees with the body (-32020), an unsupported version (-32022) or a missing
 * client capability (-32021); 404 for a method the revision does not have (-32601).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { toRpcError } from '../../errors/catalog.js';
import { httpStatusOf, statelessStatusOf } from '../../errors/http-status.js';
import type { Logger } from '../../observability/logger.js';
import { dispatchRequest, type DispatchOptions } from '../../protocol/dispatch.js';
import { errorResponse, isRequest, type JsonRpcMessage, type JsonRpcRequest, type JsonRpcResponse } from '../../wire/jsonrpc.js';
import { checkParamHeaders, checkStandardHeaders, claimsEnvelope, paramHeadersOf, readEnvelope } from '../../wire/stateless.js';
import { subscription } from '../../protocol/stateless.js';
import type { ClientSession, Outbound } from '../../protocol/session.js';
import type { SessionManager } from '../../protocol/sessions.js';
import { endJson } from '../../edge/compression.js';
import { contextOf, principalOf } from '../../edge/context.js';
import { parseTraceparent } from '../../observability/trace.js';
import { apiKeyFromHeaders, hashApiKey } from '../../resilience/rate-limiter.js';
import { sendError } from '../../edge/http-util.js';
import { keepAlive, SSE_HEADERS, sseEvent, writeSse } from './sse.js';
import { unwritableStandIn, unwritableWhy } from '../../wire/unwritable.js';
import { WarnBudget } from '../../observability/warn-budget.js';

export interface StatelessDeps {
  sessions: SessionManager;
  log: Logger;
  dispatch: DispatchOptions;
  keepAliveMs: number;
  apiKeyHeader?: string;
}

const JSON_HEADERS = { 'content-type': 'application/json' } as const;

/** One stateless request's answer: JSON until a notification must be streamed first, then SSE. */
class OneShot implements Outbound {
  private sse = false;
  private stopKeepAlive: (() => void) | undefined;
  done = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly keepAliveMs: number,
    private readonly onUnwritable: (why: string) => void,
  ) {}

  deliver(msg: JsonRpcMessage): boolean {
    // No server-to-client requests on this revision; and nothing after the answer.
    if (isRequest(msg) || this.done || this.res.writableEnded) return false;
    if (!this.sse) {
      this.sse = true;
      this.res.writeHead(200, SSE_HEADERS);
      this.stopKeepAlive = keepAlive(this.res, this.keepAliveMs);
    }
    return writeSse(this.res, sseEvent(JSON.stringify(msg)));
  }

  isOpen(): boolean {
    return !this.done;
  }

  answer(r: JsonRpcResponse | undefined): void {
    this.done = true;
    this.stopKeepAlive?.();
    if (this.res.writableEnded || this.res.destroyed) return;
    let text: string | undefined;
    if (r) {
      try {
        text = JSON.stringify(r);
      } catch (err) {
        // An answer that cannot be written (wire/unwritable.ts) goes as a -32603 error with its id.
        const why = unwritableWhy(err);
        this.onUnwritable(why);
        r = unwritableStandIn(r, why) as JsonRpcResponse;
        text = JSON.stringify(r);
      }
    }
    if (this.sse) {
      if (text !== undefined) this.res.write(sseEvent(text));
      this.res.end();
    } else if (r && text !== undefined) {
      endJson(this.res, statelessStatusOf(r), JSON_HEADERS, text);
    } else {
      this.res.writeHead(200, SSE_HEADERS).end(); // cancelled: nothing to say
    }
  }
}

export class StatelessHttp {
  /** Answers that could not be written: a warn line per window, not per request (no session to count them in). */
  private readonly warnings: WarnBudget;

  constructor(
    private readonly viewId: string,
    private readonly deps: StatelessDeps,
  ) {
    this.warnings = new WarnBudget(deps.log);
  }

  private readonly unwritable = (why: string): void => {
    this.warnings.warn('unwritable', { err: why }, 'an answer could not be written to a stateless Streamable HTTP client: it went as a -32603 error');
  };

  /** Whether a POST without a session id is for this transport: it claims the envelope or names a version the stateful lifecycle lacks. */
  static claims(req: IncomingMessage, messages: JsonRpcMessage[], stateful: (v: string) => boolean): boolean {
    const v = req.headers['mcp-protocol-version'];
    if (typeof v === 'string' && !stateful(v)) return true;
    return messages.some((m) => 'method' in m && claimsEnvelope(m.params));
  }

  async post(req: IncomingMessage, res: ServerResponse, messages: JsonRpcMessage[], batch: boolean): Promise<void> {
    if (batch) return sendError(res, 'MCPEG_ERR_BATCH_NOT_ALLOWED', 'Invalid Request: JSON-RPC batches are not allowed on protocol revision 2026-07-28');
    const m = messages[0];
    // Notifications (a cancel is closing the stream) and stray responses have nothing to act on.
    if (!isRequest(m)) {
      res.writeHead(202).end();
      return;
    }
    let s: ClientSession;
    try {
      const header = req.headers['mcp-protocol-version'];
      const env = readEnvelope(m, typeof header === 'string' ? header : null);
      checkStandardHeaders(m, header1(req, 'mcp-method'), header1(req, 'mcp-name'));
      if (m.method === 'subscriptions/listen') return this.listen(m, res, contextOf(req)?.clientIp ?? req.socket.remoteAddress);
      s = this.deps.sessions.ephemeral(this.viewId, env, principalOf(req));
      if (m.method === 'tools/call') checkParamHeaders(paramHeadersOf(toolItem(s, m.params?.name)), m.params?.arguments, (h) => header1(req, h));
    } catch (err) {
      return this.fail(res, m, err);
    }
    s.clientIp = contextOf(req)?.clientIp ?? req.socket.remoteAddress;
    const key = apiKeyFromHeaders(req.headers, this.deps.apiKeyHeader ?? 'x-api-key');
    if (key !== undefined) s.apiKeyId = hashApiKey(key);
    const out = new OneShot(res, this.deps.keepAliveMs, this.unwritable);
    s.outbound = out;
    // Closing the response is the cancellation on this revision.
    res.on('close', () => {
      if (!out.done) for (const c of s.inflight.values()) c.cancel('client closed the stream');
    });
    try {
      out.answer(await dispatchRequest(s, m, this.deps.dispatch, contextOf(req)?.requestId, parseTraceparent(req.headers.traceparent)));
    } finally {
      this.deps.sessions.done(s);
    }
  }

  private fail(res: ServerResponse, m: JsonRpcRequest, err: unknown): void {
    endJson(res, httpStatusOf(err), JSON_HEADERS, JSON.stringify(errorResponse(m.id, toRpcError(err))));
  }

  /**
   * subscriptions/listen: acknowledges the honoured filter, then streams the view's list
   * changes, each tagged with the listen request's id, until the client closes it.
   */
  private listen(m: JsonRpcRequest, res: ServerResponse, clientIp: string | undefined): void {
    const sub = subscription(m);
    let stop: () => void = () => {};
    let remove: () => void = () => {};
    try {
      remove = this.deps.sessions.addListener(
        {
          viewId: this.viewId,
          methods: sub.methods,
          deliver: (n) => void writeSse(res, sseEvent(JSON.stringify(sub.tag(n)))),
          end: () => {
            stop();
            if (res.writableEnded) return;
            res.write(sseEvent(JSON.stringify(sub.final)));
            res.end();
          },
        },
        clientIp,
      );
    } catch (err) {
      return this.fail(res, m, err);
    }
    res.writeHead(200, SSE_HEADERS);
    res.write(sseEvent(JSON.stringify(sub.ack)));
    stop = keepAlive(res, this.deps.keepAliveMs);
    res.on('close', () => {
      stop();
      remove();
    });
  }
}

/** The tool a stateless client calls, as its backend listed it (for its x-mcp-header declarations). */
function toolItem(s: ClientSession, name: unknown): Record<string, unknown> | undefined {
  if (typeof name !== 'string') return undefined;
  const route = s.view.tool(name);
  const b = route && s.host.backend(route.backend);
  return b ? b.toolByName(route.name) : undefined;
}

function header1(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
