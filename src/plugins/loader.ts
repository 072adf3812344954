/**
 * Loads plugin modules named in the config: a built-in by name, an ES module by path, or
 * a package by name. Checks the export is a plugin definition and validates the plugin's
 * `config` against its schema (defaults applied). A plugin that fails is reported and
 * left out, unless it is `required`.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PluginConfig } from '../config/schema.js';
import type { PluginDefinition } from './api.js';
import { asError } from '../util/as-error.js';
import { createAjv, describeAjvErrors } from '../util/json-schema.js';
import { own } from '../util/own.js';

const BUILTINS: Record<string, () => Promise<{ default: PluginDefinition<never> }>> = {
  memory: () => import('./memory/plugin.js'),
  git: () => import('./git/plugin.js'),
  editor: () => import('./editor/plugin.js'),
};

export const BUILTIN_PLUGINS = Object.keys(BUILTINS);

export interface LoadedPlugin {
  readonly cfg: PluginConfig;
  readonly def: PluginDefinition<Record<string, unknown>>;
  /** The plugin's config after validation, with the schema's defaults. */
  readonly config: Record<string, unknown>;
}

export class PluginLoadError extends Error {
  constructor(
    readonly plugin: string,
    message: string,
  ) {
    super(`plugin "${plugin}": ${message}`);
    this.name = 'PluginLoadError';
  }
}

export async function loadPlugin(cfg: PluginConfig, index: number, baseDir: string): Promise<LoadedPlugin> {
  const spec = cfg.module ?? cfg.name;
  let mod: Record<string, unknown>;
  try {
    const builtin = own(BUILTINS, spec);
    mod = builtin ? await builtin() : await import(moduleUrl(spec, baseDir));
  } catch (err) {
    const known = cfg.module ? '' : ` (no built-in plugin is called "${spec}"; built-ins: ${BUILTIN_PLUGINS.join(', ')}; set "module" for others)`;
    throw new PluginLoadError(cfg.name, `cannot load module "${spec}"${known}: ${firstLine(asError(err).message)}`);
  }
  const def = (mod.default ?? mod.plugin) as PluginDefinition<Record<string, unknown>> | undefined;
  if (!def || typeof def !== 'object' || typeof def.name !== 'string' || typeof def.version !== 'string' || typeof def.start !== 'function') {
    throw new PluginLoadError(cfg.name, `module "${spec}" does not export a plugin definition (a default or "plugin" export with name, version and start())`);
  }
  const config = structuredClone(cfg.config) as Record<string, unknown>;
  if (def.configSchema) {
    const ajv = createAjv();
    let validate: ReturnType<typeof ajv.compile>;
    try {
      validate = ajv.compile(def.configSchema);
    } catch (err) {
      throw new PluginLoadError(cfg.name, `its configSchema is not a valid JSON Schema: ${(err as Error).message}`);
    }
    if (!validate(config)) throw new PluginLoadError(cfg.name, `invalid config: ${describeAjvErrors(validate.errors, `plugins.${index}.config`)}`);
  }
  return { cfg, def, config };
}

/** Paths were made absolute by the config loader; anything else is a package name. */
function moduleUrl(spec: string, baseDir: string): string {
  if (spec.startsWith('/') || /^[a-zA-Z]:[\\/]/.test(spec)) return pathToFileURL(spec).href;
  if (spec.startsWith('file:')) return spec;
  // Resolve a package from the config's directory first, so a project can install its plugins.
  try {
    return pathToFileURL(createRequire(join(baseDir, 'package.json')).resolve(spec)).href;
  } catch {
    return spec;
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0];
}
