/**
 * Loads configuration: YAML file (or the embedded default) → `${VAR}` expansion →
 * `MCPEG_A__B=value` environment overrides → schema validation → deep freeze.
 * Every problem names the file, the key path and what was expected.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors/catalog.js';
import { configSchema, type Config } from './schema.js';
import { DEFAULT_CONFIG_YAML } from './default.js';

export interface LoadOptions {
  /** Path of the YAML file; undefined loads the embedded default. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Applied last (CLI flags such as --port). */
  overrides?: Array<{ path: string[]; value: unknown }>;
}

export const ENV_PREFIX = 'MCPEG_';

export function loadConfig(opts: LoadOptions = {}): Readonly<Config> {
  const env = opts.env ?? process.env;
  const source = opts.file ?? '<embedded default>';
  let text: string;
  if (opts.file === undefined) text = DEFAULT_CONFIG_YAML;
  else {
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      throw new ConfigError(`${source}: cannot read config file: ${(err as Error).message}`);
    }
  }
  return parseConfigText(text, source, env, opts.overrides ?? []);
}

export function parseConfigText(
  text: string,
  source: string,
  env: NodeJS.ProcessEnv = process.env,
  overrides: Array<{ path: string[]; value: unknown }> = [],
): Readonly<Config> {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(`${source}: invalid YAML`, doc.errors.map((e) => e.message.split('\n')[0]));
  }
  let raw: unknown = doc.toJS() ?? {};
  const expansionProblems: string[] = [];
  raw = expandVars(raw, env, [], expansionProblems);
  if (expansionProblems.length) throw new ConfigError(`${source}: invalid configuration`, expansionProblems);
  for (const [path, value] of envOverrides(env)) raw = setPath(raw, path, value);
  for (const o of overrides) raw = setPath(raw, o.path, o.value);
  return validateConfig(raw, source);
}

export function validateConfig(raw: unknown, source: string): Readonly<Config> {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`${source}: invalid configuration`, formatIssues(parsed.error.issues));
  }
  return deepFreeze(parsed.data);
}

export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((i) => {
    const key = i.path.length ? i.path.map(String).join('.') : '(root)';
    if (i.code === 'unrecognized_keys') {
      return `${i.path.length ? key + '.' : ''}${i.keys.join(', ')}: unknown key${i.keys.length > 1 ? 's' : ''}`;
    }
    return `${key}: ${i.message}`;
  });
}


/** `${VAR}` and `${VAR:-default}` inside string values; `$${` escapes a literal `${`. */
function expandVars(v: unknown, env: NodeJS.ProcessEnv, path: string[], problems: string[]): unknown {
  if (typeof v === 'string') {
    if (!v.includes('${')) return v;
    return v.replace(/\$?\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}/g, (match: string, name: string, def: string | undefined) => {
      if (match.startsWith('$$')) return match.slice(1);
      const value = env[name];
      if (value !== undefined && value !== '') return value;
      if (def !== undefined) return def;
      problems.push(`${path.join('.') || '(root)'}: environment variable ${name} is not set and has no default (write \${${name}:-default})`);
      return '';
    });
  }
  if (Array.isArray(v)) return v.map((x, i) => expandVars(x, env, [...path, String(i)], problems));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = expandVars(x, env, [...path, k], problems);
    return out;
  }
  return v;
}

/** `MCPEG_SERVER__PORT=9000` → server.port = 9000; values are read as YAML scalars. */
export function envOverrides(env: NodeJS.ProcessEnv): Array<[string[], unknown]> {
  const out: Array<[string[], unknown]> = [];
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith(ENV_PREFIX) || v === undefined || !k.includes('__')) continue;
    const path = k.slice(ENV_PREFIX.length).split('__').map((p) => p.toLowerCase());
    if (path.some((p) => p === '')) continue;
    let value: unknown = v;
    try {
      value = parseDocument(v).toJS();
    } catch {
      value = v;
    }
    out.push([path, value]);
  }
  return out;
}

function setPath(root: unknown, path: string[], value: unknown): unknown {
  const base: Record<string, unknown> = root && typeof root === 'object' && !Array.isArray(root) ? { ...(root as Record<string, unknown>) } : {};
  const [head, ...rest] = path;
  base[head] = rest.length === 0 ? value : setPath(base[head], rest, value);
  return base;
}

export function deepFreeze<T>(o: T): Readonly<T> {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
