/**
 * Opens the SDK client transport for one MCP backend: a stdio child, Streamable HTTP or
 * legacy SSE. `transport: auto` tries Streamable HTTP first and falls back to SSE when the
 * endpoint answers the initialize POST with 4xx (the backwards-compatibility procedure of
 * the 2025-03-26 transport spec).
 */
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import type { McpBackendConfig } from '../../config/schema.js';
import type { Logger } from '../../observability/logger.js';

export type TransportKind = 'stdio' | 'streamable_http' | 'sse';

export interface OpenedTransport {
  transport: Transport;
  kind: TransportKind;
  /** Called after initialize, so HTTP transports send MCP-Protocol-Version. */
  setProtocolVersion(v: string): void;
  pid?: number | null;
}

export function createTransport(name: string, cfg: McpBackendConfig, kind: TransportKind, log: Logger): OpenedTransport {
  if (kind === 'stdio') {
    const t = new StdioClientTransport({
      command: cfg.command!,
      args: [...cfg.args],
      env: { ...getDefaultEnvironment(), ...cfg.env },
      ...(cfg.cwd ? { cwd: cfg.cwd } : {}),
      stderr: 'pipe',
    });
    pipeStderr(name, t, log);
    return { transport: t, kind, setProtocolVersion: () => {}, get pid() { return t.pid; } };
  }
  const url = new URL(cfg.url!);
  const requestInit: RequestInit = { headers: { ...cfg.headers } };
  if (kind === 'sse') {
    // The SDK adds requestInit headers to both the GET stream and the message POSTs.
    const t = new SSEClientTransport(url, { requestInit });
    return { transport: t, kind, setProtocolVersion: (v) => t.setProtocolVersion(v) };
  }
  const t = new StreamableHTTPClientTransport(url, { requestInit });
  return { transport: t, kind, setProtocolVersion: (v) => t.setProtocolVersion(v) };
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

function pipeStderr(name: string, t: StdioClientTransport, log: Logger): void {
  const stream = t.stderr;
  if (!stream) return;
  let buf = '';
  stream.on('data', (chunk: string | Buffer) => {
    buf += chunk.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trimEnd();
      buf = buf.slice(nl + 1);
      if (line) log.info({ stream: 'stderr' }, line);
    }
    if (buf.length > 64 * 1024) {
      log.info({ stream: 'stderr' }, buf);
      buf = '';
    }
  });
}
