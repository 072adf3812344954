/**
 * One replica of a backend (most backends have one): its state, start and stop, restart
 * with backoff when its catalog session fails or ends, its circuit breaker, and the
 * sessions the protocol layer opens on it. The catalog session is the gateway's own
 * session with the replica: it lists what the replica offers, follows its list_changed
 * notifications, carries its health probes and, in `shared` mode, every client's calls.
 *
 * The other jobs have their own files, wired here: handshake.ts opens a session,
 * catalog-sync.ts keeps the catalog current, health.ts holds health checks and outlier
 * ejection, session-pool.ts the sessions of stateless clients. backend.ts groups replicas
 * into the backend the router sees.
 */
import { GatewayError, RemoteRpcError } from '../errors/catalog.js';
import type { BackendOptions } from '../config/schema.js';
import { asError } from '../util/as-error.js';
import type { Logger } from '../observability/logger.js';
import { backendOutput, type BackendOutput } from '../observability/backend-output.js';
import type { JsonRpcNotification, JsonRpcRequest } from '../wire/jsonrpc.js';
import { LATEST_VERSION } from '../wire/versions.js';
import { VERSION } from '../version.js';
import { announcedLists, EMPTY_CATALOG, type BackendCatalog, type ListKind } from './catalog.js';
import type { TransportFactory, TransportKind } from '../transport/outbound/connect.js';
import type { CallTag } from './client-link.js';
import type { BackendConnection, ConnectionOwner, InitializeResult } from './connection.js';
import { CircuitBreaker } from '../resilience/circuit-breaker.js';
import { backoffDelay } from '../resilience/backoff.js';
import { Handshake, type Peer } from './handshake.js';
import { CatalogSync } from './catalog-sync.js';
import { ReplicaHealth } from './health.js';
import { SessionPool, type PoolOwner } from './session-pool.js';
import { ResourceWatch, type Holder } from './resource-watch.js';

/**
 * A replica's last error, as health, the log and the clients refused while it is down see it:
 * cut at this length, since a backend writes much of it (an error answer's message may be as
 * long as a message, 64 MiB).
 */
const MAX_LAST_ERROR = 1000;
const brief = (text: string): string => (text.length > MAX_LAST_ERROR ? `${text.slice(0, MAX_LAST_ERROR)}…` : text);
export type BackendState = 'starting' | 'up' | 'down' | 'stopped';

export interface ReplicaListener {
  /** `announced`: lists the backend said changed (list_changed), whether or not the re-listed catalog differs. */
  catalogChanged(r: Replica, announced?: ReadonlySet<ListKind>): void;
  stateChanged(r: Replica): void;
  resourceUpdated(r: Replica, params: Record<string, unknown>): void;
}

export const GATEWAY_INFO = { name: 'mcpeg', version: VERSION } as const;

/** What the gateway declares on its own sessions: everything it can relay to clients. */
const CATALOG_CAPABILITIES = { roots: { listChanged: true }, sampling: {}, elicitation: { form: {}, url: {} } };
/** Restarts wait initial_delay·2^attempt (up to max_delay), ±20 % so that replicas that failed together do not restart in lockstep. */
const RESTART_JITTER = 0.2;

export class Replica implements ConnectionOwner {
  readonly name: string;
  /** Index within the backend; `id` names it in logs, metrics and the balancer. */
  readonly index: number;
  readonly id: string;
  /** Its share of the work (weighted and hash strategies); discovery may change it. */
  weight: number;
  /** Its tier: new work goes to the lowest tier with a replica available (DNS SRV priority; 0 otherwise). Discovery may change it. */
  priority = 0;
  /** Where it is, for a discovered replica (its URL): discovery matches its next result by it. */
  readonly key: string | undefined;
  /** Discovery removed it: it takes no new work and stops once its calls drain. */
  private retired = false;
  readonly cfg: BackendOptions;
  readonly prefix: string;
  /** Requests in flight on this replica (least_connections, metrics). */
  active = 0;
  readonly breaker: CircuitBreaker | undefined;
  readonly health: ReplicaHealth;
  state: BackendState = 'starting';
  catalog: BackendCatalog = EMPTY_CATALOG;
  info: InitializeResult | undefined;
  lastError: string | undefined;
  restarts = 0;
  /** The backend speaks the stateless revision (learned from server/discover at start). */
  stateless = false;
  /**
   * Whether a backend that speaks 2026-07-28 also offers initialize (the older
   * lifecycle): stateful clients get stateful sessions of their own when it does, and
   * are bridged when it does not. Unknown (undefined) until the first such session is
   * tried, with `protocol: auto`; false with `protocol: stateless`.
   */
  private statefulOffered: boolean | undefined;
  /** `shared` mode on a backend offering both lifecycles: the stateful session stateful clients share. */
  /** A refused client initialize being checked against the gateway's own (see confirmRefusal). */
  private confirming: Promise<void> | undefined;
  private sharedStateful: { conn: Promise<BackendConnection>; opened: BackendConnection | undefined } | undefined;
  private catalogConn: BackendConnection | undefined;
  /** Sessions opened on it for clients (and for the pool), closed when it stops. */
  private readonly perClient = new Set<BackendConnection>();
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  /** A start in progress: stop() waits for it, so that no process of a stopped replica outlives stop(). */
  private starting: Promise<void> | undefined;
  private readonly log: Logger;
  private readonly output: BackendOutput;
  private readonly listener: ReplicaListener;
  private readonly transports: TransportFactory;
  private readonly handshake: Handshake;
  private readonly sync: CatalogSync;
  private readonly pool: SessionPool;
  private readonly resources: ResourceWatch;

  /** `output`: its backend's log budget, shared by its replicas (the defaults, for this replica alone, without). */
  constructor(
    name: string,
    index: number,
    weight: number,
    cfg: BackendOptions,
    transports: TransportFactory,
    log: Logger,
    listener: ReplicaListener,
    key?: string,
    output?: BackendOutput,
  ) {
    this.name = name;
    this.output = output ?? backendOutput(name, log);
    this.key = key;
    this.index = index;
    this.id = `${name}#${index}`;
    this.weight = weight;
    this.cfg = cfg;
    this.prefix = cfg.prefix ?? name;
    this.transports = transports;
    this.log = index === 0 ? log.child({ backend: name }) : log.child({ backend: name, replica: index });
    this.listener = listener;
    const cb = cfg.circuit_breaker;
    this.breaker = cb.enabled
      ? new CircuitBreaker({
          failureRateThreshold: cb.failure_rate_threshold,
          minimumRequests: cb.minimum_requests,
          windowMs: cb.window,
          coolDownMs: cb.cool_down,
          halfOpenProbes: cb.half_open_probes,
          onStateChange: (from, to) => this.log.warn({ replica: this.id, from, to }, 'circuit breaker state'),
        })
      : undefined;
    const connection = () => this.catalogConn;
    const isUp = () => this.state === 'up';
    this.handshake = new Handshake(name, cfg, transports, this.log, (tool) => this.catalog.tools.find((t) => t.name === tool));
    this.sync = new CatalogSync({
      log: this.log,
      timeoutMs: cfg.timeout,
      connection,
      isUp,
      changed: (catalog, announced) => {
        this.catalog = catalog;
        this.listener.catalogChanged(this, announced);
      },
    });
    this.health = new ReplicaHealth({
      id: this.id,
      cfg,
      log: this.log,
      hook: transports.health?.bind(transports),
      connection,
      isUp,
      changed: () => this.listener.stateChanged(this),
    });
    this.resources = new ResourceWatch({ name, log: this.log, timeoutMs: cfg.timeout, connection: () => (this.stateless ? this.catalogConn : undefined) });
    this.pool = new SessionPool(name, cfg, (capabilities, clientInfo, credential) => this.openSession(this, capabilities, clientInfo, LATEST_VERSION, credential));
  }

  get capabilities(): Record<string, unknown> | undefined {
    return this.info?.capabilities;
  }

  /** Why the catalog's last re-list failed (the catalog is the one listed before), until one succeeds. */
  get catalogFailure(): { readonly error: string; readonly at: Date } | undefined {
    return this.sync.failure;
  }

  get transportKind(): TransportKind {
    return this.handshake.kind;
  }

  get sharedConnection(): BackendConnection | undefined {
    return this.catalogConn;
  }

  /** One of the connections every client of a lifecycle shares: the catalog session, or the shared stateful one (`shared` mode). */
  isSharedConnection(conn: BackendConnection): boolean {
    return conn === this.catalogConn || conn === this.sharedStateful?.opened;
  }

  /** It speaks only 2026-07-28 (it refused initialize, or `protocol: stateless`): stateful clients are bridged. */
  get statelessOnly(): boolean {
    return this.stateless && this.statefulOffered === false;
  }

  /**
   * `shared` mode, a backend that speaks both lifecycles: the one stateful session that
   * stateful clients share (opened on first use, with the gateway's identity as the
   * catalog session is), so that they get what a stateful client gets directly.
   */
  sharedStatefulConnection(): Promise<BackendConnection> {
    const open = this.sharedStateful;
    if (open && !open.opened?.isClosed) return open.conn;
    const entry: { conn: Promise<BackendConnection>; opened: BackendConnection | undefined } = {
      conn: this.openSession(this, CATALOG_CAPABILITIES, GATEWAY_INFO, LATEST_VERSION),
      opened: undefined,
    };
    this.sharedStateful = entry;
    entry.conn.then(
      (c) => (entry.opened = c),
      () => {
        if (this.sharedStateful === entry) this.sharedStateful = undefined;
      },
    );
    return entry.conn;
  }

  /** Active health checks say it is healthy (true until they say otherwise). */
  get healthy(): boolean {
    return this.health.healthy;
  }

  /** Outlier detection took it out of rotation until then (ms since epoch). */
  get ejectedUntil(): number {
    return this.health.ejectedUntil;
  }

  set ejectedUntil(v: number) {
    this.health.ejectedUntil = v;
  }

  get ejections(): number {
    return this.health.ejections;
  }

  set ejections(v: number) {
    this.health.ejections = v;
  }

  get consecutiveFailures(): number {
    return this.health.consecutiveFailures;
  }

  set consecutiveFailures(v: number) {
    this.health.consecutiveFailures = v;
  }

  /** May new work go here: up, healthy, not ejected, its breaker not open. */
  get available(): boolean {
    return !this.retired && this.state === 'up' && this.health.healthy && this.health.ejectedUntil <= Date.now() && this.breaker?.state !== 'open';
  }

  /** Out of rotation for good (discovery removed it); stop() follows once its calls drain. */
  retire(): void {
    this.retired = true;
  }

  start(): Promise<void> {
    const run = this.startOnce().finally(() => {
      if (this.starting === run) this.starting = undefined;
    });
    this.starting = run;
    return run;
  }

  private async startOnce(): Promise<void> {
    if (this.state === 'stopped') return;
    this.setState('starting');
    try {
      const conn = await this.handshake.connect(this, { capabilities: CATALOG_CAPABILITIES, clientInfo: GATEWAY_INFO, protocolVersion: LATEST_VERSION }, true);
      if ((this.state as BackendState) === 'stopped') {
        await conn.close('gateway stopping');
        return;
      }
      this.catalogConn = conn;
      this.stateless = conn.stateless !== undefined;
      this.statefulOffered = !this.stateless ? true : this.cfg.protocol === 'stateless' ? false : undefined;
      this.info = conn.initializeResult;
      this.catalog = await this.sync.list(conn);
      if (this.stateless) {
        this.sync.follow(conn);
        this.resources.follow();
      }
      this.attempt = 0;
      this.lastError = undefined;
      this.health.start();
      this.setState('up');
      this.log.info({ transport: this.handshake.kind, server: this.info?.serverInfo, tools: this.catalog.tools.length }, 'backend up');
      this.listener.catalogChanged(this);
    } catch (err) {
      this.lastError = brief((err as Error).message);
      this.log.error({ err: this.lastError }, 'backend failed to start');
      // Detach first, so closing it is not taken for a crash that schedules a second restart.
      const conn = this.catalogConn;
      this.catalogConn = undefined;
      await conn?.close('start failed');
      this.setState('down');
      this.scheduleRestart();
    }
  }

  async stop(): Promise<void> {
    this.health.stop();
    this.state = 'stopped';
    clearTimeout(this.retryTimer);
    this.sync.stop();
    this.resources.stop();
    this.pool.clear();
    this.sharedStateful = undefined;
    const all = [...this.perClient];
    this.perClient.clear();
    await Promise.all([this.catalogConn?.close('gateway stopping'), ...all.map((c) => c.close('gateway stopping')), this.starting]);
    this.catalogConn = undefined;
    // Stopping is best effort: an in-process backend whose own stop() fails (a plugin's code) is
    // logged, and the gateway's shutdown or reload goes on with the others.
    await this.transports.stop?.().catch((err: unknown) => this.log.warn({ replica: this.id, err: asError(err).message }, 'backend did not stop cleanly'));
  }

  /** Passive outlier detection: see ReplicaHealth.recordOutcome. */
  recordOutcome(failed: boolean, mayEject: () => boolean): void {
    this.health.recordOutcome(failed, mayEject);
  }

  /** A call failed at the transport level: probe the catalog session, and take the replica down if that fails too. */
  reportTransportFailure(): void {
    this.health.reportTransportFailure();
  }

  /** The backend's own health hook (plugins), bounded to 2 s; undefined when it has none. */
  checkHealth(): Promise<{ ok: boolean; detail?: string } | undefined> {
    return this.health.checkHook();
  }

  /**
   * Opens a new backend session for a client session. `owner` receives what the backend
   * sends on it; the client's own capabilities and info are passed through, so the
   * backend offers that client what it would offer it directly.
   */
  async openSession(
    owner: ConnectionOwner,
    capabilities: Record<string, unknown>,
    clientInfo: Record<string, unknown>,
    protocolVersion: string,
    credential?: Peer['credential'],
  ): Promise<BackendConnection> {
    if (this.state !== 'up') {
      throw new GatewayError('MCPEG_ERR_BACKEND_UNAVAILABLE', `backend "${this.name}" is ${this.state}${this.lastError ? `: ${this.lastError}` : ''}`, {
        backend: this.name,
        state: this.state,
      });
    }
    const conn = await this.handshake.connect(owner, { capabilities, clientInfo, protocolVersion, credential }).catch(async (err: unknown) => {
      if (this.stateless && this.statefulOffered === undefined && refusesInitialize(err)) await this.confirmRefusal();
      throw err;
    });
    if (this.stateless) this.statefulOffered = true;
    if ((this.state as BackendState) === 'stopped') {
      // Stopped while it started: stop() has closed the others already, and would never learn of this one.
      await conn.close('gateway stopping');
      throw new GatewayError('MCPEG_ERR_BACKEND_UNAVAILABLE', `backend "${this.name}" is stopped`, { backend: this.name, state: this.state });
    }
    this.perClient.add(conn);
    return conn;
  }

  /**
   * A client's initialize was refused. It carried that client's own capabilities and
   * clientInfo, which the backend may refuse to that client alone (a malformed capability,
   * a client it does not serve): the gateway's own initialize decides, once per start,
   * whether the backend offers the older lifecycle at all. Only a refusal of that one
   * bridges every stateful client (learned once per start).
   */
  private confirmRefusal(): Promise<void> {
    this.confirming ??= this.handshake
      .connect(this, { capabilities: CATALOG_CAPABILITIES, clientInfo: GATEWAY_INFO, protocolVersion: LATEST_VERSION })
      .then(
        async (c) => {
          if (this.statefulOffered === undefined) this.statefulOffered = true;
          await c.close('initialize offered');
        },
        (err: unknown) => {
          if (this.statefulOffered !== undefined || !refusesInitialize(err)) return;
          this.statefulOffered = false;
          this.log.info({ err: (err as Error).message }, 'backend speaks only protocol 2026-07-28 (initialize refused): stateful clients are bridged');
        },
      )
      .finally(() => (this.confirming = undefined));
    return this.confirming;
  }

  /**
   * A backend session for a stateless (2026-07-28) client on this stateful replica: see
   * session-pool.ts. With per-user credentials, sessions are held per principal too.
   */
  pooled(capabilities: Record<string, unknown>, clientInfo: Record<string, unknown>, owner?: PoolOwner): Promise<{ conn: BackendConnection; release: () => void }> {
    return this.pool.acquire(capabilities, clientInfo, owner);
  }

  /** resources/subscribe of a stateful client, on a replica that speaks only 2026-07-28: see resource-watch.ts. */
  watchResource(uri: string, holder: Holder): Promise<void> {
    return this.resources.subscribe(uri, holder);
  }

  unwatchResource(uri: string, holder: Holder): Promise<void> {
    return this.resources.unsubscribe(uri, holder);
  }

  /** Pids of this backend's live child processes (stdio backends): catalog session first. */
  pids(): number[] {
    return [this.catalogConn, ...this.perClient].map((c) => c?.pid()).filter((p): p is number => typeof p === 'number');
  }

  owns(conn: BackendConnection): boolean {
    return conn === this.catalogConn || this.perClient.has(conn);
  }

  forgetSession(conn: BackendConnection): void {
    this.perClient.delete(conn);
  }

  /** Re-lists the catalog, coalescing bursts of list_changed notifications (`announced`: the lists they named). */
  refreshCatalog(announced?: readonly ListKind[]): void {
    this.sync.refresh(announced);
  }

  // --- ConnectionOwner for the catalog (and shared-mode) connection, and pooled sessions ---

  async onRequest(_conn: BackendConnection, req: JsonRpcRequest, ctx: { tag: unknown; signal: AbortSignal }): Promise<Record<string, unknown>> {
    if (req.method === 'ping') return {};
    const tag = ctx.tag as CallTag | undefined;
    if (tag) return tag.link.requestClient(this.name, req.method, req.params, tag.requestId, ctx.signal);
    if (req.method === 'roots/list') return { roots: [] };
    throw new GatewayError('MCPEG_ERR_CLIENT_UNREACHABLE', `backend "${this.name}" sent ${req.method} outside any client call, so no client can answer it`, {
      backend: this.name,
      method: req.method,
    });
  }

  onNotification(conn: BackendConnection, n: JsonRpcNotification): void {
    switch (n.method) {
      case 'notifications/tools/list_changed':
      case 'notifications/prompts/list_changed':
      case 'notifications/resources/list_changed':
        this.sync.refresh(announcedLists(n.method));
        return;
      case 'notifications/resources/updated':
        if (n.params) this.listener.resourceUpdated(this, n.params);
        return;
      case 'notifications/message': {
        // A stateless backend logs only for requests whose envelope asked (logLevel): relay to that call's client.
        const tag = conn.stateless ? (conn.relatedTag() as CallTag | undefined) : undefined;
        if (tag) tag.link.notifyClient({ ...n, params: { ...n.params, logger: n.params?.logger ? `${this.name}/${String(n.params.logger)}` : this.name } }, tag.requestId);
        else this.output.message(this.log, n.params);
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
      if (this.sharedStateful?.opened === conn) this.sharedStateful = undefined;
      this.pool.remove(conn);
      return;
    }
    this.catalogConn = undefined;
    if (this.state === 'stopped') return;
    this.lastError = brief(reason);
    this.log.error({ reason: this.lastError }, 'backend connection lost');
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
    const delay = backoffDelay(this.attempt, { initialDelayMs: initial_delay, maxDelayMs: max_delay, jitter: RESTART_JITTER });
    this.attempt++;
    this.restarts++;
    this.log.info({ delayMs: delay, attempt: this.attempt }, 'backend restart scheduled');
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.start(), delay);
    this.retryTimer.unref();
  }
}

/**
 * A backend answered initialize with a refusal, not a failure: a JSON-RPC error (an SDK v2
 * server serving only the stateless revision answers -32022), an HTTP 4xx other than the ones that
 * mean "not now" or "not you", or a version the gateway does not speak.
 */
function refusesInitialize(err: unknown): boolean {
  if (err instanceof RemoteRpcError) return true;
  if (!(err instanceof GatewayError) || err.code !== 'MCPEG_ERR_BACKEND_UNAVAILABLE') return false;
  const status = err.data?.status;
  if (typeof status === 'number') return status >= 400 && status < 500 && ![401, 403, 408, 429].includes(status);
  return /answered initialize with protocol version/.test(err.message);
}
