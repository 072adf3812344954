/**
 * Every change through the admin API goes one way: build the next raw config from the
 * running one → validate (400 naming key paths; nothing changed) → refuse privileged
 * changes the config file does not allow (403, privileged.ts: programs, plugin reach,
 * secrets, the admin section) → gw.reload (build off to the side, swap; a snapshot that
 * cannot be built is refused and the old one keeps serving).
 */
import type { Config } from '../config/schema.js';
import { validateConfig } from '../config/load.js';
import { ConfigError } from '../errors/catalog.js';
import type { ReloadResult } from '../reconfigure.js';
import type { AdminContext } from './context.js';
import { AdminError } from './http.js';
import { describePrivileged, privilegedChanges } from './privileged.js';
import type { AdminRequest } from './router.js';

/** Names of the backends and plugins of a config (for before/after summaries). */
export function serviceNames(c: Readonly<Config>): string[] {
  return [...Object.keys(c.backends), ...c.plugins.map((p) => p.name)];
}

export function validate(raw: unknown, source: string, baseDir: string): Readonly<Config> {
  try {
    return validateConfig(raw, source, new Map(), baseDir);
  } catch (err) {
    if (err instanceof ConfigError) throw new AdminError('MCPEG_ERR_CONFIG_INVALID', err.message.split('\n')[0], { problems: [...err.problems] });
    throw err;
  }
}

export interface ChangeOptions {
  /** Refuses privileged changes the config file does not allow (off for the operator's own config file). */
  privileged: boolean;
  /** Applies the change (default gw.reload). */
  apply?: (next: Readonly<Config>) => Promise<ReloadResult>;
}

export async function applyConfig(ctx: AdminContext, req: AdminRequest, next: Readonly<Config>, opts: ChangeOptions): Promise<ReloadResult> {
  const current = ctx.gw.config;
  if (opts.privileged) {
    const refused = privilegedChanges(current, next).map(describePrivileged);
    if (refused.length) {
      req.audit.refused = refused;
      throw new AdminError('MCPEG_ERR_ADMIN_FORBIDDEN', `the change needs what the config file does not allow: ${refused.join('; ')}`, { problems: refused });
    }
  }
  req.audit.before = { services: serviceNames(current) };
  let result: ReloadResult;
  try {
    result = await (opts.apply ?? ((n) => ctx.gw.reload(n)))(next);
  } catch (err) {
    if (err instanceof AdminError) throw err;
    const problems = err instanceof ConfigError ? [...err.problems] : [];
    throw new AdminError(
      'MCPEG_ERR_CONFIG_INVALID',
      `the change was refused and nothing changed: ${(err as Error).message.split('\n')[0]}`,
      problems.length ? { problems } : undefined,
    );
  }
  // The admin listener itself is not rebound by a reload.
  for (const k of ['enabled', 'host', 'port', 'max_connections'] as const)
    if (current.admin[k] !== next.admin[k]) result = { ...result, restartRequired: [...result.restartRequired, `admin.${k}`] };
  req.audit.after = { services: serviceNames(ctx.gw.config) };
  req.audit.result = result;
  if (ctx.changed) {
    // Applied here whatever happens next; the other instances get it when Redis takes it (docs/scaling.md#admin-changes).
    await ctx.changed(ctx.gw.config).then(
      () => (req.audit.shared = true),
      (err: Error) => {
        req.audit.shared = false;
        ctx.log.error({ err: err.message }, 'an admin change applied on this instance could not be shared with the others');
      },
    );
  }
  return result;
}
