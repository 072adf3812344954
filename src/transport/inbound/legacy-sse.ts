/**
 * The HTTP+SSE transport of protocol 2024-11-05, for older clients: GET `<base>/sse`
 * opens the stream and its first event, `endpoint`, names the URL to POST messages to
 * (`<base>/messages?sessionId=...`); every answer travels back on the stream.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../observability/logger.js';
import type { DispatchOptions } from '../../protocol/dispatch.js';
import type { SessionManager } from '../../protocol/sessions.js';
import { ChannelConnection } from './channel.js';
import { contextOf, principalOf } from '../../edge/context.js';
import { accepts, readJsonRpcPost, sendError } from '../../edge/http-util.js';
import { keepAlive, SSE_HEADERS, sseEvent, writeSse } from './sse.js';
import { messageText } from '../../wire/raw-json.js';

export interface LegacySseDeps {
  sessions: SessionManager;
  log: Logger;
  dispatch: DispatchOptions;
  maxBodyBytes: number;
  keepAliveMs: number;
}

export class LegacySseEndpoint {
  private readonly connections = new Map<string, { conn: ChannelConnection; res: ServerResponse }>();

  constructor(
    readonly viewId: string,
    private readonly messagesPath: string,
    private readonly deps: LegacySseDeps,
  ) {}

  open(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET') {
      req.resume();
      return sendError(res, 'MCPEG_ERR_METHOD_NOT_ALLOWED', 'the SSE endpoint takes GET', { allow: 'GET' });
    }
    if (!accepts(req, 'text/event-stream')) {
      return sendError(res, 'MCPEG_ERR_NOT_ACCEPTABLE', 'Not Acceptable: the SSE endpoint needs Accept: text/event-stream');
    }
    // Each stream holds a connection entry before it initializes: as many as sessions, no more.
    if (this.connections.size >= this.deps.sessions.maxSessions) {
      return sendError(res, 'MCPEG_ERR_SESSION_LIMIT', `too many legacy SSE streams open (${this.connections.size}, server.max_sessions); close some first`);
    }
    res.writeHead(200, SSE_HEADERS);
    const conn = new ChannelConnection(this.viewId, this.deps.sessions, this.deps.dispatch, (msg) => {
      // Every POST is answered 202 at once and its answers go down this stream, read or not:
      // past MAX_UNREAD_BYTES unread the stream (and with it the session) ends.
      const open = !res.destroyed;
      if (!writeSse(res, sseEvent(messageText(msg), undefined, 'message')) && open && res.destroyed)
        this.deps.log.warn('a legacy SSE client left its stream unread past the limit; closed it');
    });
    conn.clientIp = contextOf(req)?.clientIp ?? req.socket.remoteAddress;
    conn.principal = principalOf(req);
    this.connections.set(conn.id, { conn, res });
    res.write(sseEvent(`${this.messagesPath}?sessionId=${conn.id}`, undefined, 'endpoint'));
    const stop = keepAlive(res, this.deps.keepAliveMs);
    res.on('close', () => {
      stop();
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
    // The stream belongs to whoever opened it: another principal's POST gets 404, as for an unknown id.
    const entry = found && found.conn.principal.id === principalOf(req).id ? found : undefined;
    if (!entry) {
      req.resume();
      return sessionId
        ? sendError(res, 'MCPEG_ERR_SESSION_NOT_FOUND', `Session not found: ${sessionId}`)
        : sendError(res, 'MCPEG_ERR_SESSION_REQUIRED', 'Bad Request: the sessionId query parameter is required');
    }
    const parsed = await readJsonRpcPost(req, res, this.deps.maxBodyBytes);
    if (!parsed) return;
    res.writeHead(202, { 'content-type': 'text/plain' }).end('Accepted');
    if (parsed.batch) void entry.conn.receiveBatch(parsed.messages);
    else void entry.conn.receive(parsed.messages[0]);
  }

  closeAll(): void {
    for (const { res } of this.connections.values()) res.end();
  }
}
