/** /admin/services: list, register, get, delete, health, capabilities; /admin/service-types. */
import type { Config } from '../../config/schema.js';
import { applyConfig, validate } from '../change.js';
import { capabilities, configured, detail, findService, health, summary } from '../describe.js';
import { AdminError } from '../http.js';
import type { RouteDef } from '../router.js';

/**
 * Service types live at /admin/service-types, not /admin/services/types: a backend may be
 * called "types", and /admin/services/{name} must reach it.
 */
const TYPES = [
  { type: 'mcp', description: 'An MCP server: a stdio child (command, replicas) or remote over Streamable HTTP / SSE (url, endpoints)', startsPrograms: true },
  { type: 'rest', description: 'Tools declared in the config, each one HTTP call to base_url', startsPrograms: false },
  { type: 'openapi', description: 'Tools generated from an OpenAPI document (spec: file, URL or auto)', startsPrograms: false },
  { type: 'command', description: 'Tools mapped to programs run without a shell (tools.<name>.command)', startsPrograms: true },
  { type: 'plugin', description: 'An in-process plugin: a built-in (memory, git, editor) or an ES module (module)', startsPrograms: true },
] as const;

interface Registration {
  name: string;
  config: Record<string, unknown> & { type: string };
}

function readRegistration(v: unknown): Registration {
  const r = v as Partial<Registration> | null;
  if (!r || typeof r !== 'object' || Array.isArray(r)) throw new AdminError('MCPEG_ERR_INVALID_PARAMS', 'expected a JSON object {name, config}');
  if (typeof r.name !== 'string' || r.name === '') throw new AdminError('MCPEG_ERR_INVALID_PARAMS', 'name: expected a non-empty string');
  // "__proto__" would set the prototype of the backends map instead of adding an entry.
  if (r.name in Object.prototype) throw new AdminError('MCPEG_ERR_INVALID_PARAMS', `name: "${r.name}" is reserved (a property of every JavaScript object); pick another`);
  if (!r.config || typeof r.config !== 'object' || Array.isArray(r.config) || typeof r.config.type !== 'string') {
    throw new AdminError('MCPEG_ERR_INVALID_PARAMS', `config: expected an object with "type" (${TYPES.map((t) => t.type).join(', ')})`);
  }
  return r as Registration;
}

export const serviceRoutes: RouteDef[] = [
  {
    method: 'GET',
    path: '/admin/services',
    handler: (_req, ctx) => ({ body: { services: configured(ctx.gw.config).map((e) => summary(e, ctx.gw.registry.backend(e.name))) } }),
  },
  {
    method: 'POST',
    path: '/admin/services',
    async handler(req, ctx) {
      const reg = readRegistration((await req.body()).value);
      req.audit.target = { name: reg.name, type: reg.config.type };
      const current = ctx.gw.config;
      if (configured(current).some((e) => e.name === reg.name))
        throw new AdminError('MCPEG_ERR_CONFLICT', `a service named "${reg.name}" exists; DELETE it first or change it with PUT /admin/config`);
      const raw = structuredClone(current) as Config;
      const isPlugin = reg.config.type === 'plugin';
      if (isPlugin) {
        const { type: _type, ...plugin } = reg.config;
        (raw.plugins as unknown[]).push({ ...plugin, name: reg.name });
      } else Object.defineProperty(raw.backends, reg.name, { value: reg.config, enumerable: true, writable: true, configurable: true });
      const next = validate(raw, 'POST /admin/services', current.paths.base!);
      const result = await applyConfig(ctx, req, next, {
        privileged: true,
        apply: isPlugin ? undefined : (n) => ctx.gw.addBackend(reg.name, n.backends[reg.name]),
      });
      const { entry, backend } = findService(ctx, reg.name);
      return { status: 201, body: { name: reg.name, result, service: summary(entry, backend) } };
    },
  },
  {
    method: 'GET',
    path: '/admin/services/{name}',
    handler: (req, ctx) => {
      const { entry, backend } = findService(ctx, req.params.name);
      return { body: detail(entry, backend) };
    },
  },
  {
    method: 'DELETE',
    path: '/admin/services/{name}',
    async handler(req, ctx) {
      findService(ctx, req.params.name);
      const result = await applyConfig(ctx, req, ctx.gw.config, { privileged: false, apply: () => ctx.gw.removeBackend(req.params.name) });
      return { body: { name: req.params.name, result } };
    },
  },
  {
    method: 'GET',
    path: '/admin/services/{name}/health',
    handler: async (req, ctx) => {
      const { entry, backend } = findService(ctx, req.params.name);
      return { body: await health(entry, backend) };
    },
  },
  {
    method: 'GET',
    path: '/admin/services/{name}/capabilities',
    handler: (req, ctx) => {
      const { entry, backend } = findService(ctx, req.params.name);
      return { body: capabilities(entry, backend) };
    },
  },
  { method: 'GET', path: '/admin/service-types', handler: () => ({ body: { types: TYPES } }) },
];
