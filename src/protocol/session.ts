/**
 * A client session: what one MCP client negotiated (version, capabilities), the backend
 * sessions opened on its behalf, its in-flight requests (for cancellation) and the
 * requests the gateway relays to it from backends. Transport-agnostic: transports give it
 * an Outbound to deliver server-initiated messages and call dispatch() for the rest.
 */
import { SubscribedUris, type Subscribers } from './subscribers.js';
import { ANONYMOUS, type Principal } from '../auth/principal.js';
import { GatewayError, RemoteRpcError } from '../errors/catalog.js';
import type { Logger } from '../observability/logger.js';
import type { View } from '../router/view.js';
import type { Backend } from '../upstream/backend.js';
import type { UpstreamCredential } from '../auth/upstream-credential.js';
import type { PoolOwner } from '../upstream/session-pool.js';
import type { Replica } from '../upstream/replica.js';
import type { Cancellation } from '../util/cancellation.js';
import type { CallTag, ClientLink } from '../upstream/client-link.js';
import type { BackendConnection, ConnectionOwner } from '../upstream/connection.js';
import type { OwnLease, Peer, Wait } from '../upstream/process-pool.js';
import type { JsonRpcMessage, JsonRpcNotification, JsonRpcRequest, JsonRpcResponse, RequestId } from '../wire/jsonrpc.js';
import { isErrorResponse } from '../wire/jsonrpc.js';
import type { SessionRecord } from './session-store.js';
import { LATEST_VERSION, versionAtLeast } from '../wire/versions.js';
import { isStatelessVersion } from '../wire/stateless.js';
import { INPUT_CAPABILITY, INPUT_METHODS } from './stateless.js';
import { ContinuationStore } from './continuation.js';
import { ClientRequestBudget, MAX_CLIENT_REQUESTS } from './client-requests.js';
import { own } from '../util/own.js';
import type { RelayClient, Target } from '../relay/types.js';
import { sessionFingerprint } from './fingerprint.js';
import type { ConcurrencyLimit } from '../resilience/concurrency-limit.js';
import type { Authorization } from '../authz/gate.js';
import type { InstanceBus } from './bus.js';

export type { Target };

/** What target() reads of the call it finds a connection for: its wait bounds, method and params. */
export type TargetCall = Wait & { readonly method?: string; readonly params?: Record<string, unknown> };

/** Where server-initiated messages go; false when no channel can take them now. */
export interface Outbound {
  deliver(msg: JsonRpcMessage, related?: RequestId): boolean;
  /**
   * A message another instance sent for this session's client (protocol/bus.ts): delivered
   * on this instance's streams only, never passed on again. Absent: deliver() is local.
   */
  deliverHere?(msg: JsonRpcMessage): boolean;
  /** Whether the client has a stream open on this instance now (its GET stream or a POST's answer). Absent: always. */
  streamsHere?(): boolean;
  /** True while the client holds a connection or stream open: the session is not idle then. */
  isOpen(): boolean;
}

export interface SessionHost {
  readonly log: Logger;
  /** Calls of stateless clients that wait for the client's input (instance-local). */
  readonly continuations?: ContinuationStore;
  view(id: string): View | undefined;
  backend(name: string): Backend | undefined;
  /** Authorization in force: a subscription it no longer allows hears no more updates. */
  readonly authz?: Authorization;
  /** The bus to the other gateway instances (state.store: redis); absent with one instance. */
  readonly bus?: InstanceBus;
  /** Whether another open client session of this instance is subscribed to `uri` on `backend` (shared backend sessions hold one subscription for all). */
  subscribedElsewhere?(backend: string, uri: string, except: ClientSession): boolean;
  /** The sessions subscribed to each URI (subscribers.ts): sessions add and remove themselves. */
  readonly subscribers?: Subscribers<ClientSession>;
}

/** What a session is built from: the stored record minus its timestamps (see session-store.ts). */
export type SessionInit = Omit<SessionRecord, 'createdAt' | 'lastSeen'>;

interface PendingClientRequest {
  resolve(r: Record<string, unknown>): void;
  reject(e: unknown): void;
}

interface OpenBackendSession {
  backend: string;
  replica: Replica;
  conn: Promise<BackendConnection>;
  /** What `conn` resolved to, once it has: calls then take it without waiting on the promise. */
  ready: BackendConnection | undefined;
  lastUsed: number;
  /** A child process of its own under max_processes (stdio, per_client): calls on it are counted. */
  lease?: OwnLease | undefined;
}

/** A backend's request to a stateless client, waiting for the client to answer it in a retry (SEP-2322). */
export interface PendingInput {
  method: string;
  params: Record<string, unknown> | undefined;
  resolve(r: Record<string, unknown>): void;
  reject(e: unknown): void;
}

/**
 * A session passes at most this many of its client's answers to other instances per
 * FORWARD_WINDOW_MS: each may answer a request another instance sent the client, but nothing
 * else checks that it does (the id names the instance, and the client writes the id). The rest
 * are dropped, as an answer no request waits for is on one instance. As many as one instance
 * may have waiting for the client's answers at once (client-requests.ts): a client answering
 * all of them together loses none.
 */
export const MAX_FORWARDED_ANSWERS = MAX_CLIENT_REQUESTS;
export const FORWARD_WINDOW_MS = 1000;
/** Answers dropped past that bound are logged at warn at most once per this long per session (the rest at debug). */
const DROP_WARN_MS = 10_000;

/** Which capability each server-to-client request needs (client features in the spec). */
const REQUIRED_CAPABILITY: Record<string, { cap: string; since: string }> = {
  'sampling/createMessage': { cap: 'sampling', since: '2024-11-05' },
  'roots/list': { cap: 'roots', since: '2024-11-05' },
  'elicitation/create': { cap: 'elicitation', since: '2025-06-18' },
};

export class ClientSession implements ClientLink, ConnectionOwner, RelayClient {
  readonly sessionId: string;
  readonly viewId: string;
  readonly protocolVersion: string;
  readonly capabilities: Record<string, unknown>;
  readonly clientInfo: Record<string, unknown>;
  /** A stateless (2026-07-28) client: this session lives for one request and has no id the client knows. */
  readonly stateless: boolean;
  /** Stateless clients: backend requests waiting for the client's answer, by the key the client sees. */
  readonly inputs = new Map<string, PendingInput>();
  /** Wakes a relay waiting on a stateful backend when the backend asks the client something. */
  onInput: (() => void) | undefined;
  readonly createdAt = Date.now();
  lastSeen = Date.now();
  initialized = false;
  logLevel: string | undefined;
  outbound: Outbound | undefined;
  /** Resource URIs it subscribed to; kept in step with the instance's index (subscribers.ts). */
  readonly subscriptions: SubscribedUris<ClientSession>;
  /** Client requests being served, by client request id: aborted by notifications/cancelled. */
  readonly inflight = new Map<RequestId, Cancellation>();
  /** Bounds how many of its requests run at once (made on first use: see dispatch.ts). */
  slots: ConcurrencyLimit | undefined;
  /** This client's backend sessions, by backend name (by name and replica when calls are hashed by argument). */
  private readonly backends = new Map<string, OpenBackendSession>();
  /** The client's address (HTTP transports), for rate limits and hash-by-client-ip. */
  clientIp: string | undefined;
  /** A hash of the API key the client presented, for rate limits (never the key itself). */
  apiKeyId: string | undefined;
  /** Who opened the session (auth/principal.ts); requests of another principal do not find it. */
  principal: Principal = ANONYMOUS;
  private readonly pendingClient = new Map<RequestId, PendingClientRequest>();
  /** How many of backends' requests to the client (pendingClient, inputs) wait at once, and their size (client-requests.ts). */
  private readonly asked = new ClientRequestBudget();
  private nextServerRequest = 1;
  /** Answers passed to other instances in the current window (MAX_FORWARDED_ANSWERS). */
  private forwarded = { until: 0, n: 0 };
  /** Answers dropped past that bound since the last warn line about them, and when the next may be written. */
  private dropped = { n: 0, warnAfter: 0 };
  private closed = false;
  private closeHooks: Array<() => void> | undefined;
  readonly host: SessionHost;

  constructor(init: SessionInit, host: SessionHost) {
    this.sessionId = init.id;
    this.viewId = init.viewId;
    this.protocolVersion = init.protocolVersion;
    this.capabilities = init.capabilities;
    this.clientInfo = init.clientInfo;
    this.host = host;
    this.stateless = isStatelessVersion(init.protocolVersion);
    this.subscriptions = new SubscribedUris<ClientSession>(this, host.subscribers);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get view(): View {
    const v = this.host.view(this.viewId);
    if (!v) throw new GatewayError('MCPEG_ERR_NOT_FOUND', `endpoint "${this.viewId}" no longer exists`);
    return v;
  }

  get openBackendSessions(): number {
    return this.backends.size;
  }

  // --- backend sessions ---

  /**
   * Where a call to `backend` goes on behalf of this client. `shared` mode: the picked
   * replica's shared connection. `per_client`: this client's own backend session, opened
   * on first use with the client's capabilities and kept on its replica while that
   * replica is available (session affinity); reopened on another replica when it is not.
   * `key` is the hash key for `hash` strategies on a tool argument; `exclude` a replica
   * that just failed this call (retries go elsewhere). On a stdio backend beyond its
   * max_processes, the call shares a process instead, waiting for one up to `call` (its
   * timeout and cancellation).
   */
  target(backend: Backend, key?: string, exclude?: Replica, call?: TargetCall): Target | Promise<Target> {
    const hashKey = key ?? this.routeKey(backend);
    // Bridge only when the backend lacks the client's lifecycle: a stateful client gets a stateful session unless the backend speaks only 2026-07-28.
    if (backend.cfg.session_mode === 'shared' || this.stateless || backend.statelessOnly) {
      const replica = backend.pick(hashKey, exclude);
      const conn = replica?.sharedConnection;
      if (!replica || !conn || replica.state !== 'up') return Promise.reject(unavailable(backend, replica));
      if (replica.stateless && !this.stateless && !replica.statelessOnly && backend.cfg.session_mode === 'shared') {
        // `shared` mode on a backend offering both lifecycles: the stateful session stateful clients share.
        return replica.sharedStatefulConnection().then(
          (c) => ({ conn: c, replica }),
          (err: unknown) => bridgedOr(err, replica, conn),
        );
      }
      // Stateless backends have no sessions: one connection carries every client's calls, each with its envelope.
      if (replica.stateless || backend.cfg.session_mode === 'shared') return { conn, replica };
      // A retry that answers input_required resumes a call that runs on its backend session already
      // (bridge.ts, continuation.ts): it takes none, or at max_processes it would wait for the one its call holds.
      if (this.resumes(call)) return Promise.resolve({ conn, replica });
      // A stateless client on a stateful backend: a backend session held for its capability set.
      if (backend.processes) return backend.processes.share(replica, this, this.peer(LATEST_VERSION), call).then((p) => ({ conn: p.conn, replica, release: p.release }));
      return replica.pooled(this.capabilities, this.clientInfo, this.poolOwner(backend)).then((p) => ({ conn: p.conn, replica, release: p.release }));
    }
    let slot = backend.name;
    let chosen: Replica | undefined;
    if (key !== undefined) {
      // Hashed by argument: each replica the client reaches gets its own session.
      chosen = backend.pick(key, exclude);
      if (!chosen) return Promise.reject(unavailable(backend, undefined));
      slot = `${backend.name}\u0000${chosen.index}`;
    }
    const open = this.backends.get(slot);
    if (open) {
      const r = open.replica;
      // A replica discovery removed is no longer in the set: the session moves.
      const inSet = backend.replicas.length === 1 ? backend.replicas[0] === r : backend.replicas.includes(r);
      if (inSet && ((r !== exclude && (r.available || !backend.hasAlternative(r))) || backend.replicas.length === 1)) {
        open.lastUsed = Date.now();
        // Its own process counts the call, unless max_processes took it back (then another is opened or shared below).
        const release = open.lease?.hold();
        if (!open.lease || release) {
          // Its connection is open already (the common case): the target at once, no promise to wait on.
          const ready = open.ready;
          if (ready) return release ? { conn: ready, replica: r, release } : { conn: ready, replica: r };
          return targetOf(open.conn, r, release);
        }
      } else {
        // Its replica left rotation (or failed this call): move to another one.
        this.backends.delete(slot);
        // One that discovery removed drains first: its stop closes this session once the calls in flight on it are done.
        if (inSet)
          void open.conn.then(
            (c) => c.close('replica out of rotation'),
            () => {},
          );
      }
    }
    if (this.closed) return Promise.reject(new GatewayError('MCPEG_ERR_SESSION_NOT_FOUND', 'session closed'));
    const replica = chosen ?? backend.pick(hashKey, exclude);
    if (!replica) return Promise.reject(unavailable(backend, undefined));
    // stdio: a process of its own while max_processes allows, else one shared for this call (upstream/process-pool.ts).
    const pool = backend.processes;
    const lease = pool?.own(
      replica,
      this,
      this.peer(this.protocolVersion),
      () => this.inflight.size === 0 && !this.outbound?.isOpen(),
      () => {
        if (this.backends.get(slot) === entry) this.backends.delete(slot);
      },
    );
    if (pool && !lease) return pool.share(replica, this, this.peer(this.protocolVersion), call).then((p) => ({ conn: p.conn, replica, release: p.release }));
    const conn = (lease?.conn ?? backend.openSession(replica, this, this.capabilities, this.clientInfo, this.protocolVersion, this.credentialFor(backend))).then(async (c) => {
      if (this.closed) {
        await c.close('client session closed');
        throw new GatewayError('MCPEG_ERR_SESSION_NOT_FOUND', 'session closed');
      }
      // A reopened backend session (idle close, another replica or instance) gets this client's state back.
      if (this.logLevel) c.request('logging/setLevel', { level: this.logLevel }, { timeoutMs: backend.cfg.timeout }).catch(() => {});
      for (const uri of this.subscriptions) {
        if (this.view.resourceBackend(uri) === backend.name && this.hears(backend.name, uri))
          c.request('resources/subscribe', { uri }, { timeoutMs: backend.cfg.timeout }).catch(() => {});
      }
      return c;
    });
    const entry: OpenBackendSession = { backend: backend.name, replica, conn, ready: undefined, lastUsed: Date.now(), lease };
    this.backends.set(slot, entry);
    conn.then(
      (c) => {
        entry.ready = c;
      },
      () => {
        if (this.backends.get(slot) === entry) this.backends.delete(slot);
      },
    );
    return targetOf(conn, replica, lease?.hold());
  }

  /** A stateless client's retry of a call waiting for its input on this instance (bridge.ts resumes it; it sends nothing). */
  private resumes(call: TargetCall | undefined): boolean {
    return this.stateless && this.host.continuations !== undefined && INPUT_METHODS.has(call?.method ?? '') && ContinuationStore.owns(call?.params?.requestState);
  }

  /** Per-user credentials: this session's principal's, for every request of its backend sessions on `backend`. */
  private credentialFor(backend: Backend): (() => Promise<UpstreamCredential | undefined>) | undefined {
    const source = backend.credentials;
    if (!source) return undefined;
    // Read when asked: the session's principal carries the access token its client presented last (a refreshed one included).
    return () => source.resolve(this.principal);
  }

  /** Pooled backend sessions (a stateless client on a stateful backend) with per-user credentials are held per principal. */
  private poolOwner(backend: Backend): PoolOwner | undefined {
    const credential = this.credentialFor(backend);
    return credential && { principal: this.principal.id, credential };
  }

  private peer(protocolVersion: string): Peer {
    return { capabilities: this.capabilities, clientInfo: this.clientInfo, protocolVersion };
  }

  /** The hash key of a `hash` strategy keyed by session or client address. */
  private routeKey(backend: Backend): string | undefined {
    const lb = backend.cfg.load_balancing;
    if (lb.strategy !== 'hash') return undefined;
    return lb.hash_key === 'client_ip' ? (this.clientIp ?? this.sessionId) : this.sessionId;
  }

  /** Every backend session this client has open (for setLevel and roots/list_changed fan-out). */
  async eachOpenConnection(fn: (c: BackendConnection, b: Backend) => void): Promise<void> {
    for (const open of this.backends.values()) {
      const b = this.host.backend(open.backend);
      const c = await open.conn.catch(() => undefined);
      if (b && c && !c.isClosed) fn(c, b);
    }
  }

  /** Closes backend sessions idle for longer than their backend's idle_timeout. */
  async closeIdleBackendSessions(now: number): Promise<void> {
    for (const [slot, open] of this.backends) {
      const b = this.host.backend(open.backend);
      if (!b || now - open.lastUsed < b.cfg.idle_timeout) continue;
      const c = await open.conn.catch(() => undefined);
      if (c && c.inflight > 0) continue;
      this.backends.delete(slot);
      await c?.close('idle');
    }
  }

  // --- ClientLink: backend → client ---

  requestClient(
    backend: string,
    method: string,
    params: Record<string, unknown> | undefined,
    related: RequestId | undefined,
    signal: AbortSignal,
  ): Promise<Record<string, unknown>> {
    if (this.stateless) return this.requestInput(backend, method, params, signal);
    const refused = this.capabilityMissing(method, params);
    if (refused) return Promise.reject(refused);
    let release: () => void;
    try {
      release = this.asked.take(backend, method, params);
    } catch (err) {
      return Promise.reject(err);
    }
    const answered = this.sendRequest(method, params, related, signal);
    answered.then(release, release);
    return answered;
  }

  /** Why this client cannot be sent `method` (a capability it did not declare, or a method its version lacks), if it cannot. */
  private capabilityMissing(method: string, params: Record<string, unknown> | undefined): GatewayError | undefined {
    const need = own(REQUIRED_CAPABILITY, method);
    if (need && this.capabilities[need.cap] === undefined) {
      return new GatewayError('MCPEG_ERR_CLIENT_CAPABILITY_MISSING', `the client did not declare the "${need.cap}" capability, so it cannot answer ${method}`, { method });
    }
    // A client that declares the capability on a version without the method: the message names the version, not the capability.
    if (need && !versionAtLeast(this.protocolVersion, need.since)) {
      return new GatewayError(
        'MCPEG_ERR_CLIENT_CAPABILITY_MISSING',
        `the client negotiated protocol ${this.protocolVersion}, which has no ${method} (added in ${need.since}), so it cannot answer it`,
        { method },
      );
    }
    // URL-mode elicitation (2025-11-25) needs `elicitation.url`; plain `elicitation: {}` means form only.
    if (method === 'elicitation/create' && params?.mode === 'url' && !(this.capabilities.elicitation as Record<string, unknown> | undefined)?.url) {
      return new GatewayError(
        'MCPEG_ERR_CLIENT_CAPABILITY_MISSING',
        'the client did not declare the "elicitation.url" capability, so it cannot answer a URL-mode elicitation/create',
        {
          method,
        },
      );
    }
    return undefined;
  }

  /** Sends a request to the client (an id of this instance) and waits for its answer, the backend's cancel, or the session's end. */
  private sendRequest(method: string, params: Record<string, unknown> | undefined, related: RequestId | undefined, signal: AbortSignal): Promise<Record<string, unknown>> {
    // With other instances, the id names this one: the client's answer may reach any instance, which passes it here.
    const bus = this.host.bus;
    const id = bus ? `mcpeg-${bus.instanceId}-${this.nextServerRequest++}` : `mcpeg-${this.nextServerRequest++}`;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.pendingClient.delete(id);
        this.outbound?.deliver(
          { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: typeof signal.reason === 'string' ? signal.reason : 'cancelled' } },
          related,
        );
        reject(new GatewayError('MCPEG_ERR_REQUEST_CANCELLED', `${method} cancelled by the backend`));
      };
      this.pendingClient.set(id, {
        resolve: (r) => {
          signal.removeEventListener('abort', onAbort);
          resolve(r);
        },
        reject: (e) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
      signal.addEventListener('abort', onAbort, { once: true });
      const msg: JsonRpcRequest = { jsonrpc: '2.0', id, method, ...(params ? { params } : {}) };
      if (!this.outbound?.deliver(msg, related)) this.unreachable(msg);
    });
  }

  /**
   * A request to the client that no stream could take (here or, with a bus, on the instance
   * holding the client's stream): the backend is answered at once with `code`.
   */
  unreachable(msg: JsonRpcRequest, why?: string, code: 'MCPEG_ERR_CLIENT_UNREACHABLE' | 'MCPEG_ERR_STATE_UNAVAILABLE' = 'MCPEG_ERR_CLIENT_UNREACHABLE'): void {
    this.pendingClient.get(msg.id)?.reject(
      new GatewayError(code, why ?? `no open stream to the client to send ${msg.method} on; open the GET stream or keep the request's SSE stream open`, {
        method: msg.method,
      }),
    );
    this.pendingClient.delete(msg.id);
  }

  /**
   * A stateful backend asks a stateless client something: the request cannot be sent (the
   * 2026-07-28 revision has no server-to-client requests), so it waits here until the
   * client answers it in the retry of its own request (input_required, SEP-2322).
   */
  private requestInput(backend: string, method: string, params: Record<string, unknown> | undefined, signal: AbortSignal): Promise<Record<string, unknown>> {
    const cap = own(INPUT_CAPABILITY, method);
    if (!cap) {
      return Promise.reject(
        new GatewayError(
          'MCPEG_ERR_CLIENT_CAPABILITY_MISSING',
          `${method} cannot be relayed to a client on protocol ${this.protocolVersion}: only sampling, elicitation and roots cross as input_required`,
          { method },
        ),
      );
    }
    if (this.capabilities[cap] === undefined) {
      return Promise.reject(
        new GatewayError('MCPEG_ERR_MISSING_CLIENT_CAPABILITY', `the request's client capabilities do not declare "${cap}", so the client cannot answer ${method}`, {
          method,
          requiredCapabilities: { [cap]: {} },
        }),
      );
    }
    let release: () => void;
    try {
      release = this.asked.take(backend, method, params);
    } catch (err) {
      return Promise.reject(err);
    }
    const key = `mcpeg-${this.nextServerRequest++}`;
    const answered = new Promise<Record<string, unknown>>((resolve, reject) => {
      const onAbort = () => {
        this.inputs.delete(key);
        reject(new GatewayError('MCPEG_ERR_REQUEST_CANCELLED', `${method} cancelled by the backend`));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const done = () => signal.removeEventListener('abort', onAbort);
      this.inputs.set(key, {
        method,
        params,
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      this.onInput?.();
    });
    answered.then(release, release);
    return answered;
  }

  notifyClient(n: JsonRpcNotification, related?: RequestId): void {
    this.outbound?.deliver(n, related);
  }

  /**
   * A JSON-RPC response from the client to a request the gateway relayed to it. With other
   * instances, an answer to a request another instance sent (its id names the instance) is
   * passed to that instance (`fromBus`: it came that way, and stops here).
   */
  handleClientResponse(r: JsonRpcResponse, fromBus = false): void {
    if (r.id === null) return;
    const p = this.pendingClient.get(r.id);
    if (!p) {
      const owner = fromBus ? undefined : requestOwner(r.id);
      const bus = this.host.bus;
      if (bus && owner !== undefined && owner !== bus.instanceId && this.mayForward()) {
        const sid = this.sessionId;
        if (!bus.send(owner, { kind: 'client-response', session: sid, response: r }, undefined, sid)) {
          // Too large to pass between instances: the waiting request fails at once, saying why, rather than at its timeout.
          const tooLarge = new GatewayError('MCPEG_ERR_OVERLOADED', "the client's answer is too large to pass to the gateway instance that asked (over the bus's size bound)");
          bus.send(owner, { kind: 'client-response', session: sid, response: { jsonrpc: '2.0', id: r.id, error: tooLarge.toJsonRpc() } }, undefined, sid);
        }
      }
      return;
    }
    this.pendingClient.delete(r.id);
    if (isErrorResponse(r)) p.reject(new RemoteRpcError(r.error));
    else p.resolve(r.result as Record<string, unknown>); // a client's answer, parsed at the edge: never RawJson
  }

  /**
   * Whether one more answer may go to another instance in this window (MAX_FORWARDED_ANSWERS
   * per FORWARD_WINDOW_MS). Past it, answers are dropped: one warn line per session per
   * DROP_WARN_MS at most, counting the drops since the last one; the rest at debug.
   */
  private mayForward(): boolean {
    const now = Date.now();
    if (this.forwarded.until <= now) this.forwarded = { until: now + FORWARD_WINDOW_MS, n: 0 };
    const cur = this.forwarded;
    if (cur.n < MAX_FORWARDED_ANSWERS) {
      cur.n++;
      return true;
    }
    const fields = { session: sessionFingerprint(this.sessionId), max: MAX_FORWARDED_ANSWERS, windowMs: FORWARD_WINDOW_MS };
    const d = this.dropped;
    d.n++;
    if (d.warnAfter <= now) {
      this.host.log.warn({ ...fields, dropped: d.n }, "client answers to other gateway instances' requests dropped: more than the session's share");
      this.dropped = { n: 0, warnAfter: now + DROP_WARN_MS };
    } else this.host.log.debug(fields, "client answer to another gateway instance's request dropped: more than the session's share in this window");
    return false;
  }

  // --- ConnectionOwner: what this client's backend sessions send ---

  onRequest(conn: BackendConnection, req: JsonRpcRequest, ctx: { tag: unknown; signal: AbortSignal }): Promise<Record<string, unknown>> {
    if (req.method === 'ping') return Promise.resolve({});
    return this.requestClient(conn.backend, req.method, req.params, (ctx.tag as CallTag | undefined)?.requestId, ctx.signal);
  }

  /**
   * Whether this session may still hear of updates to a resource it subscribed to (the
   * rules may have changed since: a reload); if not, the subscription is dropped.
   */
  hears(backend: string, uri: string): boolean {
    if (this.host.authz?.hears(this.principal, backend, uri) !== false) return true;
    this.subscriptions.delete(uri);
    return false;
  }

  onNotification(conn: BackendConnection, n: JsonRpcNotification): void {
    const related = (conn.relatedTag() as CallTag | undefined)?.requestId;
    switch (n.method) {
      case 'notifications/message': {
        // 2026-07-28: no log messages for a request that did not ask for them (its envelope's logLevel).
        if (this.stateless && !this.logLevel) return;
        // Tag the log line with its backend, so a client sees where it came from.
        const logger = n.params?.logger;
        this.notifyClient({ ...n, params: { ...n.params, logger: logger ? `${conn.backend}/${String(logger)}` : conn.backend } }, related);
        return;
      }
      case 'notifications/resources/updated':
        // Only from the backend the URI routes to: another backend of the view cannot announce its resources (review 18).
        if (
          typeof n.params?.uri === 'string' &&
          this.subscriptions.has(n.params.uri) &&
          this.view.resourceBackend(n.params.uri) === conn.backend &&
          this.hears(conn.backend, n.params.uri)
        )
          this.notifyClient(n);
        return;
      case 'notifications/tools/list_changed':
      case 'notifications/prompts/list_changed':
      case 'notifications/resources/list_changed':
        // One client's own session: its list may change for it alone (tools offered by capability), so others hear only of a catalog that differs.
        this.host.backend(conn.backend)?.refreshCatalog();
        return;
      default:
        return;
    }
  }

  onClose(conn: BackendConnection, reason: string): void {
    for (const [slot, open] of this.backends) {
      if (open.backend !== conn.backend) continue;
      open.conn.then(
        (c) => {
          if (c === conn && this.backends.get(slot) === open) this.backends.delete(slot);
        },
        () => {},
      );
    }
    this.host.backend(conn.backend)?.forgetSession(conn);
    this.host.log.debug({ session: sessionFingerprint(this.sessionId), backend: conn.backend, reason }, 'backend session closed');
  }

  /** Runs `fn` once when the session closes (resource watches let its URIs go). */
  whenClosed(fn: () => void): void {
    if (this.closed) queueMicrotask(fn);
    else (this.closeHooks ??= []).push(fn);
  }

  async close(reason: string): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const hooks = this.closeHooks;
    this.closeHooks = undefined;
    for (const fn of hooks ?? []) fn();
    this.subscriptions.clear();
    for (const c of this.inflight.values()) c.cancel(reason);
    for (const p of this.pendingClient.values()) p.reject(new GatewayError('MCPEG_ERR_SESSION_NOT_FOUND', `client session closed: ${reason}`));
    this.pendingClient.clear();
    for (const p of this.inputs.values()) p.reject(new GatewayError('MCPEG_ERR_REQUEST_CANCELLED', `the client's input was not received: ${reason}`));
    this.inputs.clear();
    const opens = [...this.backends.values()];
    this.backends.clear();
    await Promise.all(opens.map(async (o) => (await o.conn.catch(() => undefined))?.close('client session closed')));
  }
}

/**
 * The target of a call on a client's own backend session; `release` ends the call's count on its process.
 * A stateful session just refused by a backend that speaks only 2026-07-28: the call is bridged over its connection instead.
 */
function targetOf(conn: Promise<BackendConnection>, replica: Replica, release: (() => void) | undefined): Promise<Target> {
  return conn.then(
    (c) => (release ? { conn: c, replica, release } : { conn: c, replica }),
    (err: unknown) => {
      release?.();
      return bridgedOr(err, replica, replica.sharedConnection);
    },
  );
}

/** The instance id in a server-to-client request id `mcpeg-<instance>-<n>` (see requestClient), if it has one. */
function requestOwner(id: RequestId): string | undefined {
  if (typeof id !== 'string' || !id.startsWith('mcpeg-')) return undefined;
  const parts = id.split('-');
  return parts.length === 3 && /^[0-9a-f]{12}$/.test(parts[1]) ? parts[1] : undefined;
}

function bridgedOr(err: unknown, replica: Replica, conn: BackendConnection | undefined): Target {
  if (!replica.statelessOnly || !conn || conn.isClosed) throw err;
  return { conn, replica };
}

function unavailable(backend: Backend, replica: Replica | undefined): GatewayError {
  const why = replica ? `replica ${replica.id} is ${replica.state}` : `no replica is available (${backend.state})`;
  const err = backend.lastError;
  return new GatewayError('MCPEG_ERR_BACKEND_UNAVAILABLE', `backend "${backend.name}": ${why}${err ? `: ${err}` : ''}`, { backend: backend.name });
}
