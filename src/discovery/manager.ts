/**
 * Runs the discovery sources of one gateway instance and applies what they find: a
 * backend's replicas (replica-set.ts) or whole backends (added and removed through the
 * host, as hot reload adds and removes them). Every result is checked first (checks.ts);
 * a source that fails, or answers with nothing, keeps its last good set in force and
 * reports why (status.ts). Results are not shared with other instances: each runs its
 * own sources (registrations are shared through their store instead).
 */
import type { BackendConfig, McpBackendConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { Backend, ReplicaSpec } from '../upstream/backend.js';
import { checkEndpoints, checkUrl, validName } from './checks.js';
import { hostPolicy } from './allowed-hosts.js';
import { applyEndpoints } from './replica-set.js';
import { StatusTracker } from './status.js';
import type { DiscoveredBackend, Endpoint, Provider, ProviderStatus, Sink } from './types.js';

/** What the manager asks of the gateway for whole backends (gateway.ts implements it with the reload machinery). */
export interface BackendHost {
  /** A name the config file (or an admin change) uses: a source cannot take it. */
  configured(name: string): boolean;
  /** Builds, installs and starts an mcp backend (list_changed once it is up). Throws if the config is refused. */
  add(name: string, cfg: BackendConfig): Promise<void>;
  /** list_changed, calls in flight drain, then it stops. */
  remove(name: string): Promise<void>;
}

/** A source of whole backends, with what the config says it may create. */
export interface BackendSource {
  id: string;
  provider: Provider<DiscoveredBackend>;
  /** Read at each result: a reload from the file may change it. */
  maxBackends(): number;
  /** Whether a URL (canonical form, checks.ts) may become a backend. */
  allowed(canonical: string): boolean;
  /**
   * An answer listing no backend is taken as a failure (the backends stay) rather than as
   * "remove them all": a registry briefly wrong must not empty the gateway. Registrations
   * say false: all of them expiring is a real answer.
   */
  emptyIsFailure: boolean;
  /** The backend config for a discovered entry (its template, validated like the config file's); throws naming the problem. */
  config(d: DiscoveredBackend): BackendConfig;
}

/** No allowed_hosts list: only the addresses never allowed are refused. */
const ANYWHERE = hostPolicy([]);

interface EndpointWatch {
  provider: Provider<Endpoint>;
  status: StatusTracker;
  first: Promise<void>;
  stopped: boolean;
}

interface Owned {
  source: string;
  url: string;
  transport: string;
  origin: string;
}

export class DiscoveryManager {
  private readonly watches = new Map<string, EndpointWatch>();
  private readonly sources = new Map<string, { src: BackendSource; status: StatusTracker }>();
  /** Backends sources created, by name. */
  private readonly owned = new Map<string, Owned>();
  /** One change to the backend set at a time, in arrival order. */
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly log: Logger,
    private readonly host: BackendHost,
    private readonly drainMs: () => number,
  ) {}

  /**
   * Starts the source of a backend's replicas. Resolves at its first result or failure
   * (the caller bounds the wait); the source runs until detach().
   */
  attach(backend: Backend, cfg: McpBackendConfig, provider: Provider<Endpoint>, spec: (e: Endpoint) => ReplicaSpec): Promise<void> {
    this.detach(backend.name);
    const max = cfg.discovery?.max_endpoints ?? 64;
    const hosts = hostPolicy(cfg.discovery?.allowed_hosts ?? []);
    const status = new StatusTracker(`${provider.kind}:${backend.name}`, provider.kind, provider.source);
    const log = this.log.child({ backend: backend.name, discovery: provider.kind });
    let settle!: () => void;
    const watch: EndpointWatch = { provider, status, first: new Promise<void>((r) => (settle = r)), stopped: false };
    const sink: Sink<Endpoint> = {
      update: (items) => {
        if (watch.stopped) return;
        const checked = checkEndpoints(items, max, hosts);
        const endpoints = checked.endpoints;
        const dropped = [...(provider.notes?.() ?? []), ...checked.dropped];
        // Logged when the refused set changes, not at every read of the same answer.
        if (status.refusedNow(checked.refused) && checked.refused.length)
          log.warn(
            { refused: checked.refused.slice(0, 5), count: checked.refused.length },
            'discovered replicas refused: their host is not allowed (allowed_hosts); they do not join',
          );
        if (endpoints.length === 0) {
          // An empty answer is not taken as "remove them all": a source briefly wrong must not empty a backend.
          const why = [...checked.refused, ...dropped];
          sink.fail(new Error(`the source answered with no usable endpoints${why.length ? ` (${why.slice(0, 3).join('; ')})` : ''}; the last good set stays`));
          return;
        }
        status.succeeded(
          endpoints.map((e) => `${e.url} weight ${e.weight}${e.priority ? ` priority ${e.priority}` : ''}`),
          dropped,
        );
        const c = applyEndpoints(backend, endpoints, spec, this.drainMs());
        if (c.added.length || c.removed.length || c.reweighted.length || c.reprioritized.length)
          log.info({ added: c.added, removed: c.removed, reweighted: c.reweighted, reprioritized: c.reprioritized }, 'discovered replicas changed');
        if (dropped.length) log.warn({ dropped: dropped.slice(0, 5), count: dropped.length }, 'discovery result entries left out');
        settle();
      },
      fail: (err) => {
        if (watch.stopped) return;
        const first = status.state !== 'failing';
        status.failed(err.message);
        // Logged when it starts failing, not at every retry.
        if (first) log.warn({ err: err.message, replicas: backend.replicas.length }, 'discovery source failing; the last good set stays in force');
        settle();
      },
    };
    this.watches.set(backend.name, watch);
    provider.start(sink);
    return watch.first;
  }

  detach(name: string): void {
    const w = this.watches.get(name);
    if (!w) return;
    w.stopped = true;
    this.watches.delete(name);
    void Promise.resolve(w.provider.stop()).catch(() => {});
  }

  /** Starts a source of whole backends. */
  addSource(src: BackendSource): void {
    const status = new StatusTracker(src.id, src.provider.kind, src.provider.source);
    this.sources.set(src.id, { src, status });
    src.provider.start({
      update: (items) => {
        if (items.length === 0 && src.emptyIsFailure) {
          const first = status.state !== 'failing';
          status.failed('the source answered with no backends; the ones it gave stay');
          if (first) this.log.warn({ discovery: src.id }, 'discovery source answered with no backends; the ones it gave stay');
          return;
        }
        void this.enqueue(() => this.applyBackends(src, status, items));
      },
      fail: (err) => {
        const first = status.state !== 'failing';
        status.failed(err.message);
        if (first) this.log.warn({ discovery: src.id, err: err.message }, 'discovery source failing; the backends it gave stay');
      },
    });
  }

  /** Names of the backends sources created, with where they came from. */
  discovered(): Array<{ name: string; source: string; url: string; transport: string; origin: string }> {
    return [...this.owned].map(([name, o]) => ({ name, ...o }));
  }

  /** The source that created the backend `name`, if one did. */
  sourceOf(name: string): string | undefined {
    return this.owned.get(name)?.source;
  }

  isDiscovered(name: string): boolean {
    return this.owned.has(name);
  }

  /** The config now names a backend a source created: the config's wins, the source's is forgotten (the caller replaces it). */
  yieldTo(name: string): void {
    this.owned.delete(name);
  }

  status(): ProviderStatus[] {
    return [...[...this.watches.values()].map((w) => w.status.snapshot()), ...[...this.sources.values()].map((s) => s.status.snapshot())];
  }

  /** Resolves once every result received so far is applied. */
  settled(): Promise<void> {
    return this.queue.then(() => {});
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const name of [...this.watches.keys()]) this.detach(name);
    await Promise.all([...this.sources.values()].map((s) => Promise.resolve(s.src.provider.stop()).catch(() => {})));
    await this.queue;
  }

  private enqueue(f: () => Promise<void>): Promise<void> {
    const run = this.queue.then(f);
    this.queue = run.catch((err: unknown) => this.log.error({ err: (err as Error).message }, 'applying a discovery result failed'));
    return run;
  }

  /** A source's new set of backends against what it created before: removals, then additions and changes. */
  private async applyBackends(src: BackendSource, status: StatusTracker, items: readonly DiscoveredBackend[]): Promise<void> {
    if (this.stopped) return;
    const dropped: string[] = [];
    const refused: string[] = [];
    const want = new Map<string, { d: DiscoveredBackend; url: string; cfg: BackendConfig }>();
    for (const d of items) {
      const label = typeof d.name === 'string' ? d.name.slice(0, 64) : '?';
      if (typeof d.name !== 'string' || !validName(d.name)) {
        dropped.push(`${label}: not a valid backend name (letters, digits, "_" or "-", at most 48)`);
        continue;
      }
      if (want.has(d.name)) {
        dropped.push(`${d.name}: listed twice (the first kept)`);
        continue;
      }
      const u = checkUrl(d.url);
      if ('problem' in u) {
        dropped.push(`${d.name}: ${u.problem}`);
        continue;
      }
      // Whatever allowed_urls says: no MCP server is at a link-local, unspecified or multicast address.
      const never = ANYWHERE.refuses(new URL(u.url).hostname);
      if (never) {
        refused.push(`${d.name}: ${u.url}: ${never}`);
        continue;
      }
      if (!src.allowed(u.canonical)) {
        refused.push(`${d.name}: ${u.url} is not in allowed_urls`);
        continue;
      }
      if (this.host.configured(d.name)) {
        dropped.push(`${d.name}: the configuration has a backend of that name`);
        continue;
      }
      const other = this.owned.get(d.name);
      if (other && other.source !== src.id) {
        dropped.push(`${d.name}: already discovered by ${other.source}`);
        continue;
      }
      if (want.size >= src.maxBackends()) {
        dropped.push(`${d.name}: beyond max_backends (${src.maxBackends()})`);
        continue;
      }
      let cfg: BackendConfig;
      try {
        cfg = src.config({ ...d, url: u.url });
      } catch (err) {
        dropped.push(`${d.name}: ${(err as Error).message}`);
        continue;
      }
      want.set(d.name, { d, url: u.url, cfg });
    }
    const mine = [...this.owned].filter(([, o]) => o.source === src.id);
    for (const [name, o] of mine) {
      const w = want.get(name);
      if (w && w.url === o.url && w.d.transport === o.transport) {
        want.delete(name);
        continue;
      }
      this.owned.delete(name);
      await this.host.remove(name).catch((err: unknown) => this.log.error({ backend: name, err: (err as Error).message }, 'removing a discovered backend failed'));
      this.log.info({ backend: name, discovery: src.id }, w ? 'discovered backend changed' : 'discovered backend removed');
    }
    for (const [name, w] of want) {
      if (this.stopped) return;
      try {
        await this.host.add(name, w.cfg);
        this.owned.set(name, { source: src.id, url: w.url, transport: w.d.transport, origin: w.d.origin });
        this.log.info({ backend: name, url: w.url, discovery: src.id, origin: w.d.origin }, 'discovered backend added');
      } catch (err) {
        dropped.push(`${name}: ${(err as Error).message}`);
      }
    }
    dropped.push(...(src.provider.notes?.() ?? []));
    const names = [...this.owned].filter(([, o]) => o.source === src.id).map(([n, o]) => `${n} ${o.url}`);
    status.succeeded(names, dropped);
    if (status.refusedNow(refused) && refused.length)
      this.log.warn({ discovery: src.id, refused: refused.slice(0, 5), count: refused.length }, 'discovered backends refused: their URL is not in allowed_urls');
    if (dropped.length) this.log.warn({ discovery: src.id, dropped: dropped.slice(0, 5), count: dropped.length }, 'discovery result entries left out');
  }
}
