/**
 * The HTTP+SSE transport of protocol 2024-11-05, for older clients: GET `<base>/sse`
 * opens the stream and its first event, `endpoint`, names the URL to POST messages to
 * (`<base>/messages?sessionId=...`); every answer travels back on the stream.
 *
 * With other instances (state.store: redis) the stream is on one instance and a POST may
 * land on another: that one passes the POSTed messages over the bus to the instance holding
 * the stream, which serves them as its own (docs/scaling.md#live-routing). The connection,
 * its session and every answer stay where the stream is: nothing else could carry them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../observability/logger.js';
import type { DispatchOptions } from '../../protocol/dispatch.js';
import type { SessionManager } from '../../protocol/sessions.js';
import type { BatchHold } from './batch-hold.js';
import { ChannelConnection } from './channel.js';
import { contextOf, principalOf } from '../../edge/context.js';
import { fromRecord, principalRecord } from '../../auth/principal.js';
import { accepts, readJsonRpcPost, sendError } from '../../edge/http-util.js';
import { keepAlive, SSE_HEADERS, sseEvent, writeSse } from './sse.js';
import { messageText } from '../../wire/raw-json.js';
import type { BusMessage, InstanceBus } from '../../protocol/bus.js';
import { GatewayError } from '../../errors/catalog.js';
import type { JsonRpcMessage } from '../../wire/jsonrpc.js';

/** How long a POST waits for the instance holding its stream to take its messages. */
const FORWARD_TIMEOUT_MS = 5000;
/**
 * The shape of the ids this endpoint issues (ChannelConnection: randomUUID). Only such an id
 * is looked up on the bus: the lookup is remembered there, and a made-up id (as long as the
 * header limit allows) must not become a key the gateway keeps.
 */
const ISSUED_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface LegacySseDeps {
  sessions: SessionManager;
  log: Logger;
  dispatch: DispatchOptions;
  maxBodyBytes: number;
  keepAliveMs: number;
  /** The other gateway instances: POSTs for a stream another instance holds go there. */
  bus?: InstanceBus;
  /** The answers all batches of the instance hold together (batch-hold.ts); else each connection's own. */
  batchHold?: BatchHold;
}

export class LegacySseEndpoint {
  private readonly connections = new Map<string, { conn: ChannelConnection; res: ServerResponse }>();
  /** A failure past the connection's own handling is this message's, logged: never an unhandled rejection (the process's end). */
  private readonly failed = (err: unknown): void => this.deps.log.error({ err: String((err as Error)?.message ?? err).slice(0, 1000) }, 'a legacy SSE client message failed');
  /** Stops answering POSTs other instances pass here (this endpoint's backend was removed). */
  private readonly unanswer: (() => void) | undefined;

  constructor(
    readonly viewId: string,
    private readonly messagesPath: string,
    private readonly deps: LegacySseDeps,
  ) {
    this.unanswer = deps.bus?.answer(`legacy-post:${viewId}`, (m) => this.forwarded(m));
  }

  open(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET') {
      req.resume();
      return sendError(res, 'MCPEG_ERR_METHOD_NOT_ALLOWED', 'the SSE endpoint takes GET', { allow: 'GET' });
    }
    if (!accepts(req, 'text/event-stream')) {
      return sendError(res, 'MCPEG_ERR_NOT_ACCEPTABLE', 'Not Acceptable: the SSE endpoint needs Accept: text/event-stream');
    }
    // The client left while the request waited (authentication): its response will never emit 'close', which is
    // what gives a stream's place and connection entry back, so none is taken for it.
    if (res.destroyed) return;
    // Each stream holds a connection entry before it initializes: as many as sessions, no more (in all and per client).
    const clientIp = contextOf(req)?.clientIp ?? req.socket.remoteAddress;
    const place = this.deps.sessions.legacyStreams.take(clientIp);
    if ('refusal' in place) return sendError(res, 'MCPEG_ERR_SESSION_LIMIT', place.refusal);
    res.writeHead(200, SSE_HEADERS);
    const conn = new ChannelConnection(this.viewId, this.deps.sessions, this.deps.dispatch, (msg) => {
      // Every POST is answered 202 at once and its answers go down this stream, read or not:
      // past MAX_UNREAD_BYTES unread the stream (and with it the session) ends.
      const open = !res.destroyed;
      if (!writeSse(res, sseEvent(messageText(msg), undefined, 'message')) && open && res.destroyed)
        this.deps.log.warn('a legacy SSE client left its stream unread past the limit; closed it');
    });
    conn.clientIp = clientIp;
    if (this.deps.batchHold) conn.batchHold = this.deps.batchHold;
    conn.principal = principalOf(req);
    conn.onUnwritable = (why) => this.deps.log.warn({ err: why }, 'a message could not be written to a legacy SSE client: an answer went as an error, anything else was dropped');
    this.connections.set(conn.id, { conn, res });
    res.write(sseEvent(`${this.messagesPath}?sessionId=${conn.id}`, undefined, 'endpoint'));
    const stop = keepAlive(res, this.deps.keepAliveMs);
    const bus = this.deps.bus;
    bus?.holdStream(conn.id);
    res.on('close', () => {
      stop();
      place.release();
      bus?.releaseStream(conn.id);
      this.connections.delete(conn.id);
      void conn.close('SSE stream closed');
    });
  }

  async message(req: IncomingMessage, res: ServerResponse, sessionId: string | null): Promise<void> {
    if (req.method !== 'POST') {
      req.resume();
      return sendError(res, 'MCPEG_ERR_METHOD_NOT_ALLOWED', 'the messages endpoint takes POST', { allow: 'POST' });
    }
    const found = sessionId ? this.connections.get(sessionId) : undefined;
    // The stream belongs to whoever opened it: another principal's POST gets 404, as for an unknown id. Its own POSTs act with their latest credential (actAs).
    const entry = found && found.conn.principal.id === principalOf(req).id ? found : undefined;
    if (!found && sessionId && ISSUED_ID.test(sessionId) && this.deps.bus) return this.forward(this.deps.bus, req, res, sessionId);
    if (!entry) {
      req.resume();
      return sessionId
        ? sendError(res, 'MCPEG_ERR_SESSION_NOT_FOUND', `Session not found: ${sessionId}`)
        : sendError(res, 'MCPEG_ERR_SESSION_REQUIRED', 'Bad Request: the sessionId query parameter is required');
    }
    const parsed = await readJsonRpcPost(req, res, this.deps.maxBodyBytes);
    if (!parsed) return;
    // The stream closed while the body was read: its connection serves nothing more.
    if (this.connections.get(entry.conn.id) !== entry) return sendError(res, 'MCPEG_ERR_SESSION_NOT_FOUND', `Session not found: ${sessionId}`);
    res.writeHead(202, { 'content-type': 'text/plain' }).end('Accepted');
    entry.conn.actAs(principalOf(req));
    if (parsed.batch) entry.conn.receiveBatch(parsed.messages).catch(this.failed);
    else entry.conn.receive(parsed.messages[0]).catch(this.failed);
  }

  /** A POST for a stream this instance does not hold: the instance holding it takes the messages, or the POST gets 404. */
  private async forward(bus: InstanceBus, req: IncomingMessage, res: ServerResponse, sessionId: string): Promise<void> {
    let holder: string | undefined;
    try {
      holder = await bus.streamHolder(sessionId);
    } catch (err) {
      req.resume();
      return sendError(res, 'MCPEG_ERR_STATE_UNAVAILABLE', (err as Error).message);
    }
    if (holder === undefined || holder === bus.instanceId) {
      req.resume();
      return sendError(res, 'MCPEG_ERR_SESSION_NOT_FOUND', `Session not found: ${sessionId}`);
    }
    const parsed = await readJsonRpcPost(req, res, this.deps.maxBodyBytes);
    if (!parsed) return;
    try {
      await bus.request(
        holder,
        {
          kind: `legacy-post:${this.viewId}`,
          session: sessionId,
          principal: principalOf(req).id,
          who: principalRecord(principalOf(req)),
          messages: parsed.messages,
          batch: parsed.batch,
        },
        FORWARD_TIMEOUT_MS,
        `legacy:${sessionId}`,
      );
    } catch (err) {
      const e = err instanceof GatewayError ? err : new GatewayError('MCPEG_ERR_INTERNAL', String(err));
      return sendError(res, e.code, e.message);
    }
    res.writeHead(202, { 'content-type': 'text/plain' }).end('Accepted');
  }

  /** Messages POSTed on another instance for a stream held here: served as if POSTed here, for the principal that opened it only. */
  private async forwarded(m: BusMessage): Promise<unknown> {
    const found = typeof m.session === 'string' ? this.connections.get(m.session) : undefined;
    if (!found || found.conn.principal.id !== m.principal || !Array.isArray(m.messages) || m.messages.length === 0) {
      throw new GatewayError('MCPEG_ERR_SESSION_NOT_FOUND', `Session not found: ${String(m.session)}`);
    }
    // Its groups and scopes are the POST's, as for one POSTed here (its access token stays the last one sent here: tokens never cross the bus).
    const who = fromRecord(m.who, found.conn.principal.accessToken);
    if (who && who.id === m.principal) found.conn.actAs(who);
    const messages = m.messages as JsonRpcMessage[];
    if (m.batch === true) found.conn.receiveBatch(messages).catch(this.failed);
    else found.conn.receive(messages[0]).catch(this.failed);
    return {};
  }

  closeAll(): void {
    for (const { res } of this.connections.values()) res.end();
  }

  /** The endpoint goes away (its backend was removed): its streams end and it no longer takes POSTs from other instances. */
  close(): void {
    this.unanswer?.();
    this.closeAll();
  }
}
