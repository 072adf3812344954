/** /admin/plugins: list, get, config (get, put), tools, resources, health (one, all), metrics, capabilities. */
import type { Config } from '../../config/schema.js';
import { exposedName } from '../../router/naming.js';
import { applyConfig, validate } from '../change.js';
import type { AdminContext } from '../context.js';
import { capabilities, configured, detail, findService, health, summary } from '../describe.js';
import { AdminError } from '../http.js';
import { checkRestored, redact, restoreRedacted } from '../redact.js';
import type { RouteDef } from '../router.js';

const plugin = (ctx: AdminContext, name: string) => findService(ctx, name, 'plugin');

const plugins = (ctx: AdminContext) => configured(ctx.gw.config).filter((e) => e.type === 'plugin');

/** Samples of one metric whose `backend` label is the plugin's name. */
async function samples(ctx: AdminContext, metric: string, backend: string) {
  const m = ctx.gw.metrics.registry.getSingleMetric(metric);
  if (!m) return [];
  const { values } = await m.get();
  return values.filter((v) => v.labels.backend === backend);
}

export const pluginRoutes: RouteDef[] = [
  {
    method: 'GET',
    path: '/admin/plugins',
    handler: (_req, ctx) => ({
      body: {
        plugins: plugins(ctx).map((e) => ({
          ...summary(e, ctx.gw.registry.backend(e.name)),
          module: (e.cfg as { module?: string }).module ?? e.name,
          version: ctx.gw.registry.backend(e.name)?.info?.serverInfo.version ?? null,
        })),
      },
    }),
  },
  /** Plugin health lives at /admin/plugin-health, not /admin/plugins/health: a plugin may be called "health". */
  {
    method: 'GET',
    path: '/admin/plugin-health',
    handler: async (_req, ctx) => {
      const list = await Promise.all(plugins(ctx).map((e) => health(e, ctx.gw.registry.backend(e.name))));
      return { body: { healthy: list.every((p) => p.healthy || p.state === 'disabled'), plugins: list } };
    },
  },
  {
    method: 'GET',
    path: '/admin/plugins/{name}',
    handler: (req, ctx) => {
      const { entry, backend } = plugin(ctx, req.params.name);
      return { body: { ...detail(entry, backend), module: (entry.cfg as { module?: string }).module ?? entry.name } };
    },
  },
  {
    method: 'GET',
    path: '/admin/plugins/{name}/config',
    handler: (req, ctx) => {
      const { entry } = plugin(ctx, req.params.name);
      return { body: { name: entry.name, config: redact((entry.cfg as { config: unknown }).config) } };
    },
  },
  {
    method: 'PUT',
    path: '/admin/plugins/{name}/config',
    async handler(req, ctx) {
      plugin(ctx, req.params.name);
      const { value } = await req.body();
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw new AdminError('MCPEG_ERR_INVALID_PARAMS', "expected the plugin's config as a JSON object");
      const current = ctx.gw.config;
      const raw = structuredClone(current) as Config;
      const i = raw.plugins.findIndex((x) => x.name === req.params.name);
      const restored = restoreRedacted(value, current.plugins[i].config, ['plugins', String(i), 'config']);
      raw.plugins[i].config = restored.value as Record<string, unknown>;
      const next = validate(raw, `PUT /admin/plugins/${req.params.name}/config`, current.paths.base!);
      checkRestored(current, next, restored.restored);
      const result = await applyConfig(ctx, req, next, { privileged: true });
      return { body: { name: req.params.name, result } };
    },
  },
  {
    method: 'GET',
    path: '/admin/plugins/{name}/tools',
    handler: (req, ctx) => {
      const { entry, backend } = plugin(ctx, req.params.name);
      const sep = ctx.gw.config.namespacing.separator;
      const prefix = backend?.prefix ?? entry.name;
      return { body: { name: entry.name, tools: (backend?.catalog.tools ?? []).map((t) => ({ ...t, exposedAs: exposedName(prefix, sep, String(t.name)) })) } };
    },
  },
  {
    method: 'GET',
    path: '/admin/plugins/{name}/resources',
    handler: (req, ctx) => {
      const { entry, backend } = plugin(ctx, req.params.name);
      return { body: { name: entry.name, resources: backend?.catalog.resources ?? [], resourceTemplates: backend?.catalog.resourceTemplates ?? [] } };
    },
  },
  {
    method: 'GET',
    path: '/admin/plugins/{name}/health',
    handler: async (req, ctx) => {
      const { entry, backend } = plugin(ctx, req.params.name);
      return { body: await health(entry, backend) };
    },
  },
  {
    method: 'GET',
    path: '/admin/plugins/{name}/metrics',
    handler: async (req, ctx) => {
      const { entry } = plugin(ctx, req.params.name);
      const requests = (await samples(ctx, 'mcpeg_mcp_requests_total', entry.name)).map((v) => ({
        method: String(v.labels.method),
        tool: String(v.labels.tool ?? ''),
        outcome: String(v.labels.outcome),
        count: v.value,
      }));
      const errors = (await samples(ctx, 'mcpeg_mcp_errors_total', entry.name)).map((v) => ({ code: String(v.labels.code), count: v.value }));
      const durations = await samples(ctx, 'mcpeg_mcp_request_duration_seconds', entry.name);
      const sum = (suffix: string) => durations.filter((v) => (v as { metricName?: string }).metricName?.endsWith(suffix)).reduce((n, v) => n + v.value, 0);
      return {
        body: {
          name: entry.name,
          requests,
          total: requests.reduce((n, r) => n + r.count, 0),
          errors,
          duration: { count: sum('_count'), sumSeconds: sum('_sum') },
        },
      };
    },
  },
  {
    method: 'GET',
    path: '/admin/plugins/{name}/capabilities',
    handler: (req, ctx) => {
      const { entry, backend } = plugin(ctx, req.params.name);
      return { body: capabilities(entry, backend) };
    },
  },
];
