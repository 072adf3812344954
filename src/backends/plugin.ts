/**
 * Runs a loaded plugin (plugins/loader.ts) as a backend: its data directory is created and
 * its start() called on the first session (in-process.ts serves it).
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from '../observability/logger.js';
import { inProcessTransports, type InProcessFactory } from './in-process.js';
import type { PluginContext, ProtectedPath } from '../plugins/api.js';
import type { LoadedPlugin } from '../plugins/loader.js';

export interface PluginPaths {
  base: string;
  data: string;
  workspace: string;
  /** What file plugins must not touch, for the config in force at the moment of asking. */
  protectedPaths(): readonly ProtectedPath[];
}

export function pluginTransports(p: LoadedPlugin, paths: PluginPaths, log: Logger): InProcessFactory {
  return inProcessTransports(
    p.cfg.name,
    p.def.version,
    async () => {
      const dataDir = join(paths.data, p.cfg.name);
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      mkdirSync(paths.workspace, { recursive: true });
      const ctx: PluginContext = {
        name: p.cfg.name,
        dataDir,
        workspaceDir: paths.workspace,
        resolvePath: (x) => resolve(paths.base, x),
        get protectedPaths() {
          return paths.protectedPaths();
        },
        log,
      };
      return p.def.start(p.config, ctx);
    },
    'eager',
  );
}
