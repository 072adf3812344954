/**
 * A client connection where every message to the client goes down one channel: the
 * legacy HTTP+SSE stream and stdio. Requests are served concurrently; each answer is
 * written when ready.
 */
import { randomUUID } from 'node:crypto';
import { toRpcError } from '../../errors/catalog.js';
import { GatewayError } from '../../errors/catalog.js';
import { dispatchNotification, dispatchRequest, type DispatchOptions } from '../../protocol/dispatch.js';
import { errorResponse, isNotification, isRequest, isResponse, resultResponse, type JsonRpcMessage } from '../../wire/jsonrpc.js';
import { unwritableStandIn, unwritableWhy } from '../../wire/unwritable.js';
import { type JsonText, messageText } from '../../wire/raw-json.js';
import { BatchAnswers } from './batch-answers.js';
import { BatchHold } from './batch-hold.js';
import type { ClientSession } from '../../protocol/session.js';
import type { SessionManager } from '../../protocol/sessions.js';
import { allowsBatch } from '../../wire/versions.js';
import { claimsEnvelope, readEnvelope } from '../../wire/stateless.js';
import { subscription } from '../../protocol/stateless.js';
import type { JsonRpcRequest, RequestId } from '../../wire/jsonrpc.js';
import { ANONYMOUS, type Principal } from '../../auth/principal.js';

/** What a channel writes: a message, or one (a batch's array, an answer of it) already written as JSON text. */
export type ChannelMessage = JsonRpcMessage | JsonText;

export class ChannelConnection {
  session: ClientSession | undefined;
  /** Stateless (2026-07-28) requests being served, for notifications/cancelled. */
  private readonly stateless = new Map<RequestId, ClientSession>();
  private readonly listens = new Map<RequestId, () => void>();
  /** The client's address (legacy SSE), for session shares and rate limits. */
  clientIp: string | undefined;
  /** The answers all batches of the instance hold (batch-hold.ts): the gateway's, else this connection's own. */
  batchHold: BatchHold = new BatchHold();
  /** Who opened the connection (legacy SSE: the GET's credentials; stdio: anonymous); its session belongs to it. */
  principal: Principal = ANONYMOUS;

  /** Told once per connection that a message could not be written to the client (the transport logs it). */
  onUnwritable: ((why: string) => void) | undefined;
  private unwritable = 0;
  /** An initialize is being served (sessions.create awaits): a second one is refused, as once initialized. */
  private initializing = false;
  private closed = false;

  constructor(
    private readonly viewId: string,
    private readonly sessions: SessionManager,
    private readonly dispatch: DispatchOptions,
    private readonly writeOut: (msg: ChannelMessage) => void,
    readonly id: string = randomUUID(),
  ) {}

  /**
   * The principal of the POST whose messages come next (legacy SSE: the transport found it is
   * the connection's own, the same id). Its groups, scopes and access token are the latest, as
   * a Streamable HTTP session takes each request's (sessions.ts, touch): a token reissued
   * without a group no longer acts with it on a stream opened before (review 29a).
   */
  actAs(p: Principal): void {
    this.principal = p;
    if (this.session) this.session.principal = p;
  }

  /**
   * Writes a message to the client. One that cannot be written (a backend's result nested too
   * deep for JSON.stringify: a RangeError) fails alone: an answer becomes an error answer with
   * its id (in a batch, that answer alone), anything else is dropped. Thrown on, it rejected
   * the promise of receive(), which nothing awaits: an unhandled rejection, the process's end.
   */
  private readonly write = (msg: ChannelMessage): void => {
    try {
      this.writeOut(msg);
    } catch (err) {
      const stand = this.standIn(msg as JsonRpcMessage, err);
      if (stand) this.writeOut(stand);
    }
  };

  /** The JSON text of a batch's answer (one that cannot be written: its error). */
  private readonly textOf = (msg: JsonRpcMessage): string => {
    try {
      return messageText(msg);
    } catch (err) {
      return messageText(this.standIn(msg, err) ?? msg);
    }
  };

  private standIn(msg: JsonRpcMessage, err: unknown): JsonRpcMessage | undefined {
    const why = unwritableWhy(err);
    if (++this.unwritable === 1) this.onUnwritable?.(why);
    return unwritableStandIn(msg, why) as JsonRpcMessage | undefined;
  }

  async receive(m: JsonRpcMessage): Promise<void> {
    // A POST read while its legacy SSE stream closed: nothing it starts could be answered or ended
    // (a subscriptions/listen served then held its place for good).
    if (this.closed) return;
    if (isRequest(m)) {
      if (m.method === 'initialize') {
        // Also while one is being created: a second initialize (another POST of a legacy SSE client) made a
        // second session under this connection's id while the first waited (for room, for the store); the one
        // replaced stayed counted for the client address and was never closed, with whatever it had opened.
        if (this.session || this.initializing) {
          this.write(errorResponse(m.id, new GatewayError('MCPEG_ERR_INVALID_REQUEST', 'Invalid Request: this connection is already initialized').toJsonRpc()));
          return;
        }
        this.initializing = true;
        try {
          const { session, result } = await this.sessions.create(this.viewId, m, this.id, this.clientIp, this.principal);
          // The connection closed while the session was made (a legacy SSE client left): nothing would ever close
          // it, and it would count as open (never idle, never swept) for good.
          if (this.closed) {
            await this.sessions.close(session.sessionId, 'the connection closed while it initialized');
            return;
          }
          session.outbound = { deliver: (msg) => (this.write(msg), true), isOpen: () => this.session === session };
          this.session = session;
          this.write(resultResponse(m.id, result));
        } catch (err) {
          this.write(errorResponse(m.id, toRpcError(err)));
        } finally {
          this.initializing = false;
        }
        return;
      }
      if (!this.session && (claimsEnvelope(m.params) || m.method === 'server/discover')) return this.serveStateless(m);
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
    if (!this.session) {
      // A stateless client cancels a request, or closes a subscriptions/listen.
      if (isNotification(m) && m.method === 'notifications/cancelled') {
        const id = m.params?.requestId as RequestId | undefined;
        if (id === undefined) return;
        for (const c of this.stateless.get(id)?.inflight.values() ?? []) c.cancel(typeof m.params?.reason === 'string' ? m.params.reason : 'cancelled by client');
        this.listens.get(id)?.();
      }
      return;
    }
    if (isResponse(m)) this.session.handleClientResponse(m);
    else if (isNotification(m)) dispatchNotification(this.session, m);
  }

  /** A JSON-RPC batch: allowed only when the negotiated version has batches; answered with one array, or each answer alone past a bound (batch-answers.ts). */
  async receiveBatch(messages: JsonRpcMessage[]): Promise<void> {
    if (this.closed) return;
    const s = this.session;
    if (!s || !allowsBatch(s.protocolVersion)) {
      const why = s ? `protocol version ${s.protocolVersion}` : 'an uninitialized connection (initialize must be sent alone)';
      this.write(errorResponse(null, new GatewayError('MCPEG_ERR_BATCH_NOT_ALLOWED', `Invalid Request: JSON-RPC batches are not allowed in ${why} (only 2025-03-26)`).toJsonRpc()));
      return;
    }
    s.lastSeen = Date.now();
    const answers = new BatchAnswers(this.write, this.textOf, this.batchHold);
    const pending: Array<Promise<void>> = [];
    for (const m of messages) {
      if (isRequest(m)) pending.push(dispatchRequest(s, m, this.dispatch).then((a) => a && answers.add(a)));
      else if (isResponse(m)) s.handleClientResponse(m);
      else if (isNotification(m)) dispatchNotification(s, m);
    }
    await Promise.all(pending);
    answers.end();
  }

  /**
   * A request of a stateless client (2026-07-28): no initialize; its envelope says who
   * the client is, for this request only. stdio has no headers to check.
   */
  private async serveStateless(m: JsonRpcRequest): Promise<void> {
    let s: ClientSession;
    try {
      // The in-flight maps are keyed by request id: a second request with the id of one in
      // flight would replace it there and go uncounted (and uncancellable). JSON-RPC 2.0 §4:
      // an id identifies one request; reusing it while the first runs is an invalid request.
      if (this.stateless.has(m.id) || this.listens.has(m.id)) {
        throw new GatewayError('MCPEG_ERR_INVALID_REQUEST', `Invalid Request: id ${JSON.stringify(m.id)} is already used by a request in flight on this connection`);
      }
      // One connection, many stateless requests (listen streams included): bounded like one session's (server.max_inflight_per_session).
      const max = this.dispatch.maxInflightPerSession;
      const inFlight = this.stateless.size + this.listens.size;
      if (max && inFlight >= max) {
        throw new GatewayError(
          'MCPEG_ERR_SESSION_BUSY',
          `this connection has ${inFlight} requests in flight (server.max_inflight_per_session); wait for answers before sending more`,
          { retryAfterMs: 1000 },
        );
      }
      const env = readEnvelope(m, undefined);
      if (m.method === 'subscriptions/listen') return this.listen(m);
      s = this.sessions.ephemeral(this.viewId, env, this.principal);
    } catch (err) {
      this.write(errorResponse(m.id, toRpcError(err)));
      return;
    }
    // Only notifications about this request go out; requests to the client come back as input_required.
    s.outbound = { deliver: (msg) => !isRequest(msg) && this.stateless.has(m.id) && (this.write(msg), true), isOpen: () => this.stateless.has(m.id) };
    this.stateless.set(m.id, s);
    try {
      const answer = await dispatchRequest(s, m, this.dispatch);
      if (answer) this.write(answer);
    } finally {
      this.stateless.delete(m.id);
      this.sessions.done(s);
    }
  }

  /** subscriptions/listen over stdio: notifications tagged with the listen request's id, until cancelled. */
  private listen(m: JsonRpcRequest): void {
    const sub = subscription(m);
    // The stream keeps its id, never the request: a closure naming `m` held the whole request (its params up to a
    // body's 4 MiB, ~90 MB of heap as `[{},{},...]`) for the stream's life, 128 per connection (review 20).
    const id = m.id;
    const end = () => {
      if (!this.listens.delete(id)) return;
      remove();
      this.write(sub.final);
    };
    const remove = this.sessions.addListener({ viewId: this.viewId, methods: sub.methods, deliver: (n) => this.write(sub.tag(n)), end }, this.clientIp);
    this.listens.set(id, end);
    this.write(sub.ack);
  }

  async close(reason: string): Promise<void> {
    this.closed = true;
    for (const end of [...this.listens.values()]) end();
    for (const s of this.stateless.values()) for (const c of s.inflight.values()) c.cancel(reason);
    if (this.session) await this.sessions.close(this.session.sessionId, reason);
    this.session = undefined;
  }
}
