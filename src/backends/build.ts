/**
 * From a config entry to a Backend: one way, used when the gateway starts and on every
 * reload (reconfigure.ts builds off to the side with it, then swaps). `mcp`, `rest`,
 * `openapi` and `command` backends get their transport factories from factory.ts; a
 * plugin's module is loaded and checked (plugins/loader.ts), then run in process
 * (plugin.ts). The Backend is built, not started.
 */
import type { BackendConfig, Config, PluginConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { backendOutput } from '../observability/backend-output.js';
import type { ProtectedPath } from '../plugins/api.js';
import { loadPlugin } from '../plugins/loader.js';
import { Backend, type BackendListener } from '../upstream/backend.js';
import { credentialSource } from '../upstream/credentials/source.js';
import type { ConnectGuard } from '../transport/outbound/connect-guard.js';
import { backendReplicas, relayOptions } from './factory.js';
import { pluginTransports } from './plugin.js';

/**
 * One backend of a config: a `backends` entry, or a plugin (`index`: its place in `plugins`,
 * for error paths). `guard`: a backend a discovery source created; its connections' addresses
 * are checked (connect-guard.ts).
 */
export type BackendEntry = { kind: 'backend'; cfg: BackendConfig; guard?: ConnectGuard } | { kind: 'plugin'; cfg: PluginConfig; index: number };

export interface BuildDeps {
  log: Logger;
  /** Told when the backend's catalog, state or a subscribed resource changes. */
  listener: BackendListener;
  /** What file plugins must not touch, asked each time they touch something. */
  protectedPaths(): readonly ProtectedPath[];
}

/** The enabled backends and plugins of a config by name: backends first, each in config order. */
export function backendEntries(config: Readonly<Config>): Map<string, BackendEntry> {
  const out = new Map<string, BackendEntry>();
  for (const [name, cfg] of Object.entries(config.backends)) if (cfg.enabled) out.set(name, { kind: 'backend', cfg });
  config.plugins.forEach((cfg, index) => {
    if (cfg.enabled) out.set(cfg.name, { kind: 'plugin', cfg, index });
  });
  return out;
}

/** Throws if it cannot be built (a plugin module that fails to load or rejects its config). */
export async function buildBackend(name: string, entry: BackendEntry, paths: Readonly<Config['paths']>, deps: BuildDeps): Promise<Backend> {
  const { log, listener } = deps;
  if (entry.kind === 'backend') {
    const cfg = entry.cfg;
    // One budget for everything the backend's replicas and processes make the gateway log.
    const output = backendOutput(name, log, cfg.type === 'mcp' ? cfg.log_output : undefined);
    const specs = backendReplicas(name, cfg, { base: paths.base!, workspace: paths.workspace }, log.child({ backend: name }), output, entry.guard);
    const credentials = cfg.type !== 'command' && cfg.credentials ? credentialSource(name, cfg.credentials, log.child({ backend: name })) : undefined;
    return new Backend(name, relayOptions(cfg), specs, log, listener, credentials, output);
  }
  const loaded = await loadPlugin(entry.cfg, entry.index, paths.base!);
  const factory = pluginTransports(loaded, { base: paths.base!, data: paths.data, workspace: paths.workspace, protectedPaths: deps.protectedPaths }, log.child({ plugin: name }));
  return new Backend(name, entry.cfg, [{ transports: factory, weight: 1 }], log, listener);
}
