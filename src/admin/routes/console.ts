/**
 * What the web console needs that no other route gives: the tool catalog as clients see it
 * (with each tool's backend and schema), a tool call through the gateway (admin role),
 * the recent audit lines, and recent metric series for charts.
 */
import { ERRORS, type ErrorCode } from '../../errors/catalog.js';
import { AGGREGATE_VIEW } from '../../router/registry.js';
import { AdminError } from '../http.js';
import type { RouteDef } from '../router.js';
import { tryTool } from '../try-tool.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A console call waits this long at most (the backend's own timeouts apply first). */
const CALL_TIMEOUT_MS = 120_000;

/** A backend's error without a gateway code: JSON-RPC's reserved codes by name; any other is the backend's own (data.rpc has it). */
const RPC_CODES: Record<number, ErrorCode> = {
  [-32700]: 'MCPEG_ERR_PARSE',
  [-32600]: 'MCPEG_ERR_INVALID_REQUEST',
  [-32601]: 'MCPEG_ERR_METHOD_NOT_FOUND',
  [-32602]: 'MCPEG_ERR_INVALID_PARAMS',
};

function readCall(v: unknown): { name: string; arguments: Record<string, unknown> } {
  if (!isObject(v)) throw new AdminError('MCPEG_ERR_INVALID_PARAMS', 'expected a JSON object {"name": "...", "arguments": {...}}');
  for (const k of Object.keys(v)) if (k !== 'name' && k !== 'arguments') throw new AdminError('MCPEG_ERR_INVALID_PARAMS', `${k}: unknown key (name, arguments)`);
  if (typeof v.name !== 'string' || v.name === '') throw new AdminError('MCPEG_ERR_INVALID_PARAMS', 'name: expected the name of a tool as clients see it (GET /admin/tools)');
  if (v.arguments !== undefined && !isObject(v.arguments)) throw new AdminError('MCPEG_ERR_INVALID_PARAMS', 'arguments: expected a JSON object');
  return { name: v.name, arguments: (v.arguments as Record<string, unknown> | undefined) ?? {} };
}

export const consoleRoutes: RouteDef[] = [
  // The console shows or hides its change buttons by role (the API refuses a viewer's changes either way).
  { method: 'GET', path: '/admin/me', handler: (req) => ({ body: { name: req.who.name, role: req.who.role } }) },
  {
    method: 'GET',
    path: '/admin/tools',
    handler: (_req, ctx) => {
      const view = ctx.gw.registry.view(AGGREGATE_VIEW);
      const tools = (view?.tools ?? []).map((t, i) => ({
        name: t.name,
        backend: view!.origins.tools[i]?.backend ?? null,
        ownName: view!.origins.tools[i]?.name ?? null,
        title: t.title ?? null,
        description: t.description ?? null,
        inputSchema: t.inputSchema ?? null,
        annotations: t.annotations ?? null,
      }));
      return { body: { tools } };
    },
  },
  {
    method: 'POST',
    path: '/admin/tools/call',
    async handler(req, ctx) {
      const call = readCall((await req.body()).value);
      req.audit.target = { tool: call.name };
      const answer = await tryTool(ctx.gw, req.who, call.name, call.arguments, CALL_TIMEOUT_MS);
      if ('error' in answer) {
        // Refused or failed (unknown tool, authorization, pinning, backend down): 400, never a 200 that failed.
        const e = answer.error;
        const named = (e.data as { mcpegCode?: unknown } | undefined)?.mcpegCode;
        const code: ErrorCode = typeof named === 'string' && Object.hasOwn(ERRORS, named) ? (named as ErrorCode) : (RPC_CODES[e.code] ?? 'MCPEG_ERR_BACKEND_PROTOCOL');
        req.audit.code = code;
        throw new AdminError(code, `tools/call ${call.name}: ${e.message}`, { rpc: { code: e.code, message: e.message, ...(e.data === undefined ? {} : { data: e.data }) } }, 400);
      }
      return { body: { result: answer.result } };
    },
  },
  {
    method: 'GET',
    path: '/admin/audit',
    handler: (_req, ctx) => {
      // Newest first, changes and refusals merged by time (ISO timestamps sort as strings; the sort is stable).
      const { done, refused } = ctx.recentAudit;
      const entries = [...done, ...refused].reverse().sort((a, b) => (a.at === b.at ? 0 : String(a.at) < String(b.at) ? 1 : -1));
      return { body: { entries, kept: entries.length, max: ctx.maxAudit } };
    },
  },
  {
    method: 'GET',
    path: '/admin/metrics/series',
    handler: (_req, ctx) => ({ body: { intervalMs: ctx.series.intervalMs, points: ctx.series.series } }),
  },
];
