/**
 * A backend as the router sees it: one name, one catalog, one or more replicas behind a
 * load balancer. The catalog is served from a primary replica (replicas are copies of one
 * server); new work goes to an available replica (up, healthy, not ejected, breaker not
 * open) as the configured strategy picks. A client session's backend session stays on
 * the replica it was opened on while that replica is available (session affinity).
 */
import type { BackendOptions } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { backendOutput, type BackendOutput } from '../observability/backend-output.js';
import { EMPTY_CATALOG, type BackendCatalog, type Item, type ListKind } from './catalog.js';

const toolIndex = new WeakMap<BackendCatalog, Map<string, Item>>();
import type { TransportFactory, TransportKind } from '../transport/outbound/connect.js';
import { RetryBudget } from '../resilience/retry.js';
import { createBalancer, type Balancer } from './balancer.js';
import type { BackendConnection, ConnectionOwner, InitializeResult } from './connection.js';
import { Replica, type BackendState, type ReplicaListener } from './replica.js';
import { ProcessPool } from './process-pool.js';
import type { CredentialSource } from './credentials/source.js';
import type { UpstreamCredential } from '../auth/upstream-credential.js';

export { GATEWAY_INFO, type BackendState } from './replica.js';

export interface BackendListener {
  catalogChanged(b: Backend, announced?: ReadonlySet<ListKind>): void;
  stateChanged(b: Backend): void;
  resourceUpdated(b: Backend, params: Record<string, unknown>): void;
}

/** max_processes when the config sets none: a modest ceiling, above what the replicas keep for themselves. */
export const DEFAULT_MAX_PROCESSES = 16;

export interface ReplicaSpec {
  transports: TransportFactory;
  weight: number;
  /** Its tier (a DNS SRV record's priority): lower tiers take the work while any of their replicas is available. Default 0. */
  priority?: number;
  /** Where it is (a discovered replica's URL): how discovery recognises it in its next result. */
  key?: string;
}

export class Backend {
  readonly name: string;
  readonly cfg: BackendOptions;
  readonly prefix: string;
  /** Replaced, never mutated, when discovery adds or removes one: a loop over it sees one set. */
  private set: readonly Replica[];
  private nextIndex: number;
  private readonly log: Logger;
  private readonly events: ReplicaListener;
  readonly retryBudget: RetryBudget;
  /** Calls in flight across replicas (the bulkhead counts them). */
  inflight = 0;
  /** Client sessions' child processes, bounded by max_processes: stdio backends in per_client mode (process-pool.ts). */
  readonly processes: ProcessPool | undefined;
  /** Per-user upstream credentials (`credentials` in its config), if any: the relay and per-client sessions ask it. */
  readonly credentials: CredentialSource | undefined;
  /** What it makes the gateway log (stderr lines, log messages), bounded for all its replicas and processes together. */
  readonly output: BackendOutput;
  private primary: Replica | undefined;
  /**
   * Replicas discovery removed that are draining. While none of the set is up (a rolling
   * replacement: the new replica is still starting) an up one among them keeps taking new
   * work and stays the primary, so the backend does not go dark between the two.
   */
  private readonly leaving = new Set<Replica>();
  private readonly balancer: Balancer;
  private readonly listener: BackendListener;
  private stopped = false;
  /** start() was called: replicas added later start at once. */
  private started = false;

  /** `output`: the one its transports were given (`backendOutput`); a default one when they log nothing of the backend's. */
  constructor(name: string, cfg: BackendOptions, specs: ReplicaSpec[], log: Logger, listener: BackendListener, credentials?: CredentialSource, output?: BackendOutput) {
    this.name = name;
    this.cfg = cfg;
    this.credentials = credentials;
    this.output = output ?? backendOutput(name, log);
    this.prefix = cfg.prefix ?? name;
    this.listener = listener;
    this.balancer = createBalancer(cfg.load_balancing.strategy);
    this.retryBudget = new RetryBudget({
      ratio: (cfg as { retries?: { budget_ratio: number } }).retries?.budget_ratio ?? 0.2,
      minPerSecond: (cfg as { retries?: { budget_min_per_second: number } }).retries?.budget_min_per_second ?? 3,
    });
    const events: ReplicaListener = {
      catalogChanged: (r, announced) => {
        if (r === this.primary || this.elect()) this.listener.catalogChanged(this, announced);
      },
      stateChanged: () => {
        const changed = this.elect();
        this.listener.stateChanged(this);
        if (changed) this.listener.catalogChanged(this);
      },
      resourceUpdated: (_r, params) => this.listener.resourceUpdated(this, params),
    };
    this.log = log;
    this.events = events;
    this.set = specs.map((s, i) => {
      const r = new Replica(name, i, s.weight, cfg, s.transports, log, events, s.key, this.output);
      r.priority = s.priority ?? 0;
      return r;
    });
    this.nextIndex = specs.length;
    const stdio = specs.length > 0 && specs.every((s) => s.transports.initialKind === 'stdio');
    this.processes =
      stdio && cfg.session_mode === 'per_client'
        ? new ProcessPool({
            backend: name,
            max: cfg.max_processes ?? Math.max(DEFAULT_MAX_PROCESSES, specs.length + 1),
            reserved: specs.length,
            idleMs: cfg.process_idle_timeout ?? cfg.idle_timeout,
            defaultWaitMs: cfg.timeout,
          })
        : undefined;
  }

  get replicas(): readonly Replica[] {
    return this.set;
  }

  /**
   * Discovery: a new replica joins (it takes work once it is up; its catalog, if it
   * becomes the primary, is announced with list_changed). Ids are never reused.
   */
  addReplica(spec: ReplicaSpec): Replica {
    const r = new Replica(this.name, this.nextIndex++, spec.weight, this.cfg, spec.transports, this.log, this.events, spec.key, this.output);
    r.priority = spec.priority ?? 0;
    this.set = [...this.set, r];
    if (this.started && !this.stopped) void r.start();
    return r;
  }

  /**
   * Discovery: a replica leaves. It is out of the balancer at once (new work and client
   * sessions move to the others); calls in flight on it finish within `drainMs`, then it
   * stops. Another replica becomes the primary if it was.
   */
  async removeReplica(r: Replica, drainMs: number): Promise<void> {
    if (!this.set.includes(r)) return;
    this.set = this.set.filter((x) => x !== r);
    r.retire();
    this.leaving.add(r);
    if (this.elect()) this.listener.catalogChanged(this);
    this.listener.stateChanged(this);
    const deadline = Date.now() + drainMs;
    while ((r.active > 0 || this.lastResort(r)) && !this.stopped && Date.now() < deadline) await new Promise((res) => setTimeout(res, 25));
    this.leaving.delete(r);
    await r.stop();
    if (this.elect()) this.listener.catalogChanged(this);
    this.listener.stateChanged(this);
  }

  /** A leaving replica still serves new work: it is up and no replica of the set is (one of them is on its way). */
  private lastResort(r: Replica): boolean {
    return r.state === 'up' && this.set.length > 0 && !this.set.some((x) => x.state === 'up');
  }

  /** The primary is the first up replica, kept while it stays up. True when it changed. */
  private elect(): boolean {
    const before = this.primary;
    if (before?.state !== 'up' || !this.set.includes(before)) {
      this.primary = this.replicas.find((r) => r.state === 'up') ?? (before && this.leaving.has(before) && this.lastResort(before) ? before : undefined);
    }
    return this.primary !== before;
  }

  get state(): BackendState {
    if (this.stopped) return 'stopped';
    if (this.replicas.some((r) => r.state === 'up') || this.lastResortReplica()) return 'up';
    // A discovered backend before its first result: nothing to start yet.
    if (this.replicas.length === 0) return 'starting';
    return this.replicas.some((r) => r.state === 'starting') ? 'starting' : 'down';
  }

  get catalog(): BackendCatalog {
    return this.primary?.catalog ?? EMPTY_CATALOG;
  }

  get info(): InitializeResult | undefined {
    return this.primary?.info;
  }

  /** The primary replica speaks the stateless revision (2026-07-28): calls carry the client in an envelope. */
  get stateless(): boolean {
    return this.primary?.stateless ?? false;
  }

  /** The primary speaks only 2026-07-28: stateful clients are bridged rather than given sessions of their own. */
  get statelessOnly(): boolean {
    return this.primary?.statelessOnly ?? false;
  }

  /** A tool of the catalog by its own name (indexed once per catalog). */
  toolByName(name: string): Item | undefined {
    const cat = this.catalog;
    let index = toolIndex.get(cat);
    if (!index) toolIndex.set(cat, (index = new Map(cat.tools.map((t) => [String(t.name), t]))));
    return index.get(name);
  }

  get capabilities(): Record<string, unknown> | undefined {
    return this.primary?.capabilities;
  }

  get lastError(): string | undefined {
    return this.primary?.lastError ?? this.replicas.find((r) => r.lastError)?.lastError;
  }

  /** Why the catalog's last re-list failed on the replica it is listed from, until one succeeds: the catalog served is the one before. */
  get catalogFailure(): { readonly error: string; readonly at: Date } | undefined {
    return this.primary?.catalogFailure;
  }

  get restarts(): number {
    return this.replicas.reduce((n, r) => n + r.restarts, 0);
  }

  get transportKind(): TransportKind {
    return (this.primary ?? this.replicas[0])?.transportKind ?? 'streamable_http';
  }

  async start(): Promise<void> {
    this.started = true;
    await Promise.all(this.replicas.map((r) => r.start()));
  }

  /** Out of the set (a reload replaced or removed it): its client processes close as their calls end; stop() follows the drain. */
  retire(): void {
    this.processes?.retireAll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.processes?.stop();
    await Promise.all(this.replicas.map((r) => r.stop()));
    // Processes still starting are closed as they come up: wait for them, so a reload's new backend never adds to them.
    await this.processes?.drained(this.cfg.connect_timeout + 5000);
    this.output.close();
  }

  /**
   * The replica for new work: the balancer's choice among available replicas (`key` for
   * hash), else any replica that is up (a breaker that is open fails the call fast with
   * its own error rather than the gateway pretending the backend is gone).
   */
  pick(key?: string, exclude?: Replica): Replica | undefined {
    const chosen = this.pickInSet(key, exclude);
    if (this.leaving.size === 0 || chosen?.state === 'up') return chosen;
    const last = this.lastResortReplica();
    return last && last !== exclude ? last : chosen;
  }

  private pickInSet(key?: string, exclude?: Replica): Replica | undefined {
    if (this.replicas.length === 1) {
      const only = this.replicas[0];
      return only === exclude ? undefined : only;
    }
    const candidates = exclude ? this.replicas.filter((r) => r !== exclude) : this.replicas;
    return (this.balancer.pick(tier(candidates), key) as Replica | undefined) ?? lowestUp(candidates);
  }

  /** The leaving replica that serves while none of the set is up (see `leaving`). */
  private lastResortReplica(): Replica | undefined {
    for (const r of this.leaving) if (this.lastResort(r)) return r;
    return undefined;
  }

  /** Whether another replica could take this one's work. */
  hasAlternative(r: Replica): boolean {
    return this.replicas.some((x) => x !== r && x.available);
  }

  /** Outlier ejection may take at most max_ejection_percent of the replicas out (never the last). */
  mayEject = (): boolean => {
    const now = Date.now();
    const ejected = this.replicas.filter((r) => r.ejectedUntil > now).length + 1;
    // Another replica must remain to take the work (Envoy's panic threshold, simplified).
    const othersAvailable = this.replicas.filter((r) => r.available).length - 1;
    return othersAvailable >= 1 && (ejected / this.replicas.length) * 100 <= this.cfg.outlier_detection.max_ejection_percent;
  };

  openSession(
    replica: Replica,
    owner: ConnectionOwner,
    capabilities: Record<string, unknown>,
    clientInfo: Record<string, unknown>,
    protocolVersion: string,
    /** Per-user credentials of the principal the session is for (backends with `credentials`). */
    credential?: () => Promise<UpstreamCredential | undefined>,
  ): Promise<BackendConnection> {
    return replica.openSession(owner, capabilities, clientInfo, protocolVersion, credential);
  }

  replicaOf(conn: BackendConnection): Replica | undefined {
    // Not the lone replica blindly: one that discovery removed may still own the connection.
    return this.replicas.find((r) => r.owns(conn));
  }

  forgetSession(conn: BackendConnection): void {
    this.replicaOf(conn)?.forgetSession(conn);
  }

  /** The primary's own health hook (plugins, REST health checks). */
  checkHealth(): Promise<{ ok: boolean; detail?: string } | undefined> {
    return (this.primary ?? this.replicas[0])?.checkHealth() ?? Promise.resolve(undefined);
  }

  pids(): number[] {
    return this.replicas.flatMap((r) => r.pids());
  }

  refreshCatalog(announced?: readonly ListKind[]): void {
    this.primary?.refreshCatalog(announced);
  }

  /** Per-replica state for /health, metrics and the admin API. */
  replicaStates(): Array<{
    id: string;
    state: BackendState;
    available: boolean;
    healthy: boolean;
    ejected: boolean;
    breaker: string | undefined;
    active: number;
    weight: number;
    priority: number;
    restarts: number;
    error: string | undefined;
    /** A discovered replica's URL. */
    endpoint?: string;
  }> {
    const now = Date.now();
    return this.replicas.map((r) => ({
      id: r.id,
      state: r.state,
      available: r.available,
      healthy: r.healthy,
      ejected: r.ejectedUntil > now,
      breaker: r.breaker?.state,
      active: r.active,
      weight: r.weight,
      priority: r.priority,
      restarts: r.restarts,
      error: r.lastError,
      ...(r.key !== undefined ? { endpoint: r.key } : {}),
    }));
  }
}

/**
 * The candidates of the lowest priority that has one available (RFC 2782: "a client MUST
 * attempt to contact the target host with the lowest-numbered priority it can reach";
 * higher priorities only when every lower one is down). One priority (the usual case): the
 * candidates as they are, without allocating. None available: all of them (the balancer
 * finds none, and the caller falls back to one that is up).
 */
function tier(cs: readonly Replica[]): readonly Replica[] {
  // One priority: nothing more read (availability is a clock read and a breaker check; the balancer reads it anyway).
  let i = 1;
  while (i < cs.length && cs[i].priority === cs[0].priority) i++;
  if (i >= cs.length) return cs;
  let lowest = Infinity;
  for (const r of cs) if (r.priority < lowest && r.available) lowest = r.priority;
  if (lowest === Infinity) return cs;
  return cs.filter((r) => r.priority === lowest);
}

/** An up replica of the lowest priority (a breaker that is open fails the call fast with its own error). */
function lowestUp(cs: readonly Replica[]): Replica | undefined {
  let best: Replica | undefined;
  for (const r of cs) if (r.state === 'up' && (best === undefined || r.priority < best.priority)) best = r;
  return best;
}
