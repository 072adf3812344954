/**
 * /admin/discovery: MCpeg discovers services from its configuration only (provider
 * "static"). The status and the services say so; a trigger re-reads the config file,
 * exactly like POST /admin/config/reload.
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
      },
    }),
  },
  {
    method: 'GET',
    path: '/admin/discovery/services',
    handler: (_req, ctx) => ({
      body: {
        provider: 'static',
        services: configured(ctx.gw.config).map((e) => ({
          name: e.name,
          type: e.type,
          enabled: e.enabled,
          source: 'config',
          state: ctx.gw.registry.backend(e.name)?.state ?? (e.enabled ? 'not_loaded' : 'disabled'),
        })),
      },
    }),
  },
  {
    method: 'POST',
    path: '/admin/discovery/trigger',
    handler: async (req, ctx) => ({ body: { provider: 'static', source: ctx.configFile!, result: await reloadFromFile(req, ctx, 'discovery/trigger') } }),
  },
];
