/**
 * Prometheus metrics at /metrics (prom-client), all named mcpeg_*. Counters and
 * histograms are fed by diagnostics_channel events (the hot path publishes only while
 * someone listens); gauges read the gateway's state when scraped. Each gateway has its
 * own registry: no module-level singletons, several gateways per process stay apart.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import {
  httpRequests,
  mcpRequests,
  rateLimitBlocks,
  slowClients,
  connectionsRefused,
  type ConnectionsRefusedEvent,
  observer,
  type HttpRequestEvent,
  type McpRequestEvent,
  type RateLimitEvent,
  type SlowClientsEvent,
} from './channels.js';
import { VERSION } from '../version.js';
import { ERRORS, TOOL_ERRORS } from '../errors/catalog.js';
import { CounterSeries, HistogramSeries } from './series.js';

/** The methods a metric label may name; anything else a client sends is counted as "_other". */
const MCP_METHODS: ReadonlySet<string> = new Set([
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'prompts/list',
  'prompts/get',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'completion/complete',
  'logging/setLevel',
  'server/discover',
  'subscriptions/listen',
]);
/** Error codes a label may name: the gateway's own, the tool error catalogue, JSON-RPC's reserved range; a backend's other codes are one series. */
function boundedCode(code: string): string {
  if (Object.hasOwn(ERRORS, code) || Object.hasOwn(TOOL_ERRORS, code) || code === 'tool_error') return code;
  const n = Number(code);
  return Number.isInteger(n) && n >= -32768 && n <= -32000 ? code : '_other';
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const BREAKER = { closed: 0, open: 1, half_open: 2 } as const;

/** What the gauges read of a backend when scraped (upstream/backend.ts Backend has it). */
export interface BackendGauges {
  readonly name: string;
  readonly state: string;
  replicaStates(): Iterable<{ id: string; available: boolean; active: number; breaker: string | undefined }>;
  readonly transportKind: string;
  /** Its live child processes (stdio backends). */
  pids(): readonly number[];
}

export interface MetricsSources {
  /** The object this gateway's events carry as `source` (its dispatch options). */
  source: unknown;
  backends(): Iterable<BackendGauges>;
  sessions(): number;
  /** Tools whose definition differs from its pin (tool pinning), each with its backend and status. */
  pinMismatches?(): Iterable<{ readonly backend: string; readonly status: string }>;
  /** Discovery sources: state, items in force, results and failures (docs/discovery.md). */
  discovery?(): Iterable<{
    readonly id: string;
    readonly state: string;
    readonly count: number;
    readonly updates: number;
    readonly failures: number;
    readonly refusedCount: number;
  }>;
  /** Tool names a label may take (the catalog): anything else is counted as "_other". */
  isKnownTool(backend: string, tool: string): boolean;
}

export interface Metrics {
  readonly registry: Registry;
  readonly contentType: string;
  render(): Promise<string>;
  configReload(result: 'success' | 'failure'): void;
  close(): void;
}

export function createMetrics(src: MetricsSources): Metrics {
  const registry = new Registry();
  const started = Date.now();
  const r = [registry];
  new Gauge({ name: 'mcpeg_info', help: 'MCpeg build information', labelNames: ['version', 'node'], registers: r }).set({ version: VERSION, node: process.version }, 1);
  new Gauge({
    name: 'mcpeg_uptime_seconds',
    help: 'Seconds since the gateway started',
    registers: r,
    collect() {
      this.set((Date.now() - started) / 1000);
    },
  });
  // The series the hot path feeds (series.ts): no allocation per inc/observe.
  const mcpTotal = new CounterSeries({
    name: 'mcpeg_mcp_requests_total',
    help: 'MCP requests served, by method, backend, tool and outcome',
    labelNames: ['method', 'backend', 'tool', 'outcome'],
    registry,
  });
  const mcpDuration = new HistogramSeries({
    name: 'mcpeg_mcp_request_duration_seconds',
    help: 'Time to answer an MCP request, by method, backend and tool',
    labelNames: ['method', 'backend', 'tool'],
    buckets: LATENCY_BUCKETS,
    registry,
  });
  const mcpErrors = new CounterSeries({
    name: 'mcpeg_mcp_errors_total',
    help: 'MCP requests that failed, by error code (MCPEG_ERR_* or the tool error code)',
    labelNames: ['code', 'backend'],
    registry,
  });
  const httpTotal = new CounterSeries({
    name: 'mcpeg_http_requests_total',
    help: 'HTTP requests, by endpoint kind, method and status',
    labelNames: ['endpoint', 'method', 'status'],
    registry,
  });
  const httpDuration = new HistogramSeries({
    name: 'mcpeg_http_request_duration_seconds',
    help: 'HTTP request duration (until the response is done; SSE streams until they end)',
    labelNames: ['endpoint', 'method'],
    buckets: LATENCY_BUCKETS,
    registry,
  });
  const blocked = new Counter({ name: 'mcpeg_rate_limit_blocked_total', help: 'Requests refused by a rate limit, by scope', labelNames: ['scope'], registers: r });
  const slowClosed = new Counter({
    name: 'mcpeg_http_slow_clients_closed_total',
    help: 'Client connections closed for not taking their answers, by reason: send_timeout, max_unsent_bytes',
    labelNames: ['reason'],
    registers: r,
  });
  const refusedConns = new Counter({
    name: 'mcpeg_http_connections_refused_total',
    help: 'Client connections closed as they arrived, by reason: max_connections_per_client',
    labelNames: ['reason'],
    registers: r,
  });
  const reloads = new Counter({ name: 'mcpeg_config_reloads_total', help: 'Configuration reloads, by result', labelNames: ['result'], registers: r });
  new Gauge({
    name: 'mcpeg_sessions_active',
    help: 'Client sessions open on this instance',
    registers: r,
    collect() {
      this.set(src.sessions());
    },
  });
  new Gauge({
    name: 'mcpeg_services_registered',
    help: 'Backends configured (plugins included)',
    registers: r,
    collect() {
      this.set([...src.backends()].length);
    },
  });
  new Gauge({
    name: 'mcpeg_backend_up',
    help: '1 when the backend has a replica up, else 0',
    labelNames: ['backend'],
    registers: r,
    collect() {
      this.reset();
      for (const b of src.backends()) this.set({ backend: b.name }, b.state === 'up' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'mcpeg_backend_processes',
    help: "Child processes of a stdio backend alive now (its replicas' own and client sessions'; at most max_processes)",
    labelNames: ['backend'],
    registers: r,
    collect() {
      this.reset();
      for (const b of src.backends()) if (b.transportKind === 'stdio') this.set({ backend: b.name }, b.pids().length);
    },
  });
  new Gauge({
    name: 'mcpeg_replica_available',
    help: '1 when the replica takes new work (up, healthy, not ejected, breaker not open)',
    labelNames: ['backend', 'replica'],
    registers: r,
    collect() {
      this.reset();
      for (const b of src.backends()) for (const x of b.replicaStates()) this.set({ backend: b.name, replica: x.id }, x.available ? 1 : 0);
    },
  });
  new Gauge({
    name: 'mcpeg_replica_inflight',
    help: 'Requests in flight on the replica',
    labelNames: ['backend', 'replica'],
    registers: r,
    collect() {
      this.reset();
      for (const b of src.backends()) for (const x of b.replicaStates()) this.set({ backend: b.name, replica: x.id }, x.active);
    },
  });
  new Gauge({
    name: 'mcpeg_circuit_breaker_state',
    help: 'Circuit breaker state per replica: 0 closed, 1 open, 2 half-open',
    labelNames: ['backend', 'replica'],
    registers: r,
    collect() {
      this.reset();
      for (const b of src.backends())
        for (const x of b.replicaStates()) if (x.breaker) this.set({ backend: b.name, replica: x.id }, BREAKER[x.breaker as keyof typeof BREAKER] ?? 0);
    },
  });
  // Discovery: one series per configured source (their number is the config's, not a source's).
  new Gauge({
    name: 'mcpeg_discovery_source_up',
    help: '1 when the discovery source answered last time, 0 while it fails (its last good set stays in force)',
    labelNames: ['source'],
    registers: r,
    collect() {
      this.reset();
      for (const d of src.discovery?.() ?? []) this.set({ source: d.id }, d.state === 'failing' ? 0 : 1);
    },
  });
  new Gauge({
    name: 'mcpeg_discovery_items',
    help: 'Replicas or backends in force from the discovery source',
    labelNames: ['source'],
    registers: r,
    collect() {
      this.reset();
      for (const d of src.discovery?.() ?? []) this.set({ source: d.id }, d.count);
    },
  });
  new Gauge({
    name: 'mcpeg_discovery_refused',
    help: "Entries of the discovery source's last result refused by the config (allowed_hosts, allowed_urls): they do not join",
    labelNames: ['source'],
    registers: r,
    collect() {
      this.reset();
      for (const d of src.discovery?.() ?? []) this.set({ source: d.id }, d.refusedCount);
    },
  });
  new Counter({
    name: 'mcpeg_discovery_failures_total',
    help: 'Failed reads of the discovery source',
    labelNames: ['source'],
    registers: r,
    collect() {
      this.reset();
      for (const d of src.discovery?.() ?? []) this.inc({ source: d.id }, d.failures);
    },
  });
  new Counter({
    name: 'mcpeg_discovery_updates_total',
    help: 'Results of the discovery source that were applied',
    labelNames: ['source'],
    registers: r,
    collect() {
      this.reset();
      for (const d of src.discovery?.() ?? []) this.inc({ source: d.id }, d.updates);
    },
  });
  new Gauge({
    name: 'mcpeg_tool_pin_mismatches',
    help: 'Tools served with a definition that is not approved (tool pinning), by backend and status: changed, new, unpinnable',
    labelNames: ['backend', 'status'],
    registers: r,
    collect() {
      this.reset();
      const counts = new Map<string, { backend: string; status: string; n: number }>();
      for (const m of src.pinMismatches?.() ?? []) {
        const k = `${m.backend}\0${m.status}`;
        const c = counts.get(k);
        if (c) c.n++;
        else counts.set(k, { backend: m.backend, status: m.status, n: 1 });
      }
      for (const c of counts.values()) this.set({ backend: c.backend, status: c.status }, c.n);
    },
  });
  collectDefaultMetrics({ register: registry, prefix: 'mcpeg_' });

  /** Statuses as label strings, made once each (a status is one of the gateway's own). */
  const statusText = new Map<number, string>();
  const onMcp = observer((msg: unknown) => {
    const e = msg as McpRequestEvent & { source?: unknown };
    if (e.source !== src.source) return;
    const backend = e.backend ?? '';
    // Bounded labels: a method, tool or error code outside what the gateway knows (a typo,
    // a probe, a client or backend inventing names) must not mint a series.
    const method = MCP_METHODS.has(e.method) ? e.method : '_other';
    const tool = e.tool === undefined ? '' : backend && src.isKnownTool(backend, e.tool) ? e.tool : '_other';
    mcpTotal.labels(method, backend, tool, e.outcome).inc();
    mcpDuration.labels(method, backend, tool).observe(e.durationMs / 1000);
    if (e.code) mcpErrors.labels(boundedCode(e.code), backend).inc();
  });
  const onHttp = observer((msg: unknown) => {
    const e = msg as HttpRequestEvent;
    if (e.source !== src.source) return;
    // node's parser accepts a fixed set of HTTP methods, and statuses are the gateway's own.
    let status = statusText.get(e.status);
    if (status === undefined) statusText.set(e.status, (status = String(e.status)));
    httpTotal.labels(e.endpoint, e.method, status).inc();
    httpDuration.labels(e.endpoint, e.method).observe(e.durationMs / 1000);
  });
  const onBlocked = observer((msg: unknown) => {
    const e = msg as RateLimitEvent;
    if (e.source === src.source) blocked.inc({ scope: e.scope });
  });
  subscribe(mcpRequests.name, onMcp);
  subscribe(httpRequests.name, onHttp);
  const onSlow = observer((msg: unknown) => {
    const e = msg as SlowClientsEvent;
    if (e.source === src.source) slowClosed.inc({ reason: e.reason }, e.connections);
  });
  const onRefused = observer((msg: unknown) => {
    const e = msg as ConnectionsRefusedEvent;
    if (e.source === src.source) refusedConns.inc({ reason: e.reason });
  });
  subscribe(rateLimitBlocks.name, onBlocked);
  subscribe(slowClients.name, onSlow);
  subscribe(connectionsRefused.name, onRefused);
  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    configReload: (result) => reloads.inc({ result }),
    close() {
      unsubscribe(mcpRequests.name, onMcp);
      unsubscribe(httpRequests.name, onHttp);
      unsubscribe(rateLimitBlocks.name, onBlocked);
      unsubscribe(slowClients.name, onSlow);
      unsubscribe(connectionsRefused.name, onRefused);
    },
  };
}
