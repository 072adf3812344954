/**
 * A client connection where every message to the client goes down one channel: the
 * legacy HTTP+SSE stream and stdio. Requests are served concurrently; each answer is
 * written when ready.
 */
import { randomUUID } from 'node:crypto';
import { toRpcError } from '../../errors/catalog.js';
import { GatewayError } from '../../errors/catalog.js';
import { dispatchNotification, dispatchRequest, type DispatchOptions } from '../../protocol/dispatch.js';
import { errorResponse, isNotification, isRequest, isResponse, resultResponse, type JsonRpcMessage } from '../../protocol/jsonrpc.js';
import type { ClientSession } from '../../protocol/session.js';
import type { SessionManager } from '../../protocol/sessions.js';
import { allowsBatch } from '../../protocol/versions.js';

export class ChannelConnection {
  session: ClientSession | undefined;

  constructor(
    private readonly viewId: string,
    private readonly sessions: SessionManager,
    private readonly dispatch: DispatchOptions,
    private readonly write: (msg: JsonRpcMessage) => void,
    readonly id: string = randomUUID(),
  ) {}

  async receive(m: JsonRpcMessage): Promise<void> {
    if (isRequest(m)) {
      if (m.method === 'initialize') {
        if (this.session) {
          this.write(errorResponse(m.id, new GatewayError('MCPEG_ERR_INVALID_REQUEST', 'Invalid Request: this connection is already initialized').toJsonRpc()));
          return;
        }
        try {
          const { session, result } = await this.sessions.create(this.viewId, m, this.id);
          session.outbound = { deliver: (msg) => (this.write(msg), true), isOpen: () => this.session === session };
          this.session = session;
          this.write(resultResponse(m.id, result));
        } catch (err) {
          this.write(errorResponse(m.id, toRpcError(err)));
        }
        return;
      }
      if (!this.session) {
        if (m.method === 'ping') return this.write(resultResponse(m.id, {}));
        this.write(errorResponse(m.id, new GatewayError('MCPEG_ERR_NOT_INITIALIZED', `Invalid Request: send initialize before ${m.method}`).toJsonRpc()));
        return;
      }
      this.session.lastSeen = Date.now();
      const answer = await dispatchRequest(this.session, m, this.dispatch);
      if (answer) this.write(answer);
      return;
    }
    if (!this.session) return;
    if (isResponse(m)) this.session.handleClientResponse(m);
    else if (isNotification(m)) dispatchNotification(this.session, m);
  }

  /** A JSON-RPC batch: allowed only when the negotiated version has batches; answered with one array. */
  async receiveBatch(messages: JsonRpcMessage[]): Promise<void> {
    const s = this.session;
    if (!s || !allowsBatch(s.protocolVersion)) {
      const why = s ? `protocol version ${s.protocolVersion}` : 'an uninitialized connection (initialize must be sent alone)';
      this.write(errorResponse(null, new GatewayError('MCPEG_ERR_BATCH_NOT_ALLOWED', `Invalid Request: JSON-RPC batches are not allowed in ${why} (only 2025-03-26)`).toJsonRpc()));
      return;
    }
    s.lastSeen = Date.now();
    const pending: Array<Promise<JsonRpcMessage | undefined>> = [];
    for (const m of messages) {
      if (isRequest(m)) pending.push(dispatchRequest(s, m, this.dispatch));
      else if (isResponse(m)) s.handleClientResponse(m);
      else if (isNotification(m)) dispatchNotification(s, m);
    }
    const answers = (await Promise.all(pending)).filter((a): a is JsonRpcMessage => a !== undefined);
    if (answers.length) this.write(answers as unknown as JsonRpcMessage);
  }

  async close(reason: string): Promise<void> {
    if (this.session) await this.sessions.close(this.session.sessionId, reason);
    this.session = undefined;
  }
}
