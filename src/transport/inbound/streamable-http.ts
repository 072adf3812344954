/**
 * Streamable HTTP (MCP transport spec, 2025-03-26 and later) for one view's endpoint:
 * POST carries client messages and is answered with JSON or an SSE stream, GET opens the
 * stream for server-initiated messages, DELETE ends the session.
 *
 * A POST with requests picks its answer type late: while nothing but the response is
 * ready it stays JSON (cheapest for the hot path); the first related message that must
 * reach the client before the response (progress, a sampling request, a log line)
 * switches it to SSE. Both are allowed by the spec; headers are written once, then.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, toRpcError } from '../../errors/catalog.js';
import { initializeStatusOf } from '../../errors/http-status.js';
import type { Logger } from '../../observability/logger.js';
import { dispatchNotification, dispatchRequest, type DispatchOptions } from '../../protocol/dispatch.js';
import {
  errorResponse,
  isNotification,
  isRequest,
  isResponse,
  resultResponse,
  type JsonRpcMessage,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type RequestId,
} from '../../wire/jsonrpc.js';
import type { ClientSession, Outbound } from '../../protocol/session.js';
import type { SessionManager } from '../../protocol/sessions.js';
import { allowsBatch, isSupportedVersion, SUPPORTED_VERSIONS, versionAtLeast } from '../../wire/versions.js';
import { streamOfEventId, type EventStore } from './event-store.js';
import { endJson } from '../../edge/compression.js';
import { contextOf, principalOf } from '../../edge/context.js';
import { parseTraceparent } from '../../observability/trace.js';
import { apiKeyFromHeaders, hashApiKey } from '../../resilience/rate-limiter.js';
import { accepts, mediaType, prefersEventStream, readJsonRpcPost, sendError } from '../../edge/http-util.js';
import { keepAlive, MAX_UNREAD_BYTES, primingEvent, SSE_HEADERS, sseEvent, writeSse } from './sse.js';
import { StatelessHttp } from './stateless-http.js';
import { isStatelessVersion } from '../../wire/stateless.js';
import { messageBody, messageText, rawResultOf } from '../../wire/raw-json.js';
import { unwritableStandIn, unwritableWhy } from '../../wire/unwritable.js';
import { sessionFingerprint } from '../../protocol/fingerprint.js';
import type { InstanceBus } from '../../protocol/bus.js';
import { BatchHold, MAX_BATCH_HELD_CHARS } from './batch-hold.js';

export interface StreamableDeps {
  sessions: SessionManager;
  events: EventStore;
  log: Logger;
  dispatch: DispatchOptions;
  maxBodyBytes: number;
  keepAliveMs: number;
  retryMs: number;
  /** The header that carries a client's API key (rate_limits.api_key_header). */
  apiKeyHeader?: string;
  /** The other gateway instances (state.store: redis): messages for a client whose GET stream another instance holds go there. */
  bus?: InstanceBus;
  /** The answers all batches of the instance hold together (batch-hold.ts): one for every endpoint; else one per endpoint. */
  batchHold?: BatchHold;
}

const JSON_HEADERS = { 'content-type': 'application/json' } as const;
/**
 * Messages held for a GET stream while its replay is read, and their size at most what a
 * stream may leave unread (sse.ts): past either, they take the way they would without a resume.
 */
const MAX_HELD = 1000;
const MAX_HELD_BYTES = MAX_UNREAD_BYTES;

/** The initialize request among a POST's messages, if any (a loop: no closure per POST). */
function initializeIn(messages: readonly JsonRpcMessage[]): JsonRpcRequest | undefined {
  for (const m of messages) if (isRequest(m) && m.method === 'initialize') return m;
  return undefined;
}

/** A POST's response carries its stream: one 'close' listener for all of them instead of a closure per POST. */
const POST_STREAM = Symbol('mcpeg.postStream');
type PostResponse = ServerResponse & { [POST_STREAM]?: PostStream };

function detachPost(this: ServerResponse): void {
  (this as PostResponse)[POST_STREAM]?.detach(this);
}

/** One POST's answer: JSON until something must be streamed, then SSE. */
class PostStream {
  mode: 'pending' | 'sse' | 'json' = 'pending';
  done = false;
  private readonly responses: JsonRpcResponse[] = [];
  /** A batch's answers ready so far, as their JSON texts (for the array, or the SSE events), and their length together. */
  private readonly texts: string[] = [];
  private held = 0;
  private stopKeepAlive: (() => void) | undefined;
  private remaining: number;

  constructor(
    readonly streamId: string,
    public res: ServerResponse | null,
    /** The requests this POST carries (their ids key the session's map of open streams). */
    readonly requests: readonly JsonRpcRequest[],
    private readonly batch: boolean,
    private readonly channels: SessionChannels,
  ) {
    this.remaining = requests.length;
  }

  /** A message related to one of this POST's requests, sent before its response. */
  write(msg: JsonRpcMessage): void {
    if (this.mode === 'pending') this.startSse();
    this.writeEvent(msg);
  }

  /** The answer to one request; undefined when it was cancelled (no answer is sent then). */
  respond(r: JsonRpcResponse | undefined): void {
    this.remaining--;
    if (this.mode === 'pending') {
      let overAll = false;
      if (r) {
        if (!this.batch) this.responses.push(r);
        else {
          // A batch's answers wait for the last one as their JSON texts, counted: held whole as objects until then, they
          // were in no bound (1,000 reads of a 1 MB file, a POST of ~150 KB, held ~850 MB). Past MAX_BATCH_HELD_CHARS
          // the POST turns into an SSE stream (as the transport allows): each answer goes out as it is ready, held to
          // the edge's bounds on unsent bytes and the event store's.
          // Counted with every other batch's too (batch-hold.ts): one batch's bound alone let any number hold theirs.
          const text = this.text(r);
          this.texts.push(text);
          this.held += text.length;
          overAll = !this.channels.batchHold.add(text.length);
        }
      }
      if (this.remaining > 0) {
        if (overAll || this.held > MAX_BATCH_HELD_CHARS) this.startSse();
        return;
      }
      this.finish();
      const res = this.res;
      if (!res || res.writableEnded) return;
      if (this.responses.length === 0 && this.texts.length === 0) {
        // Every request was cancelled: an empty stream, since a request POST must get JSON or SSE.
        res.writeHead(200, SSE_HEADERS).end();
        return;
      }
      this.mode = 'json';
      if (this.batch) {
        endJson(res, 200, JSON_HEADERS, `[${this.texts.join(',')}]`);
        return;
      }
      const msg = this.responses[0];
      endJson(res, 200, JSON_HEADERS, this.body(msg));
      // A large result relayed as bytes in memory of its own is freed once it is on the wire ('finish': every write done), not at some later GC.
      const raw = rawResultOf(msg);
      if (raw?.freeable) res.once('finish', () => raw.release());
      return;
    }
    if (r) this.writeEvent(r);
    if (this.remaining === 0) {
      this.finish();
      if (this.res && !this.res.writableEnded) this.res.end();
    }
  }

  /** The JSON of one answer: one that cannot be written goes as its error (wire/unwritable.ts). */
  private body(msg: JsonRpcResponse): string | Buffer[] {
    try {
      return messageBody(msg);
    } catch (err) {
      return messageBody(this.channels.unwritable(msg, err));
    }
  }

  /** The JSON text of one message, as an SSE event's data or a batch's element (an unwritable one as its error). */
  private text(msg: JsonRpcMessage): string {
    try {
      return messageText(msg);
    } catch (err) {
      return messageText(this.channels.unwritable(msg, err));
    }
  }

  private writeEvent(msg: JsonRpcMessage): void {
    this.writeText(this.text(msg));
  }

  private writeText(data: string): void {
    const id = this.channels.events.append(this.channels.sessionId, this.streamId, data);
    // A client that stops reading loses the stream (it can resume it from the event store with Last-Event-ID).
    if (this.res && !writeSse(this.res, sseEvent(data, id))) this.res = null;
  }

  /**
   * Attach a reconnecting client (GET with Last-Event-ID) to this still-open stream. A stream has
   * one consumer (Streamable HTTP, "Resumability and Redelivery"): the reconnect takes it over and
   * the response it replaces ends (left open, each resume left one more). Not refused while that
   * one is open: a client whose connection died unnoticed must still get its answer. Its 'close'
   * does not detach this one (detach() checks which response it is).
   */
  attach(res: ServerResponse, keepAliveMs: number): void {
    const previous = this.res;
    this.res = res;
    this.stopKeepAlive?.();
    this.stopKeepAlive = keepAlive(res, keepAliveMs);
    if (previous && previous !== res && !previous.writableEnded) previous.end();
  }

  detach(res: ServerResponse): void {
    if (this.res === res) this.res = null;
  }

  /** Answers as an SSE stream from the start (the client prefers it), before anything needs streaming. */
  stream(): void {
    if (this.mode === 'pending') this.startSse();
  }

  private startSse(): void {
    this.mode = 'sse';
    if (this.res && !this.res.headersSent) {
      this.res.writeHead(200, SSE_HEADERS);
      this.channels.prime(this.res, this.streamId);
      this.stopKeepAlive = keepAlive(this.res, this.channels.keepAliveMs);
    }
    // Answers already ready in a batch go first, now that the stream is SSE.
    for (const r of this.responses.splice(0)) this.writeEvent(r);
    for (const t of this.texts.splice(0)) this.writeText(t);
    this.channels.batchHold.release(this.held);
    this.held = 0;
  }

  private finish(): void {
    this.done = true;
    // Written as one array next (or dropped with a client gone): no longer held for this batch.
    this.channels.batchHold.release(this.held);
    this.held = 0;
    this.stopKeepAlive?.();
    this.channels.forget(this);
  }
}

/** Where a session's server-initiated messages go over Streamable HTTP. */
class SessionChannels implements Outbound {
  standalone: ServerResponse | null = null;
  /** Stream ids carry this instance's tag, so ids stay unique in a store shared by instances. */
  readonly standaloneId: string;
  private readonly posts = new Map<RequestId, PostStream>();
  private nextStream = 1;
  /** Answers of this session that could not be written (logged on the first). */
  private unwritables = 0;
  /**
   * While a GET stream is being resumed (Last-Event-ID): the messages for it, held until the
   * replay is written. The stream is claimed before the replay is read, so that what is sent
   * meanwhile, here or by another instance, comes after the replay instead of falling between
   * the two (sent to the previous holder, or kept under a stream id the client never sees).
   */
  private held: JsonRpcMessage[] | undefined;
  private heldBytes = 0;
  private resumes = 0;

  constructor(
    readonly sessionId: string,
    readonly events: EventStore,
    readonly keepAliveMs: number,
    private readonly primeRetryMs: number | undefined,
    private readonly instanceTag: string,
    private readonly session: ClientSession,
    private readonly bus: InstanceBus | undefined,
    private readonly log: Logger,
    readonly batchHold: BatchHold,
  ) {
    this.standaloneId = `g${instanceTag}`;
  }

  /**
   * What goes instead of `msg`, which could not be written (`err`): each answer becomes a
   * -32603 error with its id (wire/unwritable.ts), logged once per session. Anything else
   * is thrown on as before: the backend connection that sent it drops and reports it.
   */
  unwritable(msg: JsonRpcMessage | JsonRpcMessage[], err: unknown): JsonRpcMessage | JsonRpcMessage[] {
    const why = unwritableWhy(err);
    const stand = unwritableStandIn(msg, why);
    if (stand === undefined) throw err;
    if (++this.unwritables === 1) {
      this.log.warn({ session: sessionFingerprint(this.sessionId), err: why }, 'an answer could not be written to a Streamable HTTP client: it went as a -32603 error');
    }
    return stand;
  }

  /** Writes the priming event on a new SSE stream, for clients on 2025-11-25 or later. */
  prime(res: ServerResponse, streamId: string): void {
    if (this.primeRetryMs !== undefined) res.write(primingEvent(this.events.prime(this.sessionId, streamId), this.primeRetryMs));
  }

  openPost(res: ServerResponse, requests: JsonRpcRequest[], batch: boolean): PostStream {
    const ps = new PostStream(`p${this.instanceTag}${this.nextStream++}`, res, requests, batch, this);
    for (const r of requests) this.posts.set(r.id, ps);
    return ps;
  }

  streamById(streamId: string): PostStream | undefined {
    for (const ps of this.posts.values()) if (ps.streamId === streamId) return ps;
    return undefined;
  }

  forget(ps: PostStream): void {
    // By its own ids, not a scan of every open stream: O(1) per request however many are in flight.
    for (const r of ps.requests) if (this.posts.get(r.id) === ps) this.posts.delete(r.id);
  }

  deliver(msg: JsonRpcMessage, related?: RequestId): boolean {
    if (related !== undefined) {
      // A message about a request goes on that request's own SSE answer, where the POST is (docs/scaling.md#live-routing).
      const ps = this.posts.get(related);
      if (ps && !ps.done) {
        ps.write(msg);
        return true;
      }
    }
    if (this.bus && !this.standaloneOpen() && this.held === undefined) {
      this.forward(this.bus, msg);
      return true;
    }
    return this.deliverHere(msg);
  }

  /** A GET stream with Last-Event-ID is about to be replayed here: claim the stream and hold what comes for it meanwhile. */
  beginResume(): void {
    if (this.resumes++ === 0) {
      this.held = [];
      this.heldBytes = 0;
    }
    this.bus?.holdStream(this.sessionId);
  }

  /** The replay is written (or failed): what was held goes out now, in order, on the stream if it is attached. */
  endResume(): void {
    this.bus?.releaseStream(this.sessionId);
    if (--this.resumes > 0) return;
    const held = this.held ?? [];
    this.held = undefined;
    for (const msg of held) if (!this.deliverHere(msg) && isRequest(msg)) this.session.unreachable(msg);
  }

  private standaloneOpen(): boolean {
    return this.standalone !== null && !this.standalone.writableEnded;
  }

  /**
   * No GET stream here: the instance holding the client's GET stream (if another does)
   * gets the message over the bus; otherwise it is delivered here as without a bus. Order
   * holds: lookups and publishes of one session go down one Redis connection in turn.
   */
  private forward(bus: InstanceBus, msg: JsonRpcMessage): void {
    bus.streamHolder(this.sessionId).then(
      (holder) => {
        if (holder === undefined || holder === bus.instanceId) {
          if (!this.deliverHere(msg) && isRequest(msg)) this.session.unreachable(msg);
          return;
        }
        const sent = bus.send(
          holder,
          { kind: 'deliver', session: this.sessionId, message: msg },
          (why) => {
            if (!why.storeUnavailable) {
              this.notForwarded(msg, 'MCPEG_ERR_CLIENT_UNREACHABLE', `the gateway instance holding the client's GET stream does not take messages: ${why.message}`);
              return;
            }
            const failure = `cannot pass it to the gateway instance holding the client's GET stream: ${why.message}`;
            if (this.notForwarded(msg, 'MCPEG_ERR_STATE_UNAVAILABLE', failure) && isRequest(msg)) {
              // A stalled Redis may still pass the request on later: the cancellation follows it there, so that the
              // client does not answer what the backend was already told failed (in order: one connection).
              const cancelled = { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: msg.id, reason: `not delivered in time: ${why.message}` } };
              bus.send(holder, { kind: 'deliver', session: this.sessionId, message: cancelled });
            }
          },
          this.sessionId,
        );
        if (sent) return;
        // Too large to pass to the instance holding the GET stream: delivered here if a stream here takes it; a request
        // nothing here takes fails at once, saying why.
        if (!this.deliverHere(msg) && isRequest(msg)) {
          this.session.unreachable(msg, `${msg.method} is too large to pass to the gateway instance holding the client's GET stream (over the bus's size bound)`);
        }
      },
      (err: Error) => this.notForwarded(msg, 'MCPEG_ERR_STATE_UNAVAILABLE', `cannot find the gateway instance holding the client's GET stream: ${err.message}`),
    );
  }

  /**
   * The instance holding the client's GET stream could not be found or reached (Redis away,
   * that instance not listening): delivered here as without a bus (a stream here, else the
   * event store for a resume); a request nothing here takes is answered at once with `code`
   * rather than left to its asker's timeout (docs/scaling.md#failure-modes). true when it was.
   */
  private notForwarded(msg: JsonRpcMessage, code: 'MCPEG_ERR_CLIENT_UNREACHABLE' | 'MCPEG_ERR_STATE_UNAVAILABLE', why: string): boolean {
    if (this.deliverHere(msg) || !isRequest(msg)) return false;
    this.session.unreachable(msg, `${msg.method} not delivered: ${why}`, code);
    return true;
  }

  /** Delivers on this instance's streams only (a message another instance passed here, or no bus). */
  deliverHere(msg: JsonRpcMessage): boolean {
    if (this.held !== undefined && this.held.length < MAX_HELD && this.heldBytes < MAX_HELD_BYTES) {
      this.heldBytes += messageText(msg).length;
      this.held.push(msg);
      return true;
    }
    if (this.standalone && !this.standalone.writableEnded) {
      const data = JSON.stringify(msg);
      const id = this.events.append(this.sessionId, this.standaloneId, data);
      if (!writeSse(this.standalone, sseEvent(data, id))) this.standalone = null;
      return true;
    }
    // No GET stream: use the newest POST stream still open rather than lose the message.
    let last: PostStream | undefined;
    for (const ps of this.posts.values()) if (!ps.done && ps.res) last = ps;
    if (last) {
      last.write(msg);
      return true;
    }
    if (isRequest(msg)) return false;
    // Kept for a GET stream that resumes with Last-Event-ID.
    this.events.append(this.sessionId, this.standaloneId, JSON.stringify(msg));
    return true;
  }

  isOpen(): boolean {
    return (this.standalone !== null && !this.standalone.writableEnded) || this.posts.size > 0;
  }

  streamsHere(): boolean {
    if (this.standaloneOpen() || this.held !== undefined) return true;
    for (const ps of this.posts.values()) if (!ps.done && ps.res) return true;
    return false;
  }

  closeAll(): void {
    this.held = undefined;
    this.standalone?.end();
    this.standalone = null;
    for (const ps of this.posts.values()) if (ps.res && !ps.res.writableEnded) ps.res.end();
    this.posts.clear();
  }
}

export class StreamableHttpEndpoint {
  private readonly channels = new Map<string, SessionChannels>();
  private readonly instanceTag = randomBytes(4).toString('hex');
  /** 2026-07-28 clients: the same endpoint, no session. */
  private readonly stateless: StatelessHttp;
  private readonly batchHold: BatchHold;

  constructor(
    readonly viewId: string,
    private readonly deps: StreamableDeps,
  ) {
    this.stateless = new StatelessHttp(viewId, deps);
    this.batchHold = deps.batchHold ?? new BatchHold();
  }

  /** Drops per-session transport state when the session closes (DELETE, idle, shutdown). */
  sessionClosed(s: ClientSession): void {
    const ch = this.channels.get(s.sessionId);
    if (!ch) return;
    this.channels.delete(s.sessionId);
    ch.closeAll();
    this.deps.events.dropSession(s.sessionId);
  }

  /** Not async: the method's own promise is the answer's (no wrapper promise per request). */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    switch (req.method) {
      case 'POST':
        return this.post(req, res);
      case 'GET':
        return this.get(req, res);
      case 'DELETE':
        return this.delete(req, res);
      default:
        req.resume();
        sendError(res, 'MCPEG_ERR_METHOD_NOT_ALLOWED', `${req.method} is not supported on the MCP endpoint; use POST, GET or DELETE`, { allow: 'GET, POST, DELETE' });
        return Promise.resolve();
    }
  }

  private channelsFor(s: ClientSession): SessionChannels {
    let ch = this.channels.get(s.sessionId);
    if (!ch) {
      const prime = versionAtLeast(s.protocolVersion, '2025-11-25') ? this.deps.retryMs : undefined;
      ch = new SessionChannels(s.sessionId, this.deps.events, this.deps.keepAliveMs, prime, this.instanceTag, s, this.deps.bus, this.deps.log, this.batchHold);
      this.channels.set(s.sessionId, ch);
      s.outbound = ch;
    }
    return ch;
  }

  /** Session from Mcp-Session-Id, answering 400/404 itself when there is none. */
  private async session(req: IncomingMessage, res: ServerResponse): Promise<ClientSession | undefined> {
    const id = req.headers['mcp-session-id'];
    if (typeof id !== 'string' || id === '') {
      sendError(res, 'MCPEG_ERR_SESSION_REQUIRED', 'Bad Request: Mcp-Session-Id header is required (send initialize first to get one)');
      return undefined;
    }
    let s: ClientSession | undefined;
    try {
      // Another principal's session id finds nothing: 404 as for an unknown one.
      s = await this.deps.sessions.get(id, this.viewId, principalOf(req));
    } catch (err) {
      // Restoring a session another instance opened can meet this instance's session limit.
      if (!(err instanceof GatewayError)) throw err;
      sendError(res, err.code, err.message);
      return undefined;
    }
    if (!s) {
      sendError(res, 'MCPEG_ERR_SESSION_NOT_FOUND', `Session not found: ${id} (it expired or was terminated; initialize a new session)`);
      return undefined;
    }
    return s;
  }

  private versionHeaderProblem(req: IncomingMessage): string | undefined {
    const v = req.headers['mcp-protocol-version'];
    if (v === undefined || (typeof v === 'string' && isSupportedVersion(v))) return undefined;
    return `Bad Request: unsupported MCP-Protocol-Version ${JSON.stringify(v)}; supported: ${SUPPORTED_VERSIONS.join(', ')}`;
  }

  private async post(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (mediaType(req.headers['content-type']) === 'application/json' && (!accepts(req, 'application/json') || !accepts(req, 'text/event-stream'))) {
      req.resume();
      return sendError(res, 'MCPEG_ERR_NOT_ACCEPTABLE', 'Not Acceptable: the Accept header must list both application/json and text/event-stream');
    }
    const parsed = await readJsonRpcPost(req, res, this.deps.maxBodyBytes);
    if (!parsed) return;
    const { messages, batch } = parsed;
    if (req.headers['mcp-session-id'] === undefined && StatelessHttp.claims(req, messages, isSupportedVersion)) {
      return this.stateless.post(req, res, messages, batch);
    }

    const init = initializeIn(messages);
    if (init) {
      if (messages.length > 1) return sendError(res, 'MCPEG_ERR_INVALID_REQUEST', 'Invalid Request: initialize must be sent alone, not in a batch');
      return this.initialize(init, req, res);
    }
    const versionProblem = this.versionHeaderProblem(req);
    if (versionProblem) return sendError(res, 'MCPEG_ERR_UNSUPPORTED_PROTOCOL_VERSION', versionProblem);
    // A session live here is found without a promise (the common case); others are restored or refused by session().
    const sid = req.headers['mcp-session-id'];
    const s = (typeof sid === 'string' ? this.deps.sessions.getLive(sid, this.viewId, principalOf(req)) : undefined) ?? (await this.session(req, res));
    if (!s) return;
    if (batch && !allowsBatch(s.protocolVersion)) {
      return sendError(res, 'MCPEG_ERR_BATCH_NOT_ALLOWED', `Invalid Request: JSON-RPC batches are not allowed in protocol version ${s.protocolVersion} (only 2025-03-26)`);
    }
    const ch = this.channelsFor(s);
    const requests: JsonRpcRequest[] = [];
    for (const m of messages) {
      if (isRequest(m)) requests.push(m);
      else if (isResponse(m)) s.handleClientResponse(m);
      else if (isNotification(m)) dispatchNotification(s, m);
    }
    if (requests.length === 0) {
      res.writeHead(202).end();
      return;
    }
    const ps = ch.openPost(res, requests, batch);
    (res as PostResponse)[POST_STREAM] = ps;
    res.on('close', detachPost);
    if (prefersEventStream(req)) ps.stream();
    const requestId = contextOf(req)?.requestId;
    const trace = parseTraceparent(req.headers.traceparent);
    // One request (the usual POST) is served without the batch's array of promises.
    if (requests.length === 1) ps.respond(await dispatchRequest(s, requests[0], this.deps.dispatch, requestId, trace));
    else await Promise.all(requests.map(async (r) => ps.respond(await dispatchRequest(s, r, this.deps.dispatch, requestId, trace))));
  }

  private async initialize(init: JsonRpcRequest, req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      // Who the client is, for session shares, rate limits and hash-by-client-ip routing (never the key itself).
      const ctx = contextOf(req);
      const key = apiKeyFromHeaders(req.headers, this.deps.apiKeyHeader ?? 'x-api-key');
      const { session, result } = await this.deps.sessions.create(
        this.viewId,
        init,
        undefined,
        ctx?.clientIp ?? req.socket.remoteAddress,
        principalOf(req),
        key === undefined ? undefined : hashApiKey(key),
      );
      this.channelsFor(session);
      endJson(res, 200, { ...JSON_HEADERS, 'mcp-session-id': session.sessionId }, JSON.stringify(resultResponse(init.id, result)));
      this.deps.log.info(
        { session: sessionFingerprint(session.sessionId), view: this.viewId, client: session.clientInfo, protocolVersion: session.protocolVersion },
        'session initialized',
      );
    } catch (err) {
      const e = toRpcError(err);
      endJson(res, initializeStatusOf(err), JSON_HEADERS, JSON.stringify(errorResponse(init.id, e)));
    }
  }

  private async get(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!accepts(req, 'text/event-stream')) {
      return sendError(res, 'MCPEG_ERR_NOT_ACCEPTABLE', 'Not Acceptable: a GET stream needs Accept: text/event-stream');
    }
    const mv = req.headers['mcp-protocol-version'];
    if (isStatelessVersion(mv) && req.headers['mcp-session-id'] === undefined) {
      // The stateless revision has no GET stream (subscriptions/listen replaces it).
      return sendError(res, 'MCPEG_ERR_METHOD_NOT_ALLOWED', `GET is not part of protocol revision ${String(mv)}: POST requests, and subscriptions/listen for list changes`, {
        allow: 'POST',
      });
    }
    const versionProblem = this.versionHeaderProblem(req);
    if (versionProblem) return sendError(res, 'MCPEG_ERR_UNSUPPORTED_PROTOCOL_VERSION', versionProblem);
    const s = await this.session(req, res);
    if (!s) return;
    const ch = this.channelsFor(s);
    const lastEventId = req.headers['last-event-id'];
    if (typeof lastEventId === 'string' && lastEventId) return this.resume(s, ch, lastEventId, res);
    return this.openStandalone(ch, res);
  }

  private openStandalone(ch: SessionChannels, res: ServerResponse): void {
    if (ch.standalone && !ch.standalone.writableEnded) {
      return sendError(res, 'MCPEG_ERR_CONFLICT', 'Conflict: this session already has an open GET stream');
    }
    this.attachStandalone(ch, res, false);
  }

  /** A GET with Last-Event-ID: what the stream missed, then the stream itself (Streamable HTTP, "Resumability and Redelivery"). */
  private async resume(s: ClientSession, ch: SessionChannels, lastEventId: string, res: ServerResponse): Promise<void> {
    // Only a GET stream's resume takes the GET stream (its ids start with `g`): resuming a POST stream must
    // not move, then drop, the record of the client's GET stream open on another instance.
    const getStream = streamOfEventId(lastEventId)?.startsWith('g') === true;
    if (getStream) ch.beginResume();
    try {
      let replay: Awaited<ReturnType<EventStore['replayAfter']>>;
      try {
        replay = await this.deps.events.replayAfter(s.sessionId, lastEventId);
      } catch (err) {
        // A shared store that does not answer (in time): the client retries the resume (RFC 9110 §10.2.3).
        if (err instanceof GatewayError && err.code === 'MCPEG_ERR_STATE_UNAVAILABLE') return sendError(res, err.code, err.message, { 'retry-after': '1' });
        throw err;
      }
      // The session may have ended (DELETE, here or on another instance) while the replay was read.
      if (this.channels.get(s.sessionId) !== ch) {
        return sendError(res, 'MCPEG_ERR_SESSION_NOT_FOUND', `Session not found: ${s.sessionId} (it was terminated; initialize a new session)`);
      }
      if (!replay) return this.openStandalone(ch, res);
      res.writeHead(200, SSE_HEADERS);
      for (const e of replay.events) res.write(sseEvent(e.data, e.id));
      // Nothing replayed: the head goes now, not with the first event or keep-alive (the client learns the resume took).
      if (replay.events.length === 0) res.flushHeaders();
      const ps = ch.streamById(replay.streamId);
      // Only a stream that is SSE already: one still pending answers as JSON on its own POST response.
      if (ps && !ps.done && ps.mode === 'sse') {
        if (res.destroyed) return; // as in attachStandalone
        ps.attach(res, this.deps.keepAliveMs);
        res.on('close', () => ps.detach(res));
        return;
      }
      // A GET stream of another instance (a shared event store; its ids start with `g`) continues as this one's.
      if (replay.streamId !== ch.standaloneId && !replay.streamId.startsWith('g')) {
        res.end(); // that request's stream is complete: everything was replayed
        return;
      }
      this.attachStandalone(ch, res, true);
    } finally {
      if (getStream) ch.endResume();
    }
  }

  private attachStandalone(ch: SessionChannels, res: ServerResponse, headersSent: boolean): void {
    // The client left while the request waited (authentication, a replay read): a closed response never emits
    // 'close', which is what detaches a stream, so it must not become the session's (every later GET got 409).
    if (res.destroyed) return;
    if (!headersSent) {
      res.writeHead(200, SSE_HEADERS);
      ch.prime(res, ch.standaloneId);
      res.flushHeaders();
    }
    ch.standalone?.end();
    ch.standalone = res;
    const stop = keepAlive(res, this.deps.keepAliveMs);
    // Other instances send this client's messages here while the stream is open.
    const bus = this.deps.bus;
    bus?.holdStream(ch.sessionId);
    res.on('close', () => {
      stop();
      bus?.releaseStream(ch.sessionId);
      if (ch.standalone === res) ch.standalone = null;
    });
  }

  private async delete(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.resume();
    const versionProblem = this.versionHeaderProblem(req);
    if (versionProblem) return sendError(res, 'MCPEG_ERR_UNSUPPORTED_PROTOCOL_VERSION', versionProblem);
    const s = await this.session(req, res);
    if (!s) return;
    await this.deps.sessions.close(s.sessionId, 'terminated by client (DELETE)');
    res.writeHead(200).end();
  }
}
