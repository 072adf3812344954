/**
 * One replica of a backend (most backends have one): its catalog connection (the
 * gateway's own session, used to list what the replica offers, to follow its
 * list_changed notifications, to probe its health and, in `shared` mode, to carry every
 * client's calls), the catalog it last listed, its state, restart with backoff, its
 * circuit breaker and health, and the factory for the per-client sessions the protocol
 * layer opens on it. backend.ts groups replicas into the backend the router sees.
 */
import { GatewayError, RemoteRpcError } from '../errors/catalog.js';
import type { BackendOptions } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { JsonRpcNotification, JsonRpcRequest } from '../wire/jsonrpc.js';
import { isSupportedVersion, LATEST_VERSION, SUPPORTED_VERSIONS } from '../wire/versions.js';
import { STATELESS_VERSION, paramHeadersOf } from '../wire/stateless.js';
import { VERSION } from '../version.js';
import { EMPTY_CATALOG, LISTS, type BackendCatalog, type Item } from './catalog.js';
import type { TransportFactory, TransportKind } from '../transport/outbound/connect.js';
import type { CallTag } from './client-link.js';
import { BackendConnection, type ConnectionOwner, type InitializeResult } from './connection.js';
import { CircuitBreaker } from '../resilience/circuit-breaker.js';

export type BackendState = 'starting' | 'up' | 'down' | 'stopped';

export interface ReplicaListener {
  catalogChanged(r: Replica): void;
  stateChanged(r: Replica): void;
  resourceUpdated(r: Replica, params: Record<string, unknown>): void;
}

export const GATEWAY_INFO = { name: 'mcpeg', version: VERSION } as const;

interface PoolEntry {
  conn: BackendConnection | undefined;
  opening: Promise<BackendConnection> | undefined;
  /** Calls using it now (from pick to release). */
  busy: number;
  lastUsed: number;
}

/** JSON with object keys sorted: equal capability sets give equal keys whatever the clients' key order. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

/** What the gateway declares on its own sessions: everything it can relay to clients. */
const CATALOG_CAPABILITIES = { roots: { listChanged: true }, sampling: {}, elicitation: { form: {}, url: {} } };
const MAX_LIST_PAGES = 100;
/** Catalog refresh from caching hints: never more often than this, whatever ttlMs says. */
const MIN_TTL_REFRESH_MS = 1000;
/** Without a usable ttlMs and without list_changed, a stateless backend's catalog is re-listed this often. */
const DEFAULT_REFRESH_MS = 5 * 60_000;

export class Replica implements ConnectionOwner {
  readonly name: string;
  /** Index within the backend; `id` names it in logs, metrics and the balancer. */
  readonly index: number;
  readonly id: string;
  readonly weight: number;
  /** Requests in flight on this replica (least_connections, metrics). */
  active = 0;
  readonly breaker: CircuitBreaker | undefined;
  /** Active health checks say it is healthy (true until they say otherwise). */
  healthy = true;
  /** Outlier detection took it out of rotation until then (ms since epoch). */
  ejectedUntil = 0;
  ejections = 0;
  consecutiveFailures = 0;
  private healthOk = 0;
  private healthFail = 0;
  private healthTimer: NodeJS.Timeout | undefined;
  readonly cfg: BackendOptions;
  readonly prefix: string;
  state: BackendState = 'starting';
  catalog: BackendCatalog = EMPTY_CATALOG;
  info: InitializeResult | undefined;
  lastError: string | undefined;
  restarts = 0;
  private kind: TransportKind;
  private catalogConn: BackendConnection | undefined;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  private readonly listener: ReplicaListener;
  private readonly perClient = new Set<BackendConnection>();
  private probing = false;
  /** The backend speaks the stateless revision (learned from server/discover at start). */
  stateless = false;
  private ttlTimer: NodeJS.Timeout | undefined;
  /** Backend sessions held for stateless clients, by the canonical JSON of their capabilities. */
  private readonly pool = new Map<string, PoolEntry[]>();
  private poolSweeper: NodeJS.Timeout | undefined;
  private listening: BackendConnection | undefined;

  private readonly transports: TransportFactory;

  constructor(name: string, index: number, weight: number, cfg: BackendOptions, transports: TransportFactory, log: Logger, listener: ReplicaListener) {
    this.name = name;
    this.index = index;
    this.id = `${name}#${index}`;
    this.weight = weight;
    this.cfg = cfg;
    const cb = cfg.circuit_breaker;
    this.breaker = cb.enabled
      ? new CircuitBreaker({
          failureRateThreshold: cb.failure_rate_threshold, minimumRequests: cb.minimum_requests, windowMs: cb.window, coolDownMs: cb.cool_down, halfOpenProbes: cb.half_open_probes,
          onStateChange: (from, to) => this.log.warn({ replica: this.id, from, to }, 'circuit breaker state'),
        })
      : undefined;
    this.prefix = cfg.prefix ?? name;
    this.transports = transports;
    this.kind = transports.initialKind;
    this.log = index === 0 ? log.child({ backend: name }) : log.child({ backend: name, replica: index });
    this.listener = listener;
  }

  get capabilities(): Record<string, unknown> | undefined {
    return this.info?.capabilities;
  }

  get transportKind(): TransportKind {
    return this.kind;
  }

  get sharedConnection(): BackendConnection | undefined {
    return this.catalogConn;
  }

  async start(): Promise<void> {
    if (this.state === 'stopped') return;
    this.setState('starting');
    try {
      const conn = await this.connect(this, CATALOG_CAPABILITIES, GATEWAY_INFO, LATEST_VERSION, true);
      if ((this.state as BackendState) === 'stopped') {
        await conn.close('gateway stopping');
        return;
      }
      this.catalogConn = conn;
      this.stateless = conn.stateless !== undefined;
      this.info = conn.initializeResult;
      this.catalog = await this.listAll(conn);
      if (this.stateless) this.listen(conn);
      this.attempt = 0;
      this.lastError = undefined;
      this.healthy = true;
      this.healthOk = this.healthFail = 0;
      this.setState('up');
      this.startHealthChecks();
      this.log.info({ transport: this.kind, server: this.info?.serverInfo, tools: this.catalog.tools.length }, 'backend up');
      this.listener.catalogChanged(this);
    } catch (err) {
      this.lastError = (err as Error).message;
      this.log.error({ err: this.lastError }, 'backend failed to start');
      // Detach first, so closing it is not taken for a crash that schedules a second restart.
      const conn = this.catalogConn;
      this.catalogConn = undefined;
      await conn?.close('start failed');
      this.setState('down');
      this.scheduleRestart();
    }
  }

  /** May new work go here: up, healthy, not ejected, its breaker not open. */
  get available(): boolean {
    return this.state === 'up' && this.healthy && this.ejectedUntil <= Date.now() && this.breaker?.state !== 'open';
  }

  /**
   * Passive outlier detection (Envoy's consecutive-5xx ejection): after
   * `consecutive_failures` failed calls in a row the replica leaves rotation for
   * base_ejection_time × (ejections so far + 1), if `mayEject` allows (max_ejection_percent).
   */
  recordOutcome(failed: boolean, mayEject: () => boolean): void {
    if (!failed) {
      this.consecutiveFailures = 0;
      return;
    }
    const od = this.cfg.outlier_detection;
    if (++this.consecutiveFailures < od.consecutive_failures || !od.enabled || this.ejectedUntil > Date.now() || !mayEject()) return;
    this.ejections++;
    this.ejectedUntil = Date.now() + od.base_ejection_time * this.ejections;
    this.consecutiveFailures = 0;
    this.log.warn({ replica: this.id, forMs: od.base_ejection_time * this.ejections }, 'replica ejected after consecutive failures');
    this.listener.stateChanged(this);
  }

  /** Active health checks: MCP ping on the catalog session (or the in-process backend's own check). */
  private startHealthChecks(): void {
    const hc = this.cfg.health_check;
    if (!hc.enabled || this.healthTimer) return;
    this.healthTimer = setInterval(() => void this.checkOnce(), hc.interval);
    this.healthTimer.unref();
  }

  private async checkOnce(): Promise<void> {
    const hc = this.cfg.health_check;
    const conn = this.catalogConn;
    if (this.state !== 'up' || !conn) return;
    let ok: boolean;
    if (this.transports.health) ok = (await this.checkHealth())?.ok ?? true;
    else ok = await this.probe(conn, hc.timeout).then(() => true, () => false);
    if (ok) {
      this.healthFail = 0;
      if (!this.healthy && ++this.healthOk >= hc.healthy_threshold) {
        this.healthy = true;
        this.log.info({ replica: this.id }, 'replica healthy again');
        this.listener.stateChanged(this);
      }
    } else {
      this.healthOk = 0;
      if (this.healthy && ++this.healthFail >= hc.unhealthy_threshold) {
        this.healthy = false;
        this.log.warn({ replica: this.id, failures: this.healthFail }, 'replica failed its health checks; out of rotation');
        this.listener.stateChanged(this);
      }
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.healthTimer);
    this.healthTimer = undefined;
    this.state = 'stopped';
    clearTimeout(this.retryTimer);
    clearTimeout(this.refreshTimer);
    clearTimeout(this.ttlTimer);
    clearInterval(this.poolSweeper);
    this.poolSweeper = undefined;
    const all = [...this.perClient];
    this.perClient.clear();
    this.pool.clear();
    await Promise.all([this.catalogConn?.close('gateway stopping'), ...all.map((c) => c.close('gateway stopping'))]);
    this.catalogConn = undefined;
    await this.transports.stop?.();
  }

  /**
   * Opens a new backend session for a client session. `owner` receives what the backend
   * sends on it; the client's own capabilities and info are passed through, so the
   * backend offers that client what it would offer it directly.
   */
  async openSession(owner: ConnectionOwner, capabilities: Record<string, unknown>, clientInfo: Record<string, unknown>, protocolVersion: string): Promise<BackendConnection> {
    if (this.state !== 'up') {
      throw new GatewayError('MCPEG_ERR_BACKEND_UNAVAILABLE', `backend "${this.name}" is ${this.state}${this.lastError ? `: ${this.lastError}` : ''}`, { backend: this.name, state: this.state });
    }
    const conn = await this.connect(owner, capabilities, clientInfo, protocolVersion);
    this.perClient.add(conn);
    return conn;
  }

  /**
   * A backend session for a stateless (2026-07-28) client on this stateful replica. The
   * session is opened with the client's capabilities and shared only by clients that
   * declare the same ones (a backend offers tools by capability). A session that may
   * carry requests to the client (sampling, elicitation, roots declared) takes one call
   * at a time, so such a request is tied to the call that caused it; up to
   * stateless_pool_size sessions per capability set, least busy first after that.
   */
  async pooled(capabilities: Record<string, unknown>, clientInfo: Record<string, unknown>): Promise<{ conn: BackendConnection; release: () => void }> {
    const key = canonicalJson(capabilities);
    let entries = this.pool.get(key);
    if (!entries) this.pool.set(key, (entries = []));
    const exclusive = ['sampling', 'elicitation', 'roots'].some((c) => capabilities[c] !== undefined);
    const max = exclusive ? (this.cfg.stateless_pool_size ?? 8) : 1;
    let entry = entries.find((e) => e.busy === 0 && (e.conn === undefined || e.conn.inflight === 0));
    if (!entry && entries.length < max) {
      const e: PoolEntry = { busy: 0, conn: undefined, opening: undefined, lastUsed: Date.now() };
      e.opening = this.openSession(this, capabilities, clientInfo, LATEST_VERSION).then(
        (c) => ((e.conn = c), (e.opening = undefined), c),
        (err: unknown) => {
          entries!.splice(entries!.indexOf(e), 1);
          throw err;
        },
      );
      entries.push(e);
      entry = e;
      if (!this.poolSweeper) {
        this.poolSweeper = setInterval(() => this.sweepPool(), Math.max(1000, Math.min(60_000, this.cfg.idle_timeout / 2)));
        this.poolSweeper.unref();
      }
    }
    entry ??= entries.reduce((a, b) => (a.busy <= b.busy ? a : b));
    const chosen = entry;
    chosen.busy++;
    chosen.lastUsed = Date.now();
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      chosen.busy--;
      chosen.lastUsed = Date.now();
      this.sweepPool();
    };
    try {
      const conn = chosen.conn && !chosen.conn.isClosed ? chosen.conn : await (chosen.opening ?? Promise.reject(new GatewayError('MCPEG_ERR_BACKEND_CLOSED', `backend "${this.name}": pooled session closed`, { backend: this.name, notSent: true })));
      return { conn, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Closes pooled sessions idle longer than the backend's idle_timeout. */
  private sweepPool(): void {
    const now = Date.now();
    for (const [key, entries] of this.pool) {
      for (const e of [...entries]) {
        if (e.busy === 0 && e.conn && (e.conn.isClosed || (e.conn.inflight === 0 && now - e.lastUsed > this.cfg.idle_timeout))) {
          entries.splice(entries.indexOf(e), 1);
          void e.conn.close('idle');
        }
      }
      if (entries.length === 0) this.pool.delete(key);
    }
    if (this.pool.size === 0) {
      clearInterval(this.poolSweeper);
      this.poolSweeper = undefined;
    }
  }

  /** The backend's own health hook (plugins), bounded to 2 s; undefined when it has none. */
  async checkHealth(): Promise<{ ok: boolean; detail?: string } | undefined> {
    if (!this.transports.health) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<{ ok: boolean; detail: string }>((r) => (timer = setTimeout(() => r({ ok: false, detail: 'health check timed out after 2 s' }), 2000)));
    try {
      return await Promise.race([this.transports.health().catch((err: unknown) => ({ ok: false, detail: (err as Error).message })), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Pids of this backend's live child processes (stdio backends): catalog session first. */
  pids(): number[] {
    return [this.catalogConn, ...this.perClient].map((c) => c?.pid()).filter((p): p is number => typeof p === 'number');
  }

  /**
   * A call through one of this backend's sessions failed at the transport level. HTTP
   * backends hold no connection that would tell us they died, so check the catalog
   * session with a ping; if that fails too, the backend is down (catalog emptied,
   * clients notified, reconnects with backoff).
   */
  reportTransportFailure(): void {
    const conn = this.catalogConn;
    if (!conn || this.state !== 'up' || this.probing) return;
    this.probing = true;
    this.probe(conn, Math.min(this.cfg.timeout, 5000))
      .then(
        () => undefined,
        (err: unknown) => {
          if (this.catalogConn === conn) void conn.close(`health probe failed: ${(err as Error).message}`);
        },
      )
      .finally(() => (this.probing = false));
  }

  /** Is the backend alive: ping, or server/discover on the stateless revision (which has no ping). */
  private probe(conn: BackendConnection, timeoutMs: number): Promise<unknown> {
    return conn.request(conn.stateless ? 'server/discover' : 'ping', undefined, { timeoutMs });
  }

  owns(conn: BackendConnection): boolean {
    return conn === this.catalogConn || this.perClient.has(conn);
  }

  forgetSession(conn: BackendConnection): void {
    this.perClient.delete(conn);
  }

  private async connect(owner: ConnectionOwner, capabilities: Record<string, unknown>, clientInfo: Record<string, unknown>, protocolVersion: string, probe = false): Promise<BackendConnection> {
    try {
      return await this.connectOnce(this.kind, owner, capabilities, clientInfo, protocolVersion, probe);
    } catch (err) {
      const next = this.transports.fallback?.(this.kind, err);
      if (next) {
        this.log.info({ err: (err as Error).message, from: this.kind, to: next }, 'transport refused; falling back');
        const conn = await this.connectOnce(next, owner, capabilities, clientInfo, protocolVersion, probe);
        this.kind = next;
        return conn;
      }
      throw err;
    }
  }

  private async connectOnce(kind: TransportKind, owner: ConnectionOwner, capabilities: Record<string, unknown>, clientInfo: Record<string, unknown>, protocolVersion: string, probe: boolean): Promise<BackendConnection> {
    const opened = await this.transports.create(kind);
    const conn = new BackendConnection(this.name, opened.transport, owner);
    conn.pid = () => opened.pid;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new GatewayError('MCPEG_ERR_BACKEND_TIMEOUT', `backend "${this.name}" did not complete initialize within ${this.cfg.connect_timeout} ms`, { backend: this.name })), this.cfg.connect_timeout);
    });
    try {
      await Promise.race([
        (async () => {
          await conn.start().catch((err: unknown) => {
            throw new GatewayError('MCPEG_ERR_BACKEND_UNAVAILABLE', `backend "${this.name}" could not be started: ${(err as Error).message}`, { backend: this.name });
          });
          const lifecycle = this.cfg.protocol ?? 'stateful';
          // Version negotiation: the stateless revision when the server offers it (server/discover), else initialize.
          if (probe && lifecycle !== 'stateful' && kind !== 'sse' && kind !== 'inprocess') {
            if (await conn.discover(STATELESS_VERSION, { capabilities, clientInfo }, this.cfg.connect_timeout, (v) => opened.setProtocolVersion(v))) {
              opened.setParamHeaders?.((tool) => paramHeadersOf(this.catalog.tools.find((t) => t.name === tool)));
              return;
            }
            if (lifecycle === 'stateless') {
              throw new GatewayError('MCPEG_ERR_BACKEND_UNAVAILABLE', `backend "${this.name}" does not offer protocol ${STATELESS_VERSION} on server/discover (protocol: stateless is configured)`, { backend: this.name });
            }
          }
          await conn.initialize({ protocolVersion, capabilities, clientInfo }, this.cfg.connect_timeout, (init) => {
            if (!isSupportedVersion(init.protocolVersion)) {
              throw new GatewayError('MCPEG_ERR_BACKEND_UNAVAILABLE', `backend "${this.name}" answered initialize with protocol version ${init.protocolVersion}, which the gateway does not speak (${SUPPORTED_VERSIONS.join(', ')})`, { backend: this.name });
            }
            // MCP-Protocol-Version on every HTTP request after initialize, notifications/initialized included.
            opened.setProtocolVersion(init.protocolVersion);
          });
        })(),
        deadline,
      ]);
      return conn;
    } catch (err) {
      await conn.close('initialize failed');
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private async listAll(conn: BackendConnection): Promise<BackendCatalog> {
    const caps = conn.initializeResult?.capabilities ?? {};
    const out: Record<string, Item[]> = { tools: [], resources: [], resourceTemplates: [], prompts: [] };
    // The shortest positive ttlMs, and whether some list may not be cached at all (0 or no hint).
    let ttl = Infinity;
    let uncached = false;
    await Promise.all(
      LISTS.filter((l) => caps[l.capability]).map(async (l) => {
        let cursor: unknown;
        for (let page = 0; page < MAX_LIST_PAGES; page++) {
          const r = await conn.request(l.method, cursor ? { cursor } : undefined, { timeoutMs: this.cfg.timeout }).catch((err: unknown) => {
            // A server with resources but no templates may not implement templates/list at all.
            if (err instanceof RemoteRpcError && err.code === -32601) return {} as Record<string, unknown>;
            throw err;
          });
          const items = r[l.kind];
          if (Array.isArray(items)) out[l.kind].push(...(items as Item[]));
          if (typeof r.ttlMs === 'number' && r.ttlMs > 0) ttl = Math.min(ttl, r.ttlMs);
          else uncached = true;
          cursor = r.nextCursor;
          if (!cursor) break;
        }
      }),
    );
    if (conn.stateless) this.scheduleTtlRefresh(ttl, uncached, caps);
    return Object.freeze({ tools: out.tools, resources: out.resources, resourceTemplates: out.resourceTemplates, prompts: out.prompts });
  }

  /**
   * Caching hints (SEP-2549) keep a stateless backend's catalog fresh: it is listed again
   * when the shortest positive ttlMs of its lists runs out (at least 1 s apart). Lists
   * with ttlMs 0 or no hint are not polled when the backend announces list changes
   * (subscriptions/listen triggers the refresh); otherwise a slow fallback interval applies.
   */
  private scheduleTtlRefresh(ttl: number, uncached: boolean, caps: Record<string, unknown>): void {
    clearTimeout(this.ttlTimer);
    const announces = ['tools', 'prompts', 'resources'].some((k) => (caps[k] as { listChanged?: boolean } | undefined)?.listChanged);
    let every = Number.isFinite(ttl) ? Math.max(MIN_TTL_REFRESH_MS, ttl) : Infinity;
    if (uncached && !announces) every = Math.min(every, DEFAULT_REFRESH_MS);
    if (!Number.isFinite(every)) return;
    this.ttlTimer = setTimeout(() => this.refreshCatalog(), every);
    this.ttlTimer.unref();
  }

  /**
   * subscriptions/listen (2026-07-28): the stateless revision's stream for list_changed.
   * Re-opened after a pause if the backend ends it while the replica is up.
   */
  private listen(conn: BackendConnection): void {
    const caps = conn.initializeResult?.capabilities ?? {};
    const flag = (k: string) => Boolean((caps[k] as { listChanged?: boolean } | undefined)?.listChanged);
    const notifications = { toolsListChanged: flag('tools'), promptsListChanged: flag('prompts'), resourcesListChanged: flag('resources') };
    if (!notifications.toolsListChanged && !notifications.promptsListChanged && !notifications.resourcesListChanged) return;
    if (this.listening === conn) return;
    this.listening = conn;
    conn.request('subscriptions/listen', { notifications }, { timeoutMs: 0 }).then(
      () => undefined,
      (err: unknown) => this.log.debug({ err: (err as Error).message }, 'subscriptions/listen ended'),
    ).finally(() => {
      if (this.listening !== conn) return;
      this.listening = undefined;
      if (this.catalogConn === conn && !conn.isClosed && this.state === 'up') {
        setTimeout(() => {
          if (this.catalogConn === conn && !conn.isClosed) this.listen(conn);
        }, 5000).unref();
      }
    });
  }

  /** Re-lists the catalog, coalescing bursts of list_changed notifications. */
  refreshCatalog(): void {
    if (this.refreshTimer || this.state !== 'up') return;
    this.refreshTimer = setTimeout(async () => {
      this.refreshTimer = undefined;
      const conn = this.catalogConn;
      if (!conn || conn.isClosed) return;
      try {
        this.catalog = await this.listAll(conn);
        this.listener.catalogChanged(this);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'catalog refresh failed');
      }
    }, 20);
  }

  // --- ConnectionOwner for the catalog (and shared-mode) connection ---

  async onRequest(_conn: BackendConnection, req: JsonRpcRequest, ctx: { tag: unknown; signal: AbortSignal }): Promise<Record<string, unknown>> {
    if (req.method === 'ping') return {};
    const tag = ctx.tag as CallTag | undefined;
    if (tag) return tag.link.requestClient(req.method, req.params, tag.requestId, ctx.signal);
    if (req.method === 'roots/list') return { roots: [] };
    throw new GatewayError('MCPEG_ERR_CLIENT_UNREACHABLE', `backend "${this.name}" sent ${req.method} outside any client call, so no client can answer it`, { backend: this.name, method: req.method });
  }

  onNotification(conn: BackendConnection, n: JsonRpcNotification): void {
    switch (n.method) {
      case 'notifications/tools/list_changed':
      case 'notifications/prompts/list_changed':
      case 'notifications/resources/list_changed':
        this.refreshCatalog();
        return;
      case 'notifications/resources/updated':
        if (n.params) this.listener.resourceUpdated(this, n.params);
        return;
      case 'notifications/message': {
        // A stateless backend logs only for requests whose envelope asked (logLevel): relay to that call's client.
        const tag = conn.stateless ? (conn.soleInflightTag() as CallTag | undefined) : undefined;
        if (tag) tag.link.notifyClient({ ...n, params: { ...n.params, logger: n.params?.logger ? `${this.name}/${String(n.params.logger)}` : this.name } }, tag.requestId);
        else this.log.info({ mcpLog: n.params }, 'backend log message');
        return;
      }
      default:
        void conn;
    }
  }

  onClose(conn: BackendConnection, reason: string): void {
    if (conn !== this.catalogConn) {
      // A pooled session (stateless clients) ended: the next call opens another.
      this.perClient.delete(conn);
      for (const [key, entries] of this.pool) {
        const i = entries.findIndex((e) => e.conn === conn);
        if (i >= 0) entries.splice(i, 1);
        if (entries.length === 0) this.pool.delete(key);
      }
      return;
    }
    this.catalogConn = undefined;
    if (this.state === 'stopped') return;
    this.lastError = reason;
    this.log.error({ reason }, 'backend connection lost');
    this.catalog = EMPTY_CATALOG;
    this.setState('down');
    this.listener.catalogChanged(this);
    this.scheduleRestart();
  }

  private setState(s: BackendState): void {
    if (this.state === s || this.state === 'stopped') return;
    this.state = s;
    this.listener.stateChanged(this);
  }

  private scheduleRestart(): void {
    if (this.state === 'stopped') return;
    const { initial_delay, max_delay, max_attempts } = this.cfg.restart;
    if (max_attempts > 0 && this.attempt >= max_attempts) {
      this.log.error({ attempts: this.attempt }, 'backend restart attempts exhausted');
      return;
    }
    const base = Math.min(max_delay, initial_delay * 2 ** this.attempt);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.attempt++;
    this.restarts++;
    this.log.info({ delayMs: delay, attempt: this.attempt }, 'backend restart scheduled');
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.start(), delay);
    this.retryTimer.unref();
  }
}
