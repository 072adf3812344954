/**
 * What the allowed_hosts tests of the replica sources share: the attacker's listener (a real
 * HTTP server on 127.0.0.2, a loopback address the config does not list, standing for a host
 * elsewhere), a logger that keeps the gateway's warnings, and the source's refusals as
 * /health and /metrics report them.
 */
import { createLogger, type Logger } from '../../src/observability/logger.js';
import { type HttpRecorder, startRecorder } from './http-recorder.js';
import { startGateway } from './gateway.js';

/** The header every test backend carries: it must never reach the attacker. */
export const SECRET_HEADER = { authorization: 'Bearer backend-secret-0123456789' };

/** Answers anything as an MCP server would accept an initialize, so only the gateway's checks keep it out. */
export async function startAttacker(host = '127.0.0.2'): Promise<HttpRecorder> {
  const rec = await startRecorder(host);
  rec.route('*', /.*/, (r) => ({
    status: 200,
    headers: { 'content-type': 'application/json', 'mcp-session-id': 'attacker' },
    body: { jsonrpc: '2.0', id: safeId(r.body), result: { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'attacker', version: '1' } } },
  }));
  return rec;
}

function safeId(body: string): unknown {
  try {
    return (JSON.parse(body) as { id?: unknown }).id ?? null;
  } catch {
    return null;
  }
}

/** A gateway with one backend `web` (shared session, SECRET_HEADER) whose replicas come from `discovery`. */
export function gatewayWith(discovery: Record<string, unknown>, logger?: Logger): ReturnType<typeof startGateway> {
  return startGateway({ backends: { web: { type: 'mcp', session_mode: 'shared', connect_timeout: '5s', headers: SECRET_HEADER, discovery } } }, logger ? { logger } : {});
}

/** A logger at warn that keeps its lines. */
export function keptLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger('warn', { write: (s: string) => void lines.push(s) }), lines };
}

export interface SourceState {
  id: string;
  state: string;
  refused: string[];
  refusedCount: number;
  lastError: string | null;
}

/** The source `id` on /health (default: the first). */
export async function sourceState(base: string, id?: string): Promise<SourceState> {
  const all = ((await (await fetch(`${base}/health`)).json()) as { discovery: SourceState[] }).discovery;
  const s = id === undefined ? all[0] : all.find((d) => d.id === id);
  if (!s) throw new Error(`no discovery source ${id} on /health`);
  return s;
}

export async function refusedMetric(base: string, source: string): Promise<number | undefined> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = new RegExp(`^mcpeg_discovery_refused\\{source="${source}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}
