/**
 * The composition root: createGateway(config) wires the parts. No logic lives here.
 *
 * transport in (HTTP edge, stdio) → session/protocol (SessionManager, dispatch) →
 * router (Registry, View) → upstream (Backend, BackendConnection) → backend
 */
import { Subscribers } from './protocol/subscribers.js';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import type { BackendConfig, Config, McpBackendConfig } from './config/schema.js';
import { validateConfig } from './config/load.js';
import { applySnapshot, type BackendSetHost, type ReloadResult } from './reconfigure.js';
import { createLogger, type Logger } from './observability/logger.js';
import { configSecrets } from './observability/secrets.js';
import type { DispatchOptions, SessionLimits } from './protocol/dispatch.js';
import type { ClientSession } from './protocol/session.js';
import { rateLimitBlocks } from './observability/channels.js';
import { subscribeRequestLog } from './observability/request-log.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { GatewayError } from './errors/catalog.js';
import { RateLimiter } from './resilience/rate-limiter.js';
import type { RateLimitStore } from './resilience/rate-limit-store.js';
import type { RateLimitDecision } from './resilience/rate-limiter.js';
import { MemorySessionStore, type SessionStore } from './protocol/session-store.js';
import { SessionManager } from './protocol/sessions.js';
import { ContinuationStore } from './protocol/continuation.js';
import { AGGREGATE_VIEW, backendViewId, Registry } from './router/registry.js';
import { MemoryEventStore, type EventStore } from './transport/inbound/event-store.js';
import { createHttpServer } from './edge/http-server.js';
import { LegacySseEndpoint } from './transport/inbound/legacy-sse.js';
import { serveStdio, type StdioEnd } from './transport/inbound/stdio.js';
import { BatchHold } from './transport/inbound/batch-hold.js';
import { ChannelConnection, type ChannelMessage } from './transport/inbound/channel.js';
import type { Principal } from './auth/principal.js';
import { StreamableHttpEndpoint } from './transport/inbound/streamable-http.js';
import type { Backend, BackendListener } from './upstream/backend.js';
import { backendEntries, buildBackend, type BuildDeps } from './backends/build.js';
import { protectedPathsCache } from './config/protected.js';
import { PinGuard, type PinMode } from './pinning/guard.js';
import { FilePinStore, type PinStore } from './pinning/store.js';
import { Authorization } from './authz/gate.js';
import type { InstanceBus } from './protocol/bus.js';
import { DiscoveryManager } from './discovery/manager.js';
import { endpointProvider } from './discovery/create.js';
import type { ProviderStatus } from './discovery/types.js';
import { endpointReplica } from './backends/factory.js';
import { backendSchema } from './config/schema.js';
import { formatIssues } from './config/load.js';
import { urlAllowList } from './discovery/checks.js';
import { hostPolicy, neverAllowed } from './discovery/allowed-hosts.js';
import { connectGuard } from './transport/outbound/connect-guard.js';
import type { DiscoveredBackend } from './discovery/types.js';
import { MemoryRegistrationStore, type Registration, type RegistrationStore } from './discovery/registration/store.js';
import { Registrations, type RegisterRequest } from './discovery/registration/registrations.js';
import { RegistrySource } from './discovery/registry/source.js';

export interface GatewayOptions {
  logger?: Logger;
  sessionStore?: SessionStore;
  eventStore?: EventStore;
  /** Where gateway-scope rate-limit buckets live (state.store: redis shares them); default in memory. */
  rateLimitStore?: RateLimitStore;
  /** The config file the config came from: file plugins may not touch it. */
  configFile?: string;
  /** Files the CLI writes and trusts (PID file, state file, log file): file plugins may not touch them. */
  stateFiles?: readonly string[];
  /** Where tool pins live; default the lock file (pinning.lock_file). */
  pinStore?: PinStore;
  /** The bus to the other gateway instances sharing the state store (state.store: redis; docs/scaling.md#live-routing). */
  bus?: InstanceBus;
  /** Where self-registrations live (state.store: redis shares them); default in memory. */
  registrationStore?: RegistrationStore;
}

/** Who asks, for a registration: the admin key's name, and whether it has role admin (may change any registration). */
export interface Registrant {
  name: string;
  admin: boolean;
}

/** Service discovery as the admin API and /health see it (docs/discovery.md). */
export interface DiscoveryView {
  /** Each source's state and last result. */
  status(): ProviderStatus[];
  /** Backends sources created (not in the config), with where they came from. */
  discovered(): Array<{ name: string; source: string; url: string; transport: string; origin: string }>;
  /** Self-registration (discovery.registration): each resolves once this instance applied the change; throws RegistrationError. */
  registrations: {
    list(): Promise<Registration[]>;
    register(name: string, req: RegisterRequest, who: Registrant): Promise<{ registration: Registration; created: boolean }>;
    renew(name: string, req: { ttl?: unknown }, who: Registrant): Promise<Registration>;
    remove(name: string, who: Registrant): Promise<void>;
  };
}

export interface Gateway {
  /** The config snapshot in force (replaced by reload()). */
  readonly config: Readonly<Config>;
  /** Applies a new, already validated config snapshot; throws (changing nothing) if it cannot be built. */
  reload(next: Readonly<Config>): Promise<ReloadResult>;
  /** Adds one backend at runtime (as a reload with it added). */
  addBackend(name: string, cfg: BackendConfig): Promise<ReloadResult>;
  /** Removes one backend at runtime: list_changed to clients, in-flight calls drain, then it stops. */
  removeBackend(name: string): Promise<ReloadResult>;
  readonly log: Logger;
  readonly registry: Registry;
  readonly sessions: SessionManager;
  readonly metrics: Metrics;
  /** Tool-definition pinning: the pins in force, what differs from them, approval (docs/auth.md#tool-pinning). */
  readonly pins: PinGuard;
  /** The pinning mode in force for a backend. */
  pinMode(backend: string): PinMode;
  /** Authorization in force (the config snapshot's `authorization`; explain reads it). */
  readonly authz: Authorization;
  readonly discovery: DiscoveryView;
  /** Starts backends, then listens on server.host:server.port. Resolves with the bound URL of /mcp. (The admin API is started beside it: serve.ts.) */
  listen(): Promise<{ url: string; port: number; host: string }>;
  /** Starts backends and serves one client over the given streams (`mcpeg stdio`). */
  /** Resolves when the session ends: its input ended, or its client stopped reading (stdout's bounds). */
  serveStdio(input: Readable, output: Writable): Promise<StdioEnd>;
  /**
   * An in-process client connection to the aggregate view acting for `principal`: its requests take the
   * same dispatch, authorization and pinning as a client's (the admin console's "try it"). Close it when done.
   */
  connect(principal: Principal, write: (msg: ChannelMessage) => void): ChannelConnection;
  close(): Promise<void>;
}

export function createGateway(config: Readonly<Config>, opts: GatewayOptions = {}): Gateway {
  const log = opts.logger ?? createLogger(config.logging.level, 2, { secrets: configSecrets(config) });
  const backends = new Map<string, Backend>();
  let registry: Registry | undefined;
  let sessions: SessionManager | undefined;
  const subscribers = new Subscribers<ClientSession>();
  const listener: BackendListener = {
    // Only the backend serving its name: a replacement still coming up, or an old one draining, changes no view.
    catalogChanged: (b: Backend, announced) => {
      if (backends.get(b.name) === b) registry?.catalogChanged(b, announced);
    },
    stateChanged: (b: Backend) => log.debug({ backend: b.name, state: b.state }, 'backend state'),
    resourceUpdated: (b: Backend, params: Record<string, unknown>) => {
      // Shared-mode backends: fan out to the sessions that subscribed to the URI, when the URI is this backend's in their view.
      if (typeof params.uri !== 'string') return;
      for (const s of subscribers.of(params.uri)) {
        if (!s.isClosed && s.view.resourceBackend(params.uri) === b.name && s.hears(b.name, params.uri)) {
          s.notifyClient({ jsonrpc: '2.0', method: 'notifications/resources/updated', params });
        }
      }
    },
  };
  registry = new Registry(backends, config.namespacing.separator, log);
  // Tool pinning: a backend's tools pass the pins before any view is built from them.
  const pinMode = (name: string): PinMode => backends.get(name)?.cfg.pinning ?? snapshot.pinning.mode;
  const pins = new PinGuard({ store: opts.pinStore ?? new FilePinStore(config.pinning.lock_file), log, modeOf: pinMode, onChange: (names) => registry!.gateChanged(names) });
  const pinningUsed = (c: Readonly<Config>) => c.pinning.mode !== 'off' || [...backendEntries(c).values()].some((e) => (e.cfg.pinning ?? 'off') !== 'off');
  let pinsStarted = false;
  const startPins = async (c: Readonly<Config>) => {
    if (!pinningUsed(c)) return;
    if (pinsStarted) return pins.reload('configuration reloaded');
    await pins.start();
    pinsStarted = true;
  };
  registry.gate = (b) => (pinsStarted ? pins.gate(b.name, b.catalog.tools, b.state === 'up') : undefined);
  const continuations = new ContinuationStore(config.server.input_required_timeout, undefined, opts.bus);
  const instructionsOf = (viewId: string) => {
    const v = registry!.view(viewId);
    if (v?.backends.length !== 1) return undefined;
    return backends.get(v.backends[0])?.info?.instructions;
  };
  const authz = new Authorization(log, config);
  const host = {
    log,
    authz,
    continuations,
    view: (id: string) => registry!.view(id),
    backend: (name: string) => backends.get(name),
    subscribers,
    subscribedElsewhere: (backend: string, uri: string, except: ClientSession) => {
      for (const s of subscribers.of(uri)) if (s !== except && !s.isClosed && s.view.resourceBackend(uri) === backend) return true;
      return false;
    },
    ...(opts.bus ? { bus: opts.bus } : {}),
  };
  sessions = new SessionManager(host, opts.sessionStore ?? new MemorySessionStore(), {
    idleTimeoutMs: config.server.session_idle_timeout,
    backendIdleMs: Math.min(Infinity, ...Object.values(config.backends).map((b) => b.idle_timeout), ...config.plugins.map((p) => p.idle_timeout)),
    maxSessions: config.server.max_sessions,
    maxSessionsPerClient: config.server.max_sessions_per_client,
    instructions: instructionsOf,
  });
  registry.onListChanged = (viewIds, method) => sessions!.broadcast(viewIds, { jsonrpc: '2.0', method });

  const draining = { value: false };
  // One limiter for both layers: gateway-scope rules at the HTTP edge, backend and tool rules per call.
  const rateLimiter = new RateLimiter(config.rate_limits, opts.rateLimitStore ? { store: opts.rateLimitStore } : {});
  const limits: SessionLimits | undefined =
    rateLimiter.hasBackendRules || rateLimiter.hasToolRules
      ? {
          check(s, scope, name) {
            const refuse = (d: RateLimitDecision | undefined): void => {
              if (!d || d.allowed) return;
              if (rateLimitBlocks.hasSubscribers) rateLimitBlocks.publish({ source: dispatch, scope });
              throw new GatewayError('MCPEG_ERR_RATE_LIMITED', `rate limit exceeded for ${scope} "${name}" (${d.rule}); retry in ${Math.ceil(d.retryAfterMs / 1000)} s`, {
                retryAfterMs: d.retryAfterMs,
                limit: d.limit,
                scope,
                name,
              });
            };
            // With the shared store (state.store: redis) the answer is a promise: backend and tool limits hold across instances.
            // A stateless client has no session (its per-request one gets a new id each time): a session-keyed rule counts it by address.
            const d = rateLimiter.check(scope, name, { ip: s.clientIp, session: s.stateless ? undefined : s.sessionId, apiKey: s.apiKeyId, principal: s.principal.id });
            return d instanceof Promise ? d.then(refuse) : refuse(d);
          },
        }
      : undefined;
  const dispatch: DispatchOptions = {
    authz,
    pageSize: config.server.list_page_size,
    draining,
    limits,
    listTtlMs: config.server.list_cache_ttl,
    instructions: instructionsOf,
    maxInflightPerSession: config.server.max_inflight_per_session,
  };
  const events =
    opts.eventStore ??
    new MemoryEventStore({
      maxEvents: config.server.event_store_max_events,
      maxBytes: config.server.event_store_max_bytes,
      maxTotalBytes: config.server.event_store_max_total_bytes,
    });
  // Observability: metrics and the per-request log line subscribe to dispatch's events.
  const catalogTools = new WeakMap<object, Set<string>>();
  const metrics = createMetrics({
    source: dispatch,
    backends: () => backends.values(),
    sessions: () => sessions!.size,
    pinMismatches: () => (pinsStarted ? pins.mismatches() : []),
    discovery: () => discovery.status(),
    isKnownTool: (b, t) => {
      const cat = backends.get(b)?.catalog;
      if (!cat) return false;
      let names = catalogTools.get(cat);
      if (!names) catalogTools.set(cat, (names = new Set(cat.tools.map((x) => String(x.name)))));
      return names.has(t);
    },
  });
  const stopRequestLog = subscribeRequestLog(dispatch, log);
  const common = {
    sessions,
    log,
    dispatch,
    maxBodyBytes: config.server.max_body_bytes,
    keepAliveMs: config.server.sse_keepalive,
    apiKeyHeader: config.rate_limits.api_key_header,
    ...(opts.bus ? { bus: opts.bus } : {}),
    // The answers batches hold, bounded for all endpoints and transports together (a bound per endpoint grows with the backends).
    batchHold: new BatchHold(),
  };
  interface EndpointSet {
    streamable: StreamableHttpEndpoint;
    legacy: LegacySseEndpoint | undefined;
  }
  const makeSet = (viewId: string, base: string): EndpointSet => ({
    streamable: new StreamableHttpEndpoint(viewId, { ...common, events, retryMs: config.server.sse_retry }),
    legacy: config.server.legacy_sse ? new LegacySseEndpoint(viewId, `${base}/messages`, common) : undefined,
  });
  const aggregate = makeSet(AGGREGATE_VIEW, '');
  const perBackend = new Map<string, EndpointSet>();
  const addEndpoints = (name: string) => perBackend.set(name, makeSet(backendViewId(name), `/servers/${encodeURIComponent(name)}`));
  const endpointSets = () => [aggregate, ...perBackend.values()];
  sessions.onClosed = (s) => {
    for (const set of endpointSets()) if (set.streamable.viewId === s.viewId) set.streamable.sessionClosed(s);
  };

  let snapshot = config;
  // What file plugins must not touch: from the config in force, and during a reload the incoming one too.
  const protectedOf = protectedPathsCache({ configFile: opts.configFile, stateFiles: opts.stateFiles, lockFile: opts.pinStore ? undefined : config.pinning.lock_file });
  let incoming: Readonly<Config> | undefined;
  const deps: BuildDeps = { log, listener, protectedPaths: () => protectedOf(snapshot, incoming) };

  // Backends are built (plugin modules load, asynchronously) before anything starts; the
  // same buildBackend builds them on reload. A plugin that is not `required` may fail to
  // load: the gateway runs without it and /health says so.
  const pluginProblems: string[] = [];
  const buildAll = async () => {
    // Pins are read before any backend lists its tools (a LockFileError stops the start, naming the file).
    await startPins(config);
    for (const [name, entry] of backendEntries(config)) {
      try {
        backends.set(name, await buildBackend(name, entry, config.paths, deps));
        addEndpoints(name);
      } catch (err) {
        if (entry.kind !== 'plugin' || entry.cfg.required) throw err;
        pluginProblems.push((err as Error).message);
        log.error({ plugin: name, err: (err as Error).message }, 'plugin failed to load; the gateway runs without it');
      }
    }
    // Discovered replicas before the start: a backend starts with what its source gives.
    await Promise.all([...backends.values()].map(attachDiscovery));
    registry!.rebuild();
  };

  // --- service discovery: replicas of configured backends, and whole backends (discovery/) ---
  /**
   * Backends a registry or registration created connect only to addresses no source may
   * choose to point them at (discovery/allowed-hosts.ts): their URLs' names are resolved,
   * and checked, at each connection. Discovered replicas have their backend's guard (below).
   */
  const discoveredGuard = connectGuard(neverAllowed);
  const discovery = new DiscoveryManager(
    log.child({ component: 'discovery' }),
    {
      configured: (name) => backendEntries(snapshot).has(name) || (incoming !== undefined && backendEntries(incoming).has(name)),
      add: (name, cfg) =>
        serially(async () => {
          if (closing) throw new Error('gateway shutting down');
          await reconfigure.install(await buildBackend(name, { kind: 'backend', cfg, guard: discoveredGuard }, snapshot.paths, deps));
        }),
      remove: (name) => serially(() => reconfigure.uninstall(name)),
    },
    () => snapshot.discovery.drain_timeout,
  );
  /** The config of a backend a source created: an mcp backend at its URL with the source's template, validated like the file's. */
  const discoveredConfig =
    (template: () => Readonly<Record<string, unknown>>) =>
    (d: DiscoveredBackend): BackendConfig => {
      const r = backendSchema.safeParse({ ...template(), type: 'mcp', url: d.url, transport: d.transport });
      if (!r.success) throw new Error(formatIssues(r.error.issues).join('; '));
      return r.data;
    };
  const registrations = new Registrations(opts.registrationStore ?? new MemoryRegistrationStore(), {
    config: () => snapshot.discovery.registration,
    configured: (name) => backendEntries(snapshot).has(name),
    heldBy: (name) => {
      const s = discovery.sourceOf(name);
      return s === 'registration' ? undefined : s;
    },
    now: Date.now,
  });
  let registrationsStarted = false;
  /** The registration source runs once registration is enabled (at start, or the first registration after a reload enabled it). */
  const startRegistrations = () => {
    if (registrationsStarted || closing || !snapshot.discovery.registration.enabled) return;
    registrationsStarted = true;
    discovery.addSource({
      id: 'registration',
      provider: registrations,
      maxBackends: () => snapshot.discovery.registration.max_backends,
      emptyIsFailure: false,
      allowed: (c) => urlAllowList(snapshot.discovery.registration.allowed_urls, false)(c),
      config: discoveredConfig(() => snapshot.discovery.registration.backend),
    });
  };
  /** MCP registries (discovery.registries): started with the gateway; a change needs a restart. */
  const startRegistries = () => {
    for (const r of config.discovery.registries) {
      discovery.addSource({
        id: `registry:${r.name}`,
        provider: new RegistrySource({ ...r, maxBytes: config.discovery.max_document_bytes }),
        maxBackends: () => r.max_backends,
        emptyIsFailure: true,
        allowed: urlAllowList(r.allowed_urls, true),
        config: discoveredConfig(() => r.backend),
      });
    }
  };
  const applied = async <T>(f: () => Promise<T>): Promise<T> => {
    startRegistrations();
    const out = await f();
    await discovery.settled();
    return out;
  };
  /** A backend with `discovery` gets its source; the start waits for its first result (or failure) up to connect_timeout. */
  const attachDiscovery = async (b: Backend) => {
    const cfg = b.cfg as McpBackendConfig;
    if (cfg.type !== 'mcp' || !cfg.discovery) return;
    const provider = endpointProvider(b.name, cfg, { maxBytes: snapshot.discovery.max_document_bytes, env: process.env, base: snapshot.paths.base ?? process.cwd() });
    // The addresses its replicas' connections reach, checked as its allowed_hosts say (connectCheck).
    const guard = connectGuard(hostPolicy(cfg.discovery.allowed_hosts).connectCheck);
    const first = discovery.attach(b, cfg, provider, (e) => endpointReplica(b.name, cfg, e.url, e.weight, log.child({ backend: b.name }), b.output, e.transport, guard));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([first, new Promise<void>((r) => (timer = setTimeout(r, cfg.connect_timeout)))]);
    clearTimeout(timer);
  };

  // --- runtime changes: hot reload, admin API ---
  /** Backends taken out of the set and not stopped yet, and replacements still coming up: close() stops them too. */
  const leaving = new Set<Backend>();
  const arriving = new Set<Backend>();
  /** A backend out of the set: the calls in flight on it finish (up to server.shutdown_timeout), then it stops. */
  const drainAndStop = async (b: Backend) => {
    leaving.add(b);
    b.retire();
    try {
      // During a reload, the incoming config's: server.shutdown_timeout applies on reload, to the backends it replaces too.
      const deadline = Date.now() + (incoming ?? snapshot).server.shutdown_timeout;
      while (b.inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      await b.stop();
    } finally {
      leaving.delete(b);
    }
  };
  /**
   * A replacement holds none of the resource subscriptions the old backend held for every client on
   * its own connection (`session_mode: shared`, or a replica that speaks only 2026-07-28): they are
   * made again on it for the sessions holding them, as each client's own reopened backend session
   * (per_client) makes its own (protocol/session.ts).
   */
  const resubscribe = (b: Backend) => {
    const held = new Map<string, ClientSession[]>();
    for (const s of sessions!.sessions()) {
      if (s.isClosed) continue;
      for (const uri of s.subscriptions) {
        if (s.view.resourceBackend(uri) !== b.name || !s.hears(b.name, uri)) continue;
        const holders = held.get(uri);
        if (holders) holders.push(s);
        else held.set(uri, [s]);
      }
    }
    for (const [uri, holders] of held) {
      const r = b.pick();
      if (!r || r.state !== 'up') continue;
      if (r.statelessOnly) {
        // resource-watch.ts: one listen stream per replica for the URIs its stateful clients hold (not offered with per-user credentials).
        if (!b.credentials) for (const s of holders) void r.watchResource(uri, s).catch(() => {});
      } else if (b.cfg.session_mode === 'shared' && !r.stateless) {
        void r.sharedConnection?.request('resources/subscribe', { uri }, { timeoutMs: b.cfg.timeout }).catch(() => {});
      }
    }
  };
  const reconfigure: BackendSetHost = {
    current: () => snapshot,
    swap: (next) => (snapshot = next),
    build: (name, entry, next) => buildBackend(name, entry, next.paths, deps),
    async install(b) {
      // The config now names a backend a source had created: the config's replaces it.
      if (backends.has(b.name) && discovery.isDiscovered(b.name)) {
        discovery.yieldTo(b.name);
        await this.uninstall(b.name);
      }
      await attachDiscovery(b);
      backends.set(b.name, b);
      addEndpoints(b.name);
      registry!.rebuild();
      // Its tools are announced (list_changed) when it comes up.
      await b.start();
    },
    async replace(b) {
      const old = backends.get(b.name);
      // Nothing to keep serving (or a discovered backend the config now names): as an addition.
      if (!old || discovery.isDiscovered(b.name)) {
        await this.uninstall(b.name);
        return this.install(b);
      }
      // Make before break: the new backend starts beside the old one, which keeps serving its name until the new one is up.
      // One that has not come up within connect_timeout takes the place anyway and keeps restarting with backoff, as at start.
      discovery.detach(b.name);
      await attachDiscovery(b);
      let timer: NodeJS.Timeout | undefined;
      arriving.add(b);
      try {
        await Promise.race([b.start().catch(() => {}), new Promise<void>((r) => (timer = setTimeout(r, b.cfg.connect_timeout)))]);
      } finally {
        clearTimeout(timer);
        arriving.delete(b);
      }
      // The gateway closed meanwhile (close() stopped it): it takes no place.
      if (closing) {
        await b.stop();
        throw new Error('gateway shutting down');
      }
      backends.set(b.name, b);
      pins.forget(b.name);
      // Views now route to the new backend; clients hear list_changed only for lists that read differently.
      registry!.catalogChanged(b);
      resubscribe(b);
      // Client sessions on the old one move on their next call (its replicas are no longer the backend's); the calls it holds finish on it.
      await drainAndStop(old);
      log.info({ backend: b.name }, 'backend replaced');
    },
    async uninstall(name) {
      discovery.detach(name);
      const b = backends.get(name);
      if (!b) return;
      backends.delete(name);
      registry!.removed(name);
      pins.forget(name);
      for (const s of [...sessions!.sessions()]) if (s.viewId === backendViewId(name)) await sessions!.close(s.sessionId, `backend "${name}" removed`);
      // Only now: closing its sessions goes through its endpoint (sessions.onClosed), which drops their SSE events.
      perBackend.get(name)?.legacy?.close();
      perBackend.delete(name);
      await drainAndStop(b);
      log.info({ backend: name }, 'backend removed');
    },
    setLogLevel: (level) => (log.level = level),
  };
  let reloading: Promise<unknown> = Promise.resolve();
  /** One change to the backend set at a time (reloads, admin changes, discovery), in arrival order. */
  const serially = <T>(f: () => Promise<T>): Promise<T> => {
    const run = reloading.then(f);
    reloading = run.catch(() => {});
    return run;
  };
  const reload = (next: Readonly<Config>): Promise<ReloadResult> => {
    const run = reloading.then(async () => {
      // A reload after close() would start backends nothing stops any more.
      if (closing) throw new Error('gateway shutting down: the configuration is not reloaded');
      await startBackends();
      incoming = next;
      // The new rules apply before the new backends start serving; a refused reload restores the old ones.
      authz.configure(next);
      try {
        // Pins (re)read first: a lock file that cannot be read refuses the reload.
        await startPins(next);
        const r = await applySnapshot(reconfigure, next);
        // A changed pinning mode shows in every view.
        registry!.gateChanged(backends.keys());
        metrics.configReload('success');
        log.info({ ...r }, 'configuration reloaded');
        return r;
      } catch (err) {
        authz.configure(snapshot);
        metrics.configReload('failure');
        log.error({ err: (err as Error).message }, 'configuration reload refused; the previous configuration keeps serving');
        throw err;
      } finally {
        incoming = undefined;
      }
    });
    reloading = run.catch(() => {});
    return run;
  };

  let server: Server | undefined;
  let started: Promise<void> | undefined;
  let closing = false;
  const startBackends = () =>
    (started ??= buildAll()
      .then(() => Promise.all([...backends.values()].map((b) => b.start())))
      .then(() => {
        startRegistrations();
        if (!closing) startRegistries();
        if (!closing) sessions!.startSweeper();
      }));

  const ready = async () => {
    const required = [...backends.values()].filter((b) => b.cfg.required);
    const down = required.filter((b) => b.state !== 'up').map((b) => b.name);
    const ok = started !== undefined && !closing && down.length === 0;
    return { status: ok ? 200 : 503, body: { status: ok ? 'ready' : 'not_ready', ...(down.length ? { waitingFor: down } : {}), ...(closing ? { reason: 'shutting down' } : {}) } };
  };
  const health = async () => {
    const list = await Promise.all(
      [...backends.values()].map(async (b) => {
        // A plugin's own health hook counts too: up but unhealthy is degraded.
        const check = b.state === 'up' ? await b.checkHealth() : undefined;
        return {
          name: b.name,
          state: b.state,
          transport: b.transportKind,
          protocol: b.info?.protocolVersion,
          tools: b.catalog.tools.length,
          error: b.lastError,
          // Informative: the backend still serves, with the catalog listed before; not a reason to degrade.
          ...(b.catalogFailure ? { catalogError: b.catalogFailure.error, catalogErrorAt: b.catalogFailure.at.toISOString() } : {}),
          ...(check ? { healthy: check.ok, detail: check.detail } : {}),
          ...(b.transportKind === 'stdio' ? { processes: b.pids().length } : {}),
          ...(b.processes ? { max_processes: b.processes.max } : {}),
          // A discovered backend shows its replicas (their endpoints) even when it has one.
          ...(b.replicas.length > 1 || (b.cfg as McpBackendConfig).discovery ? { replicas: b.replicaStates() } : {}),
        };
      }),
    );
    const allUp = list.every((b) => b.state === 'up' && (b as { healthy?: boolean }).healthy !== false);
    const problems = registry!.view(AGGREGATE_VIEW)?.problems ?? [];
    // A tool whose definition is not approved needs an operator, whether it is blocked or only warned about.
    const mismatched = pinsStarted ? pins.mismatches() : [];
    const ok = allUp && pluginProblems.length === 0 && mismatched.length === 0;
    return {
      status: ok ? 200 : 503,
      body: {
        status: ok ? 'ok' : 'degraded',
        sessions: sessions!.size,
        backends: list,
        catalogProblems: problems,
        pluginProblems,
        ...(discovery.status().length ? { discovery: discovery.status() } : {}),
        ...(pinsStarted ? { pins: { mode: snapshot.pinning.mode, lockFile: pins.where, mismatched } } : {}),
      },
    };
  };

  const self: Gateway = {
    get config() {
      return snapshot;
    },
    reload,
    addBackend: (name, cfg) => reload(validateConfig({ ...structuredClone(snapshot), backends: { ...structuredClone(snapshot.backends), [name]: cfg } }, 'admin API')),
    removeBackend(name) {
      const next = structuredClone(snapshot) as Config;
      delete (next.backends as Record<string, BackendConfig>)[name];
      next.plugins = next.plugins.filter((p) => p.name !== name);
      return reload(next);
    },
    log,
    registry,
    sessions,
    metrics,
    pins,
    pinMode,
    authz,
    discovery: {
      status: () => discovery.status(),
      discovered: () => discovery.discovered(),
      registrations: {
        list: () => registrations.list(),
        register: (name, req, who) => applied(() => registrations.register(name, req, who)),
        renew: (name, req, who) => applied(() => registrations.renew(name, req, who)),
        remove: (name, who) => applied(() => registrations.remove(name, who)),
      },
    },
    async listen() {
      await startBackends();
      server = createHttpServer(
        config.server,
        { aggregate, backend: (n) => perBackend.get(n), health, ready, metrics: async () => ({ contentType: metrics.contentType, body: await metrics.render() }) },
        log,
        { rateLimits: config.rate_limits, rateLimiter, traffic: config.traffic, source: dispatch, auth: config.auth },
      );
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(config.server.port, config.server.host, () => resolve());
      });
      const addr = server.address() as AddressInfo;
      const hostForUrl = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      const url = `http://${hostForUrl}:${addr.port}${config.server.path}`;
      log.info({ url, backends: [...backends.keys()] }, 'mcpeg listening');
      return { url, port: addr.port, host: addr.address };
    },
    connect(principal, write) {
      const conn = new ChannelConnection(AGGREGATE_VIEW, sessions!, dispatch, write);
      conn.principal = principal;
      conn.batchHold = common.batchHold;
      return conn;
    },
    async serveStdio(input, output) {
      await startBackends();
      const { max_body_bytes, send_timeout, max_unsent_bytes } = config.server;
      const limits = { maxLineBytes: max_body_bytes, sendTimeoutMs: send_timeout, maxUnsentBytes: max_unsent_bytes };
      return serveStdio(AGGREGATE_VIEW, sessions!, dispatch, input, output, limits, log);
    },
    async close() {
      closing = true;
      // Let a start in progress finish, so nothing it adds (plugin backends, the sweeper) outlives close().
      await started?.catch(() => {});
      if (server) {
        // Graceful drain: stop accepting connections, refuse new requests, let in-flight
        // ones finish within server.shutdown_timeout (less a margin to close the rest).
        server.close();
        server.closeIdleConnections?.();
        draining.value = true;
        sessions!.refuseNew();
        sessions!.endListeners();
        const deadline = Date.now() + Math.max(0, config.server.shutdown_timeout - 1000);
        const inflight = () => [...sessions!.sessions(), ...sessions!.transient].reduce((n, s) => n + s.inflight.size, 0);
        if (inflight() > 0) log.info({ inflight: inflight() }, 'draining in-flight requests');
        while (inflight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
        for (const set of endpointSets()) set.legacy?.closeAll();
        server.closeAllConnections?.();
      }
      continuations.close();
      await sessions!.closeAll('gateway shutting down');
      stopRequestLog();
      metrics.close();
      pins.stop();
      await discovery.stop();
      await Promise.all([...backends.values(), ...leaving, ...arriving].map((b) => b.stop()));
    },
  };
  return self;
}
