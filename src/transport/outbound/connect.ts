/**
 * Opens the client transport for one MCP backend: a stdio child (stdio-transport.ts),
 * Streamable HTTP (http-transport.ts), or legacy SSE (the SDK's SSEClientTransport). `transport: auto` tries Streamable HTTP first and falls back to SSE when the
 * endpoint answers the initialize POST with 4xx (the backwards-compatibility procedure of
 * the 2025-03-26 transport spec). The SDK modules (its SSE client, its stdio defaults) are
 * loaded on first use: a gateway with only Streamable HTTP backends never loads them.
 */
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { StreamableHttpClient } from './http-transport.js';
import type { ConnectGuard } from './connect-guard.js';
import { StdioClient } from './stdio-transport.js';
import { boundedSseFetch, limitedFetch } from './sse-fetch.js';
import type { ParamHeader } from '../../wire/stateless.js';
import type { UpstreamCredential } from '../../auth/upstream-credential.js';
import type { McpBackendConfig } from '../../config/schema.js';
import type { Logger } from '../../observability/logger.js';
import type { BackendOutput } from '../../observability/backend-output.js';

export type TransportKind = 'stdio' | 'streamable_http' | 'sse' | 'inprocess';

/** How a Backend opens its sessions: one per backend kind (MCP server, plugin). */
export interface TransportFactory {
  readonly initialKind: TransportKind;
  create(kind: TransportKind): OpenedTransport | Promise<OpenedTransport>;
  /** The kind to retry with after `err`, if any (Streamable HTTP → SSE for `transport: auto`). */
  fallback?(kind: TransportKind, err: unknown): TransportKind | undefined;
  /** Releases what the factory holds (a plugin instance) when the backend stops. */
  stop?(): Promise<void>;
  /** The backend's own health check (a plugin's health hook), if it has one. */
  health?(): Promise<{ ok: boolean; detail?: string }>;
}

/**
 * The factory for `type: mcp` backends. `output`: where its processes' stderr lines go, the
 * budget every replica and process of the backend shares (observability/backend-output.ts).
 * `guard`: the addresses its connections may reach are checked (discovered replicas, connect-guard.ts).
 */
export function mcpTransports(name: string, cfg: McpBackendConfig, log: Logger, output: BackendOutput, guard?: ConnectGuard): TransportFactory {
  // Deviations from the transport spec the gateway tolerates: each logged once per backend (endpoint), not per message.
  const seen = new Set<string>();
  const deviation = (what: string) => {
    if (seen.has(what)) return;
    seen.add(what);
    log.warn({ deviation: what }, 'backend deviates from the MCP transport spec; tolerated');
  };
  return {
    initialKind: initialKind(cfg),
    create: (kind) => createTransport(name, cfg, kind, output, deviation, guard),
    // Per-user credentials need a header per request, which the legacy SSE transport cannot send.
    fallback: (kind, err) => (kind === 'streamable_http' && !cfg.credentials && shouldFallBackToSse(cfg, err) ? 'sse' : undefined),
  };
}

export interface OpenedTransport {
  transport: Transport;
  kind: TransportKind;
  /** Called after initialize, so HTTP transports send MCP-Protocol-Version. */
  setProtocolVersion(v: string | undefined): void;
  /** Streamable HTTP: where the transport finds a tool's x-mcp-header declarations (SEP-2243). */
  setParamHeaders?(fn: (tool: string) => ParamHeader[]): void;
  /** Streamable HTTP: the per-user credential of the principal a per-client session belongs to. */
  setCredential?(fn: () => Promise<UpstreamCredential | undefined>): void;
  pid?: number | null;
}

export async function createTransport(
  _name: string,
  cfg: McpBackendConfig,
  kind: TransportKind,
  output: BackendOutput,
  deviation?: (what: string) => void,
  guard?: ConnectGuard,
): Promise<OpenedTransport> {
  if (kind === 'stdio') {
    const { getDefaultEnvironment } = await import('@modelcontextprotocol/sdk/client/stdio.js');
    const t = new StdioClient({
      command: cfg.command!,
      args: cfg.args,
      // The SDK's default environment (HOME, PATH, ...), not the gateway's whole env.
      env: { ...getDefaultEnvironment(), ...cfg.env },
      cwd: cfg.cwd,
      onStderrLine: (buf, start, end) => output.stderr(buf, start, end),
    });
    return {
      transport: t,
      kind,
      setProtocolVersion: () => {},
      get pid() {
        return t.pid;
      },
    };
  }
  const url = new URL(cfg.url!);
  if (kind === 'sse') {
    const { SSEClientTransport } = await import('@modelcontextprotocol/sdk/client/sse.js');
    // The SDK adds requestInit headers to both the GET stream and the message POSTs. What the backend sends it is
    // bounded (sse-fetch.ts); an event past the bound ends the connection, as the backend going would. A POST may
    // take the longest a call of the backend may (its answer is 202 at once; a server that answers after the work still fits).
    const longest = Math.max(cfg.timeout, ...Object.values(cfg.tools ?? {}).map((p) => p.timeout ?? 0));
    const fetch = boundedSseFetch(guard?.fetch ?? limitedFetch, longest, (err) => {
      t.onerror?.(err);
      void t.close();
    });
    const t = new SSEClientTransport(url, { requestInit: { headers: { ...cfg.headers } }, fetch });
    return { transport: t, kind, setProtocolVersion: (v) => v && t.setProtocolVersion(v) };
  }
  const t = new StreamableHttpClient(url, { ...cfg.headers }, deviation, guard, cfg.keep_alive_timeout);
  return {
    transport: t,
    kind,
    setProtocolVersion: (v) => t.setProtocolVersion(v),
    setParamHeaders: (fn) => (t.paramHeaders = fn),
    setCredential: (fn) => (t.authorize = fn),
  };
}

/** The first transport kind to try for a backend; `auto` starts with Streamable HTTP. */
export function initialKind(cfg: McpBackendConfig): TransportKind {
  if (cfg.command) return 'stdio';
  return cfg.transport === 'sse' ? 'sse' : 'streamable_http';
}

/** Whether a failed Streamable HTTP initialize should be retried over legacy SSE. */
export function shouldFallBackToSse(cfg: McpBackendConfig, err: unknown): boolean {
  if (cfg.transport !== 'auto' || cfg.command) return false;
  const e = err as { code?: unknown; data?: { status?: unknown } };
  const status = typeof e?.code === 'number' ? e.code : e?.data?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}
