/**
 * /admin/discovery: where the services come from. The config file (provider "static":
 * a trigger re-reads it, exactly like POST /admin/config/reload), and the discovery
 * sources of this instance (docs/discovery.md): each one's state and last result, and
 * the backends they created.
 */
import { configured } from '../describe.js';
import type { RouteDef } from '../router.js';
import { reloadFromFile } from './config.js';

export const discoveryRoutes: RouteDef[] = [
  {
    method: 'GET',
    path: '/admin/discovery/status',
    handler: (_req, ctx) => ({
      body: {
        provider: 'static',
        source: ctx.configFile ?? null,
        triggerable: ctx.configFile !== undefined,
        services: configured(ctx.gw.config).length,
        lastSync: ctx.lastSync ?? null,
        sources: ctx.gw.discovery.status(),
      },
    }),
  },
  {
    method: 'GET',
    path: '/admin/discovery/services',
    handler: (_req, ctx) => ({
      body: {
        provider: 'static',
        services: [
          ...configured(ctx.gw.config).map((e) => ({
            name: e.name,
            type: e.type,
            enabled: e.enabled,
            source: 'config',
            state: ctx.gw.registry.backend(e.name)?.state ?? (e.enabled ? 'not_loaded' : 'disabled'),
          })),
          ...ctx.gw.discovery.discovered().map((d) => ({
            name: d.name,
            type: 'mcp' as const,
            enabled: true,
            source: d.source,
            state: ctx.gw.registry.backend(d.name)?.state ?? 'not_loaded',
            url: d.url,
            origin: d.origin,
          })),
        ],
      },
    }),
  },
  {
    method: 'POST',
    path: '/admin/discovery/trigger',
    handler: async (req, ctx) => ({ body: { provider: 'static', source: ctx.configFile!, result: await reloadFromFile(req, ctx, 'discovery/trigger') } }),
  },
];
