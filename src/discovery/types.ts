/**
 * What a discovery source emits: the complete current set each time (never a delta), of
 * endpoints (a backend's replicas) or of whole backends. The gateway applies the difference
 * (replica-set.ts, manager.ts); a source that cannot be read says so with fail() and the
 * last good set stays in force.
 */

/** One replica of a backend: an HTTP(S) MCP endpoint and its share of the work. */
export interface Endpoint {
  url: string;
  weight: number;
  /**
   * Its tier (DNS SRV priority, RFC 2782): lower first. New work goes to the lowest tier
   * with a replica available; a higher tier only while every lower one is down. Absent: 0.
   */
  priority?: number | undefined;
  /** How to speak to it, when the source says (Consul metadata); else the backend's `transport`. Read when the replica joins. */
  transport?: 'streamable_http' | 'sse' | undefined;
}

/** A backend a source announces (a registration, a registry's remote). Only a URL: nothing to run. */
export interface DiscoveredBackend {
  name: string;
  url: string;
  transport: 'auto' | 'streamable_http' | 'sse';
  /** Where it came from, for the admin API (a registry's server name and version, a registrar's key). */
  origin: string;
}

export interface Sink<T> {
  /** The source's current set. */
  update(items: readonly T[]): void;
  /** The source could not be read (or answered nonsense): the last good set stays. */
  fail(err: Error): void;
}

export interface Provider<T> {
  /** dns_srv, consul, kubernetes, registry, registration. */
  readonly kind: string;
  /** What it reads, for humans (an SRV name and servers, a Consul service, a registry URL). */
  readonly source: string;
  start(sink: Sink<T>): void;
  stop(): void | Promise<void>;
  /** Entries of its last read it left out itself, and why (reported with the manager's own). */
  notes?(): readonly string[];
}

export type ProviderState = 'pending' | 'ok' | 'failing';

/** A provider's state as /health, metrics, the admin API and `mcpeg validate` show it. */
export interface ProviderStatus {
  /** dns_srv:search (the backend it fills) or registry:official, registration. */
  id: string;
  kind: string;
  source: string;
  state: ProviderState;
  /** Items in force (the last good set). */
  count: number;
  updates: number;
  failures: number;
  lastSuccess: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
  /** What the last good result looked like (URLs, or backend names), bounded. */
  last: string[];
  /** Items of the last result left out, and why (a bound, an invalid name or URL, a conflict). */
  dropped: string[];
  /** Items of the last result (read, even if it failed as a whole) on a host or URL the config does not allow: allowed_hosts, allowed_urls; at most 20. */
  refused: string[];
  /** How many items of the last result were refused (refused lists at most 20). */
  refusedCount: number;
}
