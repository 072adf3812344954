/**
 * One MCP session with one backend: a lean JSON-RPC peer over an SDK client transport.
 * It correlates requests and responses, maps progress tokens, sends cancellation on
 * timeout or abort, and hands the backend's own requests and notifications to its owner.
 * Results are relayed as the backend sent them: no schema validation on the hot path.
 */
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { GatewayError, RemoteRpcError, toRpcError } from '../errors/catalog.js';
import { META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_LOG_LEVEL, META_PROTOCOL_VERSION, META_SUBSCRIPTION_ID, withoutEnvelope } from '../wire/stateless.js';
import type { Cancellation } from '../util/cancellation.js';
import type { UpstreamCredential } from '../auth/upstream-credential.js';
import { envelopeProblem, isRequest, isResponse, isErrorResponse, type JsonRpcMessage, type JsonRpcNotification, type JsonRpcRequest, type RequestId } from '../wire/jsonrpc.js';
import { RawJson } from '../wire/raw-json.js';

/** The longest a new session's first request waits for the backend's GET stream to be under way (its request written, or answered). */
const LISTEN_WAIT_MS = 2_000;

/** Backends are held to the JSON-RPC shape, not to the `"jsonrpc": "2.0"` member. */
const LENIENT = { anyVersion: true } as const;

export interface ConnectionOwner {
  /**
   * A request the backend sends (sampling, elicitation, roots, ping). `tag` is the tag of
   * the call in flight when exactly one is; `signal` aborts when the backend cancels it.
   */
  onRequest(conn: BackendConnection, req: JsonRpcRequest, ctx: { tag: unknown; signal: AbortSignal }): Promise<Record<string, unknown>>;
  onNotification(conn: BackendConnection, n: JsonRpcNotification): void;
  onClose(conn: BackendConnection, reason: string): void;
}

export interface CallOptions {
  timeoutMs: number;
  cancel?: Cancellation | undefined;
  /** Receives the backend's progress notifications for this call (params, token rewritten back by the caller). */
  onProgress?: ((params: Record<string, unknown>) => void) | undefined;
  /** Opaque: handed back to onRequest while this call is the only one in flight. */
  tag?: unknown;
  /** Stateless backends: the client this call is made for (its capabilities go in the envelope). */
  client?: ClientIdentity | undefined;
  /** subscriptions/listen (2026-07-28): the notifications tagged with this request's id as their subscriptionId, before the owner gets them too. */
  onNotification?: ((n: JsonRpcNotification) => void) | undefined;
  /**
   * The caller relays the result without looking into it: a large one may then come back
   * as RawJson, the backend's bytes (wire/raw-json.ts). Without it, results are always parsed.
   */
  raw?: boolean | undefined;
  /** The caller's upstream credential: the transport sends it on this request only (relay/policies/credentials.ts). */
  credential?: UpstreamCredential | undefined;
}

/**
 * What the transport is given with one request: HTTP transports add `headers`; the SDK's
 * in-memory transport hands `authInfo` to the in-process server (REST and OpenAPI backends).
 */
export interface CredentialSendOptions {
  headers: Readonly<Record<string, string>>;
  authInfo: { token: string; clientId: string; scopes: string[]; extra: { headers: Readonly<Record<string, string>> } };
}

function sendOptionsOf(c: UpstreamCredential | undefined): CredentialSendOptions | undefined {
  return c && { headers: c.headers, authInfo: { token: '', clientId: 'mcpeg', scopes: [], extra: { headers: c.headers } } };
}

/** Who a stateless backend is told it serves, per request (SEP-2575 envelope). */
export interface ClientIdentity {
  capabilities: Record<string, unknown>;
  clientInfo: Record<string, unknown>;
  logLevel?: string | undefined;
}

interface Pending {
  resolve(r: Record<string, unknown> | RawJson): void;
  reject(e: unknown): void;
  timer: NodeJS.Timeout | undefined;
  onProgress: ((p: Record<string, unknown>) => void) | undefined;
  progressToken: string | undefined;
  tag: unknown;
  method: string;
  cancel: Cancellation | undefined;
  onNotification: ((n: JsonRpcNotification) => void) | undefined;
  raw: boolean;
}

export interface InitializeResult {
  protocolVersion: string;
  capabilities: Record<string, unknown>;
  serverInfo: { name: string; version: string; [k: string]: unknown };
  instructions?: string;
  [k: string]: unknown;
}

export class BackendConnection {
  readonly backend: string;
  private readonly transport: Transport;
  private readonly owner: ConnectionOwner;
  private nextId = 1;
  private readonly pending = new Map<RequestId, Pending>();
  /** How many of `pending` carry a tag (client calls). */
  private tagged = 0;
  private readonly progress = new Map<string, Pending>();
  /** Backend-initiated requests being answered, by backend request id: aborted on notifications/cancelled. */
  private readonly incoming = new Map<RequestId, AbortController>();
  private closed = false;
  private closeReason = '';
  initializeResult: InitializeResult | undefined;
  /**
   * Set when the backend speaks the stateless revision (2026-07-28): every request then
   * carries the envelope, and there is no session to open or close. `identity` is who
   * requests without a client of their own (the catalog, health probes) are made for.
   */
  stateless: { version: string; identity: ClientIdentity } | undefined;
  /**
   * Set when calls mirror `x-mcp-header` arguments into Mcp-Param headers (Streamable HTTP at
   * 2026-07-28): a tool whose declarations are invalid is then left out of the catalog, as
   * SEP-2243 asks of a client (catalog-sync.ts).
   */
  mirrorsParamHeaders = false;
  /** Requests the gateway stopped waiting for (timed out or cancelled): the backend may still work on them. */
  abandoned = 0;
  /** The request whose answer carried the message being received, when the transport knows it. */
  private related: RequestId | undefined;
  /** Messages that were not JSON-RPC (dropped, or failing the request they answered). */
  malformedMessages = 0;
  /** Hears of the first malformed message on this connection (the handshake logs it). */
  onMalformed: ((detail: string) => void) | undefined;
  /** Stops the transport's work for a request the gateway no longer waits for (HTTP: aborts its POST); undefined when there is none to stop. */
  private readonly abortRequest: ((id: RequestId) => void) | undefined;
  /** The child's pid for stdio backends (observability, tests); undefined otherwise. */
  pid: () => number | null | undefined = () => undefined;

  constructor(backend: string, transport: Transport, owner: ConnectionOwner) {
    this.backend = backend;
    this.transport = transport;
    this.owner = owner;
    transport.onmessage = (m, extra) => this.receive(m, (extra as { relatedRequestId?: RequestId } | undefined)?.relatedRequestId);
    // Our transports hand results over as bytes (wire/raw-json.ts); receive() parses them for callers that look inside.
    if ('rawResults' in transport) (transport as { rawResults: boolean }).rawResults = true;
    const t = transport as Transport & { abortRequest?: (id: RequestId) => void; onRequestFailed?: (id: RequestId, err: Error) => void };
    if (typeof t.abortRequest === 'function') this.abortRequest = t.abortRequest.bind(t);
    // The transport lost the answer to one request (an SSE event past the cap): that request fails now.
    if ('onRequestFailed' in t)
      t.onRequestFailed = (id, err) => {
        const p = this.settle(id);
        p?.reject(sendError(this.backend, p.method, err));
      };
    transport.onclose = () => this.handleClose(this.closeReason || 'backend connection closed');
    transport.onerror = (err) => {
      // Failed sends reject their calls; keep the last error as the reason if the connection then closes.
      this.closeReason = err.message;
    };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get inflight(): number {
    return this.pending.size;
  }

  async start(): Promise<void> {
    await this.transport.start();
  }

  /** The MCP initialize handshake (lifecycle spec), then notifications/initialized. */
  async initialize(
    params: { protocolVersion: string; capabilities: Record<string, unknown>; clientInfo: Record<string, unknown> },
    timeoutMs: number,
    /** Checks the answer and tells the transport the version before notifications/initialized goes out. */
    accept: (result: InitializeResult) => void = () => {},
  ): Promise<InitializeResult> {
    const result = (await this.request('initialize', params, { timeoutMs })) as unknown as InitializeResult;
    if (typeof result?.protocolVersion !== 'string') {
      throw new GatewayError('MCPEG_ERR_BACKEND_UNAVAILABLE', `backend "${this.backend}" answered initialize without a protocolVersion`, { backend: this.backend });
    }
    accept(result);
    this.initializeResult = result;
    await this.notify('notifications/initialized');
    // Streamable HTTP: a request the backend sends on its GET stream before that stream is open is lost, and a handler
    // awaiting its answer hangs (server-everything's get-roots-list as a session's first call, review 27d). Wait for the
    // stream to be under way first (written, or answered: the transport's `listening`), bounded: directly, the SDK
    // clients' first call comes after their GET is under way too.
    const listening = (this.transport as { listening?: Promise<void> }).listening;
    if (listening) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([listening, new Promise<void>((r) => (timer = setTimeout(r, Math.min(timeoutMs, LISTEN_WAIT_MS))))]);
      clearTimeout(timer);
    }
    return result;
  }

  /**
   * The stateless revision's handshake-free discovery (SEP-2575 server/discover).
   * `offered`: the backend offers `version`, which this connection then speaks.
   * `not-offered`: it answered with a result that does not list it. `refused`: it answered
   * with an error (a stateful server answers -32601, or HTTP 400 for the version header).
   * No answer (timeout, closed, unreachable) throws.
   */
  async discover(version: string, identity: ClientIdentity, timeoutMs: number, accept: (v: string | undefined) => void): Promise<'offered' | 'not-offered' | 'refused'> {
    this.stateless = { version, identity };
    accept(version);
    let verdict: 'not-offered' | 'refused' = 'refused';
    try {
      const r = await this.request('server/discover', undefined, { timeoutMs });
      const versions = r.supportedVersions;
      if (Array.isArray(versions) && versions.includes(version)) {
        const serverInfo = ((r._meta as Record<string, unknown> | undefined)?.['io.modelcontextprotocol/serverInfo'] ??
          r.serverInfo ?? { name: this.backend, version: '0' }) as InitializeResult['serverInfo'];
        this.initializeResult = {
          protocolVersion: version,
          capabilities: (r.capabilities as Record<string, unknown>) ?? {},
          serverInfo,
          ...(typeof r.instructions === 'string' ? { instructions: r.instructions } : {}),
        };
        return 'offered';
      }
      verdict = 'not-offered';
    } catch (err) {
      if (err instanceof GatewayError && (err.code === 'MCPEG_ERR_BACKEND_TIMEOUT' || err.code === 'MCPEG_ERR_BACKEND_CLOSED')) throw err;
      if (err instanceof GatewayError && err.code === 'MCPEG_ERR_BACKEND_UNAVAILABLE' && err.data?.status === undefined) throw err;
    }
    this.stateless = undefined;
    accept(undefined);
    return verdict;
  }

  request(method: string, params: Record<string, unknown> | undefined, opts: CallOptions & { raw: true }): Promise<Record<string, unknown> | RawJson>;
  request(method: string, params: Record<string, unknown> | undefined, opts: CallOptions): Promise<Record<string, unknown>>;
  request(method: string, params: Record<string, unknown> | undefined, opts: CallOptions): Promise<Record<string, unknown> | RawJson> {
    if (this.closed) {
      return Promise.reject(
        new GatewayError('MCPEG_ERR_BACKEND_UNAVAILABLE', `backend "${this.backend}" is not connected: ${this.closeReason}`, { backend: this.backend, notSent: true }),
      );
    }
    if (opts.cancel?.cancelled) {
      return Promise.reject(new GatewayError('MCPEG_ERR_REQUEST_CANCELLED', `request cancelled before it reached backend "${this.backend}"`, { backend: this.backend }));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const p: Pending = {
        resolve,
        reject,
        timer: undefined,
        onProgress: opts.onProgress,
        progressToken: undefined,
        tag: opts.tag,
        method,
        cancel: opts.cancel,
        onNotification: opts.onNotification,
        raw: opts.raw === true,
      };
      let outParams = params;
      if (this.stateless) {
        const who = opts.client ?? this.stateless.identity;
        const meta: Record<string, unknown> = {
          ...((params?._meta as Record<string, unknown>) ?? {}),
          [META_PROTOCOL_VERSION]: this.stateless.version,
          [META_CLIENT_CAPABILITIES]: who.capabilities,
          [META_CLIENT_INFO]: who.clientInfo,
        };
        if (who.logLevel) meta[META_LOG_LEVEL] = who.logLevel;
        else delete meta[META_LOG_LEVEL];
        outParams = { ...params, _meta: meta };
      } else if (params?._meta) {
        outParams = withoutEnvelope(params);
      }
      if (opts.onProgress) {
        // Our own token: unique per connection, so backends never see the client's.
        p.progressToken = `mcpeg-${id}`;
        const meta = { ...((outParams?._meta as Record<string, unknown>) ?? {}), progressToken: p.progressToken };
        outParams = { ...outParams, _meta: meta };
        this.progress.set(p.progressToken, p);
      }
      // 0: no deadline (a subscriptions/listen stream lasts as long as the connection).
      if (opts.timeoutMs > 0)
        p.timer = setTimeout(() => {
          this.cancel(id, `timed out after ${opts.timeoutMs} ms`, opts.credential);
          this.abortRequest?.(id);
          this.abandon(id)?.reject(
            new GatewayError('MCPEG_ERR_BACKEND_TIMEOUT', `backend "${this.backend}" did not answer ${method} within ${opts.timeoutMs} ms`, {
              backend: this.backend,
              method,
              timeoutMs: opts.timeoutMs,
            }),
          );
        }, opts.timeoutMs);
      opts.cancel?.onCancel((reason) => {
        this.cancel(id, String(reason ?? 'cancelled by client'), opts.credential);
        this.abortRequest?.(id);
        this.abandon(id)?.reject(new GatewayError('MCPEG_ERR_REQUEST_CANCELLED', `request to backend "${this.backend}" cancelled`, { backend: this.backend }));
      });
      this.pending.set(id, p);
      if (p.tag !== undefined) this.tagged++;
      const msg = { jsonrpc: '2.0', id, method, ...(outParams ? { params: outParams } : {}) } as JSONRPCMessage;
      let sent: Promise<void>;
      try {
        sent = opts.credential ? this.transport.send(msg, sendOptionsOf(opts.credential) as object) : this.transport.send(msg);
      } catch (err) {
        // A transport that throws before its promise (stdio encodes the line at once) has sent nothing: settled now, not at the timeout.
        sent = Promise.reject(err);
      }
      sent.catch((err: unknown) => {
        this.settle(id)?.reject(sendError(this.backend, method, err));
      });
    });
  }

  /** `credential`: the caller's, for a notification on its behalf (as `request`'s). */
  async notify(method: string, params?: Record<string, unknown>, credential?: UpstreamCredential): Promise<void> {
    if (this.closed) return;
    const msg = { jsonrpc: '2.0', method, ...(params ? { params } : {}) } as JSONRPCMessage;
    try {
      await (credential ? this.transport.send(msg, sendOptionsOf(credential) as object) : this.transport.send(msg));
    } catch (err) {
      // As a request's: named for the backend (a reset connection during a session's notifications/initialized
      // reached the client as a bare -32603 "read ECONNRESET").
      throw sendError(this.backend, method, err);
    }
  }

  /**
   * Tag of the only client call in flight, so a backend's request or log line can be tied
   * to the client call that caused it. The gateway's own requests (catalog lists, a held
   * subscriptions/listen) carry no tag and do not count.
   */
  /**
   * Tag of the client call the message being received belongs to. When the transport says
   * which request's answer carried it (a POST's JSON body or SSE stream), that request's tag,
   * or none once that call has ended or is the gateway's own: never another client's call.
   * Otherwise (stdio, a GET stream) the only client call in flight, as soleInflightTag().
   * Valid while the owner's onNotification/onRequest runs for that message.
   */
  relatedTag(): unknown {
    return this.related === undefined ? this.soleInflightTag() : this.pending.get(this.related)?.tag;
  }

  soleInflightTag(): unknown {
    if (this.tagged !== 1) return undefined;
    for (const p of this.pending.values()) if (p.tag !== undefined) return p.tag;
    return undefined;
  }

  async close(reason = 'closed by gateway'): Promise<void> {
    if (this.closed) return;
    this.closeReason = reason;
    const t = this.transport as Transport & { terminateSession?: () => Promise<void> };
    // Stateless backends have no session to end.
    // Streamable HTTP: end the backend session explicitly (DELETE), as the spec asks clients to.
    if (typeof t.terminateSession === 'function') await t.terminateSession().catch(() => {});
    await this.transport.close().catch(() => {});
    this.handleClose(reason);
  }

  /** With the request's credential: on a connection shared by principals it is the caller, not the gateway, who cancels. */
  private cancel(id: RequestId, reason: string, credential: UpstreamCredential | undefined): void {
    this.notify('notifications/cancelled', { requestId: id, reason }, credential).catch(() => {});
  }

  /** Settles a request the backend has not answered (it timed out or was cancelled), counting it. */
  private abandon(id: RequestId): Pending | undefined {
    const p = this.settle(id);
    if (p) this.abandoned++;
    return p;
  }

  private settle(id: RequestId): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    if (p.tag !== undefined) this.tagged--;
    if (p.timer) clearTimeout(p.timer);
    if (p.progressToken) this.progress.delete(p.progressToken);
    p.cancel?.onCancel(undefined);
    return p;
  }

  private receive(raw: unknown, related?: RequestId): void {
    // relatedTag() answers for this message only, while its handlers run.
    this.related = related;
    try {
      this.handle(raw);
    } catch (err) {
      // A message the gateway cannot pass on (its params nested too deep to write out again: JSON.stringify's RangeError)
      // fails alone. Thrown from here it reached the transport's read loop: from a stdio pipe's 'data' handler, the
      // process's, so one line from a backend ended the gateway.
      this.unrelayable(raw, err);
    } finally {
      this.related = undefined;
    }
  }

  private handle(raw: unknown): void {
    const problem = envelopeProblem(raw, LENIENT);
    if (problem !== undefined) {
      this.malformed(raw, problem);
      return;
    }
    const m = raw as JsonRpcMessage;
    if (isResponse(m)) {
      const p = m.id === null ? undefined : this.settle(m.id);
      if (!p) return;
      if (isErrorResponse(m)) p.reject(new RemoteRpcError(m.error));
      else {
        const r = m.result as Record<string, unknown> | RawJson;
        p.resolve(r instanceof RawJson && !p.raw ? r.value() : r);
      }
      return;
    }
    if (isRequest(m)) {
      void this.answer(m, this.relatedTag());
      return;
    }
    const n = m as JsonRpcNotification;
    if (n.method === 'notifications/progress') {
      const token = n.params?.progressToken;
      const p = typeof token === 'string' ? this.progress.get(token) : undefined;
      if (p?.onProgress) {
        p.onProgress(n.params!);
        return;
      }
    } else if (n.method === 'notifications/cancelled') {
      const id = n.params?.requestId as RequestId | undefined;
      // The reason is the backend's: only a string goes on. It becomes the abort's reason, which a listener writes with
      // String(); {"toString": 1} threw there, and a throw from an AbortSignal listener is uncaught: the gateway's end.
      if (id !== undefined) this.incoming.get(id)?.abort(typeof n.params?.reason === 'string' ? n.params.reason : 'cancelled by backend');
    } else {
      const sub = (n.params?._meta as Record<string, unknown> | undefined)?.[META_SUBSCRIPTION_ID];
      if (typeof sub === 'number' || typeof sub === 'string') this.pending.get(sub)?.onNotification?.(n);
    }
    this.owner.onNotification(this, n);
  }

  /**
   * Something that is not a JSON-RPC message (`[null]`, a number, an error without a code).
   * A response whose id names a request in flight fails that request with the reason;
   * anything else is dropped, counted, and reported once per connection.
   */
  private malformed(raw: unknown, problem: string): void {
    this.malformedMessages++;
    const id = typeof raw === 'object' && raw !== null && !Array.isArray(raw) && !('method' in raw) ? (raw as { id?: unknown }).id : undefined;
    const p = typeof id === 'string' || typeof id === 'number' ? this.settle(id) : undefined;
    const detail = p ? `backend "${this.backend}" answered ${p.method} with a malformed message: ${problem}` : `backend "${this.backend}" sent a malformed message: ${problem}`;
    if (p) p.reject(new GatewayError('MCPEG_ERR_BACKEND_PROTOCOL', detail, { backend: this.backend, method: p.method }));
    if (this.malformedMessages === 1) this.onMalformed?.(detail);
  }

  /** A message whose handling threw: dropped, counted as malformed, and reported once per connection as those are. */
  private unrelayable(raw: unknown, err: unknown): void {
    this.malformedMessages++;
    const m = typeof raw === 'object' && raw !== null ? (raw as { method?: unknown }).method : undefined;
    const method = typeof m === 'string' ? m.slice(0, 100) : 'a message';
    const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    if (this.malformedMessages === 1) this.onMalformed?.(`backend "${this.backend}" sent ${method} that could not be relayed (${why.slice(0, 200)})`);
  }

  private async answer(req: JsonRpcRequest, tag: unknown): Promise<void> {
    const ac = new AbortController();
    this.incoming.set(req.id, ac);
    let reply: JSONRPCMessage;
    try {
      const result = await this.owner.onRequest(this, req, { tag, signal: ac.signal });
      reply = { jsonrpc: '2.0', id: req.id, result } as JSONRPCMessage;
    } catch (err) {
      reply = { jsonrpc: '2.0', id: req.id, error: toRpcError(err) } as JSONRPCMessage;
    } finally {
      this.incoming.delete(req.id);
    }
    if (ac.signal.aborted) return; // cancelled: the spec says not to answer
    try {
      this.transport.send(reply).catch(() => {});
    } catch (err) {
      // A transport that serializes at once (stdio) throws for an answer nested too deep to write: the backend gets the error instead.
      this.transport.send({ jsonrpc: '2.0', id: req.id, error: toRpcError(err) } as JSONRPCMessage).catch(() => {});
    }
  }

  private handleClose(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    for (const id of [...this.pending.keys()]) {
      const p = this.settle(id);
      p?.reject(
        new GatewayError('MCPEG_ERR_BACKEND_CLOSED', `backend "${this.backend}" closed while ${p.method} was in flight (${reason})`, { backend: this.backend, method: p.method }),
      );
    }
    for (const ac of this.incoming.values()) ac.abort('backend closed');
    this.owner.onClose(this, reason);
  }
}

const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

function sendError(backend: string, method: string, err: unknown): GatewayError {
  // A per-user credential the session could not get (transport/outbound/http-transport.ts authorize): the caller's error, not the backend's.
  if (err instanceof GatewayError && err.code === 'MCPEG_ERR_UPSTREAM_CREDENTIAL') return err;
  const msg = err instanceof Error ? err.message : String(err);
  // The message could not be encoded (JSON.stringify: nested too deep, or longer than a string may be): the caller's params, not the backend.
  if (err instanceof RangeError)
    return new GatewayError(
      'MCPEG_ERR_INVALID_PARAMS',
      `the params of ${method} cannot be sent to backend "${backend}": ${firstLine(msg)} (nested too deep or too large to encode)`,
      {
        backend,
        method,
      },
    );
  // A bad answer to this one request (not JSON, not a JSON or SSE type, too large): the call's error, not the backend's being unreachable.
  if ((err as { protocol?: unknown })?.protocol === true)
    return new GatewayError('MCPEG_ERR_BACKEND_PROTOCOL', `backend "${backend}" answered ${method} wrongly: ${msg}`, { backend, method });
  if ((err as { tooLarge?: unknown })?.tooLarge === true)
    return new GatewayError('MCPEG_ERR_BACKEND_ANSWER_TOO_LARGE', `backend "${backend}" answered ${method} with more than the gateway reads: ${msg}`, {
      backend,
      method,
      limit: (err as { limit?: unknown }).limit,
    });
  // The SDK's StreamableHTTPError carries the HTTP status as `code`: keep it (auto fallback reads it).
  const status = typeof (err as { code?: unknown })?.code === 'number' ? (err as { code: number }).code : undefined;
  // A refused or unresolvable connection means the request never left: safe to send elsewhere.
  const cause = (err as { code?: unknown; cause?: { code?: unknown } })?.cause?.code ?? (err as { code?: unknown })?.code;
  const notSent = typeof cause === 'string' && NOT_SENT.has(cause);
  return new GatewayError('MCPEG_ERR_BACKEND_UNAVAILABLE', `backend "${backend}" could not be reached for ${method}: ${firstLine(msg)}`, {
    backend,
    method,
    ...(status !== undefined ? { status } : {}),
    ...(notSent ? { notSent } : {}),
  });
}

/** Backends answer errors with whole HTML pages; one line is enough in a message. */
function firstLine(s: string): string {
  // [^<>]: a tag's scan stops at the next "<", so text full of "<" costs linear time, not quadratic.
  const t = s
    .slice(0, 20_000)
    .replace(/<[^<>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return t.length > 300 ? `${t.slice(0, 300)}…` : t;
}
