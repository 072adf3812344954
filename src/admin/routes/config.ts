/** /admin/config: the running snapshot (secrets redacted), replace it (PUT), reload the file. */
import { ConfigError } from '../../errors/catalog.js';
import { applyConfig, validate } from '../change.js';
import type { AdminContext } from '../context.js';
import { AdminError } from '../http.js';
import { checkRestored, redact, restoreRedacted } from '../redact.js';
import type { AdminRequest, RouteDef } from '../router.js';

/**
 * Re-reads the config file and applies it (POST /admin/config/reload, discovery trigger).
 * The file is the operator's own: nothing in it is privileged.
 */
export async function reloadFromFile(req: AdminRequest, ctx: AdminContext, by: string) {
  if (!ctx.configFile) throw new AdminError('MCPEG_ERR_CONFLICT', 'the gateway was not started from a config file, so there is nothing to reload; use PUT /admin/config');
  req.audit.file = ctx.configFile;
  let next: ReturnType<typeof ctx.loadFile>;
  try {
    next = ctx.loadFile();
  } catch (err) {
    ctx.lastSync = { at: new Date().toISOString(), by, ok: false, error: (err as Error).message.split('\n')[0] };
    if (err instanceof ConfigError) throw new AdminError('MCPEG_ERR_CONFIG_INVALID', err.message.split('\n')[0], { problems: [...err.problems] });
    throw err;
  }
  try {
    const result = await applyConfig(ctx, req, next, { privileged: false });
    ctx.lastSync = { at: new Date().toISOString(), by, ok: true, result };
    return result;
  } catch (err) {
    ctx.lastSync = { at: new Date().toISOString(), by, ok: false, error: (err as Error).message };
    throw err;
  }
}

export const configRoutes: RouteDef[] = [
  {
    method: 'GET',
    path: '/admin/config',
    handler: (_req, ctx) => ({ body: { file: ctx.configFile ?? null, config: redact(ctx.gw.config) } }),
  },
  {
    method: 'PUT',
    path: '/admin/config',
    yaml: true,
    async handler(req, ctx) {
      const { value } = await req.body();
      if (!value || typeof value !== 'object' || Array.isArray(value))
        throw new AdminError('MCPEG_ERR_INVALID_PARAMS', 'expected the whole configuration as a JSON object or a YAML mapping');
      const current = ctx.gw.config;
      // The document is taken as sent: no ${VAR} expansion, no MCPEG_* overrides.
      const restored = restoreRedacted(value, current);
      const next = validate(restored.value, 'PUT /admin/config', current.paths.base!);
      checkRestored(current, next, restored.restored);
      const result = await applyConfig(ctx, req, next, { privileged: true });
      return { body: { result } };
    },
  },
  {
    method: 'POST',
    path: '/admin/config/reload',
    handler: async (req, ctx) => ({ body: { file: ctx.configFile!, result: await reloadFromFile(req, ctx, 'config/reload') } }),
  },
];
