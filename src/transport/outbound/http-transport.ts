/**
 * A lean Streamable HTTP client transport for backends (MCP transport spec, 2025-03-26
 * and later), in place of the SDK's fetch-based one: undici's connection pool with
 * keep-alive, one JSON.parse per message and no schema validation on the relay path.
 * It implements the SDK's Transport interface, so BackendConnection does not care.
 *
 * POST answers may be JSON or SSE; an SSE answer that ends before its response is
 * resumed with GET + Last-Event-ID. After notifications/initialized it opens the GET
 * stream for server-initiated messages (405 means the backend offers none).
 */
import { setMaxListeners } from 'node:events';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage, MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { Readable } from 'node:stream';
import { Pool } from 'undici';
import { AnswerHandler, type PostAnswer } from './post-answer.js';
import { drain, listenRequest } from './listen-request.js';
import { isStatelessVersion, nameHeaderOf, paramHeaderValues, type ParamHeader } from '../../wire/stateless.js';
import { backoffDelay, type BackoffOptions } from '../../resilience/backoff.js';
import { MAX_BACKEND_MESSAGE_BYTES, parseJsonValues } from '../../wire/json-values.js';
import { rawMessage, scanResultResponse } from '../../wire/raw-json.js';
import { withCredential, type UpstreamCredential } from '../../auth/upstream-credential.js';
import type { ConnectGuard } from './connect-guard.js';
import { DEFAULT_KEEP_ALIVE_MS } from '../../config/fields.js';
import { parseTraceparent } from '../../observability/trace.js';

/**
 * The backend answered this one request, but not with what the protocol says (a body that
 * is not JSON, a type that is neither JSON nor SSE, no response in it): that call's error,
 * not a sign the backend is unreachable (upstream/connection.ts sendError).
 */
export class BackendProtocolError extends Error {
  readonly protocol = true;
}

/** The answer to one request is larger than any backend message may be: that call's error, like BackendProtocolError. */
export class AnswerTooLargeError extends Error {
  readonly tooLarge = true;
  constructor(
    readonly limit: number,
    message: string,
  ) {
    super(message);
  }
}

/** The gateway gave up on a request (timeout, cancellation) and stopped its POST. */
export class RequestAbandonedError extends Error {}

/** An HTTP-level failure; `code` is the status (the auto fallback to SSE reads it). */
export class HttpStatusError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpStatusError';
  }
}

/**
 * A GET stream's request was written this long ago without an answer: the backend has it (it holds the
 * headers until its first event) and a session's first call may go (`listening`). Covers a backend's own
 * steps between reading the GET and registering its stream; directly, an SDK client waits for nothing.
 */
const LISTEN_SENT_GRACE_MS = 25;

/** GET stream reconnects: 0.5 s, doubling up to 30 s, no jitter (one stream per backend session). */
const GET_STREAM_BACKOFF: BackoffOptions = { initialDelayMs: 500, maxDelayMs: 30_000, jitter: 0 };

/**
 * Per origin: `pool` for requests that end (POSTs and their answers, resumptions, DELETE),
 * `streams` for each backend session's GET stream, which stays open as long as the session.
 * With both on one pool, each session held one of its 128 connections for good: 127 backend
 * sessions (127 clients, or one 2026-07-28 client declaring 127 capability sets) left no
 * connection for any call to that origin, from anyone. The streams' count is the sessions'.
 */
interface OriginPools {
  pool: Pool;
  streams: Pool;
  users: number;
}

const pools = new Map<string, OriginPools>();

/** Connections of an origin's `pool` (calls): what a call holds while its answer is awaited (protocol/waiting-shares.ts bounds the calls left waiting). */
export const CALL_CONNECTIONS = 128;

/**
 * The pools' key: the origin, the guard its connections go through (a guarded and an
 * unguarded backend never share connections) and the idle keep-alive.
 */
function poolKey(origin: string, guard: ConnectGuard | undefined, keepAliveMs: number): string {
  return `${guard ? `${guard.id} ` : ''}${keepAliveMs} ${origin}`;
}

/** One keep-alive pool per backend origin (and one for its GET streams), shared by that backend's sessions. */
function acquirePool(origin: string, guard: ConnectGuard | undefined, keepAliveMs: number): OriginPools {
  const key = poolKey(origin, guard, keepAliveMs);
  let p = pools.get(key);
  if (!p) {
    // No undici header/body timeouts: the gateway's per-request timeouts govern (a tool may take long; a GET stream idles).
    const options = { pipelining: 1, keepAliveTimeout: keepAliveMs, headersTimeout: 0, bodyTimeout: 0, ...(guard ? { connect: guard.connect } : {}) };
    p = { pool: new Pool(origin, { connections: CALL_CONNECTIONS, ...options }), streams: new Pool(origin, { connections: null, ...options }), users: 0 };
    pools.set(key, p);
  }
  p.users++;
  return p;
}

function releasePool(key: string): void {
  const p = pools.get(key);
  if (!p || --p.users > 0) return;
  pools.delete(key);
  void p.pool.close().catch(() => {});
  void p.streams.close().catch(() => {});
}

const MAX_ERROR_BODY = 4096;
/** A JSON answer may weigh what any backend message may; of an error answer, what its text shows (4 bytes per character at most). */
const ANSWER_LIMITS = { maxJsonBytes: MAX_BACKEND_MESSAGE_BYTES, maxErrorBytes: 4 * MAX_ERROR_BODY + 4 };
const MAX_RESUME_ATTEMPTS = 3;
/** How long the DELETE that ends a backend session may take (terminateSession). */
const TERMINATE_TIMEOUT_MS = 5000;
/**
 * How long the POST of a notification or a response may take, its answer included (the server answers 202 at once:
 * Streamable HTTP, "Sending Messages to the Server"). No call waits for it, so nothing else ends it: a backend that never
 * answered one (each call's notifications/cancelled) held one of the origin's 128 connections for good, and once all
 * were held, every POST after queued in the pool for good, its memory with it (review 27b).
 */
export const NOTICE_TIMEOUT_MS = 10_000;

export class StreamableHttpClient implements Transport {
  /** `extra.relatedRequestId`: the request whose answer (JSON body or SSE stream) carried the message. */
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo & { relatedRequestId?: string | number }) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  sessionId?: string;
  private protocolVersion: string | undefined;
  /** The stateless revision: no session, and each request names its method and target in headers. */
  private stateless = false;
  /** Set by the connection that reads this transport: results may then arrive as RawJson (wire/raw-json.ts). */
  rawResults = false;
  /** A tool's x-mcp-header declarations (set by the replica from its catalog), for Mcp-Param-* headers. */
  paramHeaders: ((tool: string) => ParamHeader[]) | undefined;
  /**
   * Per-user credentials (a per-client session, one principal's): asked before each request
   * the session sends (initialize, notifications, the GET stream, DELETE). A request that
   * carries its own (send options: the relay's, for the call's principal) uses that.
   */
  authorize: (() => Promise<UpstreamCredential | undefined>) | undefined;
  private readonly pool: Pool;
  /** The origin's pool for GET streams (acquirePool). */
  private readonly streams: Pool;
  private readonly origin: string;
  private readonly poolKey: string;
  private readonly path: string;
  private closed = false;
  private getStream: AbortController | undefined;
  /**
   * Settles once the first GET stream has its answer, or LISTEN_SENT_GRACE_MS after its request was
   * written, or has failed: what the backend sends on that stream before it is open is lost, so a
   * session's first call waits for it (connection.ts). Not for the answer alone: a backend that holds
   * a GET's headers until its first event (SDK v2 servers behind a fetch bridge, buffering proxies)
   * made every backend session's first call wait the full 2 s (the conformance suite through the
   * gateway took 46 s instead of 3 s).
   */
  listening: Promise<void> | undefined;
  /** Aborts the session's GET requests (resumes) on close. */
  private readonly life = new AbortController();
  /** POSTs in flight (their answers, SSE streams included), aborted on close; each with the id of the request it carries, if one. */
  private readonly inflight = new Map<AnswerHandler, string | number | undefined>();
  /** The POST carrying each request in flight, by JSON-RPC id: abortRequest() stops it. */
  private readonly byId = new Map<string | number, AnswerHandler>();
  /** The deadline of each POST carrying no request (NOTICE_TIMEOUT_MS). */
  private readonly deadlines = new Map<AnswerHandler, NodeJS.Timeout>();
  /**
   * The SSE answer of each request in flight, by its id, from the POST's answer until its last
   * resumption (GET + Last-Event-ID) ends: abortRequest() stops those GETs, and any not yet sent
   * (the POST may end between the abort and the resumption).
   */
  private readonly resuming = new Map<string | number, AbortController>();
  /**
   * Set by the connection: the answer to request `id` failed in a way that leaves it
   * unanswered (an SSE event past the size cap), so the call fails now, not at its timeout.
   */
  onRequestFailed: ((id: string | number, err: Error) => void) | undefined = undefined;
  /** Origin and path without the query, which may carry credentials: safe for messages and logs. */
  private readonly display: string;

  /** `onDeviation` hears of answers the spec does not allow but the transport still takes (the factory logs each kind once). */
  constructor(
    url: URL,
    private readonly extraHeaders: Record<string, string>,
    private readonly onDeviation?: (what: string) => void,
    guard?: ConnectGuard,
    keepAliveMs = DEFAULT_KEEP_ALIVE_MS,
  ) {
    this.origin = url.origin;
    this.poolKey = poolKey(url.origin, guard, keepAliveMs);
    this.path = `${url.pathname}${url.search}`;
    this.display = `${url.origin}${url.pathname}`;
    // Every request in flight listens on this signal: many at once are normal, not a leak.
    setMaxListeners(0, this.life.signal);
    const pools = acquirePool(this.origin, guard, keepAliveMs);
    this.pool = pools.pool;
    this.streams = pools.streams;
  }

  async start(): Promise<void> {}

  setProtocolVersion(v: string | undefined): void {
    this.protocolVersion = v;
    this.stateless = isStatelessVersion(v);
  }

  private headers(accept: string): Record<string, string> {
    const h: Record<string, string> = { ...this.extraHeaders, accept };
    if (this.sessionId) h['mcp-session-id'] = this.sessionId;
    if (this.protocolVersion) h['mcp-protocol-version'] = this.protocolVersion;
    return h;
  }

  /** The session's headers with its principal's credential (authorize), if it has one. */
  private async credentialed(accept: string): Promise<Record<string, string>> {
    const h = this.headers(accept);
    return this.authorize ? withCredential(h, await this.authorize()) : h;
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions & { headers?: Readonly<Record<string, string>> }): Promise<void> {
    if (this.closed) throw new Error('transport closed');
    const own = options?.headers;
    const accept = 'application/json, text/event-stream';
    // No await on the common path (no per-user credentials): the hot path stays synchronous up to the request.
    const headers = own ? withCredential(this.headers(accept), { headers: own }) : this.authorize ? await this.credentialed(accept) : this.headers(accept);
    headers['content-type'] = 'application/json';
    // The gateway puts the W3C trace context in _meta; HTTP backends also get it as the header. Only a valid one: a client's
    // own _meta.traceparent reaches here unchanged when it does not parse, and a value undici refuses (CR, LF) failed the
    // call as the backend's failure, so ten such calls opened the breaker for every client.
    const m = message as { method?: string; id?: unknown; params?: Record<string, unknown> & { _meta?: { traceparent?: unknown } } };
    const tp = parseTraceparent(m.params?._meta?.traceparent);
    if (tp !== undefined) headers.traceparent = tp;
    if (this.stateless && m.method !== undefined && m.id !== undefined) {
      // SEP-2243 standard headers, derived from the body as the SDK client does.
      headers['mcp-method'] = m.method;
      const name = nameHeaderOf(m.method, m.params);
      if (name !== undefined) headers['mcp-name'] = name;
      if (m.method === 'tools/call' && this.paramHeaders && typeof m.params?.name === 'string')
        Object.assign(headers, paramHeaderValues(this.paramHeaders(m.params.name), m.params.arguments));
    }
    const rid = m.method !== undefined && (typeof m.id === 'string' || typeof m.id === 'number') ? m.id : undefined;
    this.answered(message, m.id, rid, await this.post(headers, JSON.stringify(message), rid));
  }

  /**
   * The backend's answer to `message` (sent with id `mid`; `rid` when it is a request). Not part of send():
   * an async function keeps every local of its body in a frame made per call, and this is most of them.
   */
  private answered(message: JSONRPCMessage, mid: unknown, rid: string | number | undefined, res: PostAnswer): void {
    if (res.sessionId) this.sessionId = res.sessionId;
    if (res.status === 202) {
      if ((message as { method?: string }).method === 'notifications/initialized') this.openGetStream(undefined, 0);
      return;
    }
    if (res.status >= 400) {
      const text = errorText(res.bytes);
      if (res.status === 404 && this.stateless && text.startsWith('{')) {
        // Stateless servers answer an unknown method with 404 and a JSON-RPC error: relay it as one.
        try {
          const parsed = JSON.parse(text) as JSONRPCMessage;
          if ('error' in parsed) return this.onmessage?.(parsed);
        } catch {
          /* not JSON-RPC: an HTTP error like any other */
        }
      }
      if (res.status === 400 && this.stateless && text.startsWith('{')) {
        // Stateless servers answer request-level errors (-32020, -32021, -32022, -32602) with 400.
        try {
          const parsed = JSON.parse(text) as JSONRPCMessage;
          if ('error' in parsed && (parsed as { id?: unknown }).id === mid) return this.onmessage?.(parsed);
        } catch {
          /* not JSON-RPC */
        }
      }
      if (res.status === 404 && this.sessionId) {
        // The backend forgot our session (restarted, expired): this session is over.
        queueMicrotask(() => void this.close());
      }
      throw new HttpStatusError(res.status, `HTTP ${res.status} from ${this.display}: ${text}`);
    }
    if (res.stream) {
      const id = (message as { id?: unknown }).id;
      if (rid !== undefined) void this.readAnswer(res.stream, rid);
      else void this.readSse(res.stream, id === undefined ? undefined : (id as string | number), 0);
      return;
    }
    if (res.type !== 'application/json') throw new BackendProtocolError(`unexpected content type "${res.type}" (HTTP ${res.status}) from ${this.display}`);
    if (res.bytes === undefined) throw new AnswerTooLargeError(MAX_BACKEND_MESSAGE_BYTES, `the JSON answer from ${this.display} is larger than ${MAX_BACKEND_MESSAGE_BYTES} bytes`);
    const id = 'method' in message ? (message as { id?: unknown }).id : undefined;
    let answered = id === undefined;
    // What comes in the answer to a request relates to that request (its notifications, its server-to-client requests).
    const related = typeof id === 'string' || typeof id === 'number' ? { relatedRequestId: id } : undefined;
    // A result goes to the client as the bytes it came in (only the id changes): no decode, parse or stringify.
    const { bytes, owned } = res;
    const raw = this.rawResults ? scanResultResponse(bytes, owned) : undefined;
    if (raw) {
      if (raw.id === id) answered = true;
      this.onmessage?.(rawMessage(raw) as unknown as JSONRPCMessage, related);
    } else {
      const text = utf8(bytes);
      // An empty body answers a notification or a response; to a request it is no answer (below).
      let values: unknown[];
      try {
        values = text.trim() ? parseJsonValues(text) : [];
      } catch (err) {
        throw new BackendProtocolError(`the application/json answer from ${this.display} is not JSON: ${(err as Error).message}`);
      }
      // Several messages in one application/json body (NDJSON, as on stdio): not what the spec says, but unambiguous.
      if (values.length > 1) this.onDeviation?.('several JSON-RPC messages in one application/json answer (newline-delimited); relaying each');
      for (const v of values) {
        for (const m of Array.isArray(v) ? v : [v]) {
          if (!answered && typeof m === 'object' && m !== null && !('method' in m) && (m as { id?: unknown }).id === id) answered = true;
          this.onmessage?.(m as JSONRPCMessage, related);
        }
      }
    }
    // A JSON answer is the response to the request it answers (Streamable HTTP, "Sending Messages to the Server"): one without it would leave the call waiting for its timeout.
    if (!answered) throw new BackendProtocolError(`the application/json answer from ${this.display} holds no response to request ${JSON.stringify(id)}`);
  }

  /** One POST, its answer read by a dispatch handler (post-answer.ts); aborted if the transport closes first, or its request `id` is abandoned. */
  private post(headers: Record<string, string>, body: string, id?: string | number): Promise<PostAnswer> {
    return new Promise((resolve, reject) => {
      const h = new AnswerHandler(ANSWER_LIMITS, resolve, reject, this.forget);
      this.inflight.set(h, id);
      if (id !== undefined) this.byId.set(id, h);
      else
        this.deadlines.set(
          h,
          setTimeout(() => h.abort(new Error(`no answer from ${this.display} to a notification or response within ${NOTICE_TIMEOUT_MS} ms`)), NOTICE_TIMEOUT_MS).unref(),
        );
      this.pool.dispatch({ path: this.path, method: 'POST', headers, body }, h);
    });
  }

  private readonly forget = (h: AnswerHandler): void => {
    const id = this.inflight.get(h);
    this.inflight.delete(h);
    if (id !== undefined && this.byId.get(id) === h) this.byId.delete(id);
    const deadline = this.deadlines.get(h);
    if (deadline) {
      clearTimeout(deadline);
      this.deadlines.delete(h);
    }
  };

  /**
   * The gateway stopped waiting for request `id` (its call timed out or was cancelled): the
   * POST carrying it is aborted, headers or body still to come, so the socket and what was
   * gathered of the answer are freed. Backend connections set no body timeout of their own.
   */
  abortRequest(id: string | number): void {
    const h = this.byId.get(id);
    const r = this.resuming.get(id);
    if (!h && !r) return;
    const reason = new RequestAbandonedError(`request ${JSON.stringify(id)} abandoned by the gateway`);
    this.byId.delete(id);
    this.resuming.delete(id);
    h?.abort(reason);
    // undici ends the GET with the signal's reason, which readSse knows.
    r?.abort(reason);
  }

  /** A POST's SSE answer to request `id`, with its resumptions: abortRequest(id) stops them until the last ends. */
  private async readAnswer(body: Readable, id: string | number): Promise<void> {
    const ac = new AbortController();
    this.resuming.set(id, ac);
    try {
      await this.readSse(body, id, 0, undefined, ac.signal);
    } finally {
      if (this.resuming.get(id) === ac) this.resuming.delete(id);
    }
  }

  /** Reads an SSE body; if it ends before the response to `awaiting`, resumes it with GET (unless `stop` was aborted: the request was abandoned). */
  private async readSse(body: Readable, awaiting: string | number | undefined, attempt: number, lastId?: string, stop?: AbortSignal): Promise<void> {
    let lastEventId = lastId;
    let answered = awaiting === undefined;
    // A POST's stream (and its resumption) carries what relates to that request; the GET stream relates to none.
    const related = awaiting === undefined ? undefined : { relatedRequestId: awaiting };
    let overflow = false;
    const parser = createParser({
      onEvent: (e: EventSourceMessage) => {
        if (e.id) lastEventId = e.id;
        if (!e.data || (e.event && e.event !== 'message')) return;
        if (this.rawResults) {
          // Encoding and one scan cost less than JSON.parse and the JSON.stringify for the client (SDK servers answer in SSE by default).
          const raw = scanResultResponse(Buffer.from(e.data), true);
          if (raw) {
            if (raw.id === awaiting) answered = true;
            return this.onmessage?.(rawMessage(raw) as unknown as JSONRPCMessage, related);
          }
        }
        let m: JSONRPCMessage;
        try {
          m = JSON.parse(e.data) as JSONRPCMessage;
        } catch (err) {
          this.onerror?.(new Error(`invalid JSON in SSE event from ${this.display}: ${(err as Error).message}`));
          return;
        }
        // A bare value (`data: 1`) is no message: `in` on it would throw and drop the rest of the stream.
        if (typeof m !== 'object' || m === null) {
          this.onerror?.(new Error(`an SSE event from ${this.display} is not a JSON-RPC message: ${e.data.slice(0, 200)}`));
          return;
        }
        if (!answered && 'id' in m && m.id === awaiting && !('method' in m)) answered = true;
        this.onmessage?.(m, related);
      },
      // An event that never ends (no blank line) is the backend's to bound no more than a JSON answer: past the cap the stream fails.
      maxBufferSize: MAX_BACKEND_MESSAGE_BYTES,
      onError: (err) => {
        if ((err as { type?: unknown }).type === 'max-buffer-size-exceeded') overflow = true;
        else this.onerror?.(new Error(`SSE answer from ${this.display}: ${err.message}`));
      },
    });
    try {
      for await (const text of decoded(body)) {
        parser.feed(text);
        // Leaving the loop destroys the body, which aborts the request (post-answer.ts).
        if (overflow) break;
      }
    } catch (err) {
      if (this.closed || err instanceof RequestAbandonedError) return;
      this.onerror?.(err as Error);
    }
    if (overflow) {
      // That call's answer is lost, not the backend: the call fails now (-32034), and the stream is not resumed.
      const err = new AnswerTooLargeError(MAX_BACKEND_MESSAGE_BYTES, `an SSE event from ${this.display} is larger than ${MAX_BACKEND_MESSAGE_BYTES} bytes`);
      if (!answered && awaiting !== undefined) this.onRequestFailed?.(awaiting, err);
      else this.onerror?.(err);
      return;
    }
    if (!answered && !this.closed && !stop?.aborted && lastEventId && attempt < MAX_RESUME_ATTEMPTS) {
      // The stream dropped before the answer: resumability (Last-Event-ID) gets the rest.
      await this.resume(lastEventId, awaiting, attempt + 1, stop);
    }
  }

  private async resume(lastEventId: string, awaiting: string | number | undefined, attempt: number, stop: AbortSignal | undefined): Promise<void> {
    try {
      const headers = { ...(await this.credentialed('text/event-stream')), 'last-event-id': lastEventId };
      if (stop?.aborted) return;
      const res = await this.pool.request({
        path: this.path,
        method: 'GET',
        headers,
        signal: stop ? AbortSignal.any([this.life.signal, stop]) : this.life.signal,
      });
      if (res.statusCode !== 200) {
        await res.body.dump();
        return;
      }
      await this.readSse(res.body, awaiting, attempt, lastEventId, stop);
    } catch (err) {
      if (!(err instanceof RequestAbandonedError)) this.onerror?.(err as Error);
    }
  }

  /** The GET stream for server-initiated messages; reconnects with backoff while open. */
  private openGetStream(lastEventId: string | undefined, failures: number): void {
    if (this.closed || this.getStream) return;
    const ac = new AbortController();
    this.getStream = ac;
    let heard: (() => void) | undefined;
    this.listening ??= new Promise<void>((resolve) => (heard = resolve));
    void (async () => {
      let next = lastEventId;
      try {
        const headers = await this.credentialed('text/event-stream');
        if (next) headers['last-event-id'] = next;
        const sent = () => setTimeout(() => heard?.(), LISTEN_SENT_GRACE_MS).unref();
        const res = await listenRequest(this.streams, { path: this.path, method: 'GET', headers }, ac.signal, sent);
        heard?.();
        if (res.status === 405 || res.status === 404) {
          await drain(res.body);
          return; // no GET stream offered, or the session is gone
        }
        if (res.status !== 200) {
          await drain(res.body);
          throw new Error(`GET stream: HTTP ${res.status}`);
        }
        failures = 0;
        const parser = createParser({
          onEvent: (e) => {
            if (e.id) next = e.id;
            if (!e.data) return;
            try {
              this.onmessage?.(JSON.parse(e.data) as JSONRPCMessage);
            } catch (err) {
              this.onerror?.(err as Error);
            }
          },
          maxBufferSize: MAX_BACKEND_MESSAGE_BYTES,
        });
        for await (const text of decoded(res.body)) parser.feed(text);
      } catch (err) {
        if (!this.closed) this.onerror?.(err as Error);
        failures++;
      } finally {
        heard?.();
        if (this.getStream === ac) this.getStream = undefined;
      }
      if (this.closed) return;
      const delay = backoffDelay(failures, GET_STREAM_BACKOFF);
      setTimeout(() => this.openGetStream(next, failures), delay).unref();
    })();
  }

  /**
   * Ends the backend session (DELETE), as the spec asks a client that is done with it; waits for the
   * answer TERMINATE_TIMEOUT_MS at most. BackendConnection.close() awaits this before close(): a backend
   * that never answered the DELETE kept the session open for good, with its GET stream (a socket on the
   * streams' pool, which has no ceiling) and the DELETE's own connection (one of the calls' 128). A client
   * declaring new capability sets makes the pool close sessions at its pace (session-pool.ts evicts).
   */
  async terminateSession(): Promise<void> {
    if (!this.sessionId || this.closed) return;
    const signal = AbortSignal.any([this.life.signal, AbortSignal.timeout(TERMINATE_TIMEOUT_MS)]);
    try {
      const headers = await this.credentialed('application/json');
      const res = await this.pool.request({ path: this.path, method: 'DELETE', headers, signal });
      await res.body.dump({ limit: 128 * 1024, signal });
    } catch {
      /* the backend may already be gone, or did not answer in time */
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.getStream?.abort();
    this.life.abort();
    const closed = new Error('transport closed');
    for (const h of this.inflight.keys()) h.abort(closed);
    this.inflight.clear();
    for (const t of this.deadlines.values()) clearTimeout(t);
    this.deadlines.clear();
    this.byId.clear();
    this.resuming.clear();
    releasePool(this.poolKey);
    this.onclose?.();
  }
}

/** UTF-8 text as TextDecoder reads it (WHATWG Encoding): a leading BOM dropped, invalid sequences replaced. */
function utf8(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** An error answer's text, as much as a message shows. */
function errorText(bytes: Buffer | undefined): string {
  return bytes === undefined ? '' : new TextDecoder().decode(bytes).slice(0, MAX_ERROR_BODY);
}

/** UTF-8 text of an SSE body, with one decoder per stream: a character may be split across chunks. */
async function* decoded(body: AsyncIterable<unknown>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let last = '';
  for await (const chunk of body) {
    const text = decoder.decode(chunk as Uint8Array, { stream: true });
    if (text) yield (last = text);
  }
  const rest = decoder.decode();
  if (rest) yield (last = rest);
  // A CR that ends the body ends its line (SSE allows CR alone), but the parser holds it for an LF that may follow:
  // without this, an answer framed with CR alone (`data: {…}\r\r`) would never be dispatched.
  if (last.endsWith('\r')) yield '\n';
}
