/** /admin/info, /admin/instances, /admin/stats, /admin/debug: what runs, how busy it is, how the process is doing. */
import { VERSION } from '../../version.js';
import { AGGREGATE_VIEW } from '../../router/registry.js';
import { EVENT_LOOP_RESOLUTION_MS, type AdminContext } from '../context.js';
import type { RouteDef } from '../router.js';

/** Sum of a counter's samples, grouped by one label. */
async function totals(ctx: AdminContext, metric: string, label: string): Promise<Record<string, number>> {
  const m = ctx.gw.metrics.registry.getSingleMetric(metric);
  const out: Record<string, number> = {};
  if (!m) return out;
  for (const v of (await m.get()).values) {
    const k = String(v.labels[label] ?? '');
    out[k] = (out[k] ?? 0) + v.value;
  }
  return out;
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((n, v) => n + v, 0);

export const runtimeRoutes: RouteDef[] = [
  {
    method: 'GET',
    path: '/admin/info',
    handler: (_req, ctx) => ({
      body: {
        name: 'mcpeg',
        version: VERSION,
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
        pid: process.pid,
        startedAt: new Date(ctx.startedAt).toISOString(),
        uptimeSeconds: Math.round(process.uptime() * 1000) / 1000,
        configFile: ctx.configFile ?? null,
        listening: ctx.urls(),
      },
    }),
  },
  {
    method: 'GET',
    path: '/admin/instances',
    // The instances sharing the state store (state.store: redis), this one marked self; with memory, this one alone.
    handler: async (_req, ctx) => ({ body: await ctx.instances() }),
  },
  {
    method: 'GET',
    path: '/admin/stats',
    handler: async (_req, ctx) => {
      const backends = [...ctx.gw.registry.backends.values()];
      const by = (s: string) => backends.filter((b) => b.state === s).length;
      const view = ctx.gw.registry.view(AGGREGATE_VIEW);
      const outcomes = await totals(ctx, 'mcpeg_mcp_requests_total', 'outcome');
      const reloads = await totals(ctx, 'mcpeg_config_reloads_total', 'result');
      return {
        body: {
          sessions: ctx.gw.sessions.size,
          backends: { total: backends.length, up: by('up'), down: by('down'), starting: by('starting') },
          catalog: {
            tools: view?.tools.length ?? 0,
            resources: view?.resources.length ?? 0,
            resourceTemplates: view?.resourceTemplates.length ?? 0,
            prompts: view?.prompts.length ?? 0,
          },
          requests: { total: sum(outcomes), byOutcome: outcomes, inflight: backends.reduce((n, b) => n + b.inflight, 0) },
          errors: await totals(ctx, 'mcpeg_mcp_errors_total', 'code'),
          configReloads: { success: reloads.success ?? 0, failure: reloads.failure ?? 0 },
        },
      };
    },
  },
  {
    method: 'GET',
    path: '/admin/debug',
    handler: (_req, ctx) => {
      const resources: Record<string, number> = {};
      for (const r of process.getActiveResourcesInfo()) resources[r] = (resources[r] ?? 0) + 1;
      const h = ctx.eventLoop;
      // Each sample is the time between two timer ticks: the delay is what exceeds the interval.
      const ms = (ns: number) => (Number.isFinite(ns) ? Math.max(0, Math.round((ns - EVENT_LOOP_RESOLUTION_MS * 1e6) / 1e4) / 100) : 0);
      return {
        body: {
          memory: process.memoryUsage(),
          resourceUsage: process.resourceUsage(),
          eventLoopDelayMs: { min: ms(h.min), mean: ms(h.mean), p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) },
          activeResources: resources,
          pids: { gateway: process.pid, backends: Object.fromEntries([...ctx.gw.registry.backends.values()].map((b) => [b.name, b.pids()])) },
        },
      };
    },
  },
];
