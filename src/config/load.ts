/**
 * Loads configuration: YAML file (or the embedded default) → `${VAR}` expansion →
 * `MCPEG_A__B=value` environment overrides → schema validation → deep freeze.
 * Every problem names the file, the key path and what was expected.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
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
  const baseDir = opts.file === undefined ? process.cwd() : dirname(resolve(opts.file));
  return parseConfigText(text, source, env, opts.overrides ?? [], baseDir);
}

export function parseConfigText(
  text: string,
  source: string,
  env: NodeJS.ProcessEnv = process.env,
  overrides: Array<{ path: string[]; value: unknown }> = [],
  baseDir: string = process.cwd(),
): Readonly<Config> {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      `${source}: invalid YAML`,
      doc.errors.map((e) => e.message.split('\n')[0]),
    );
  }
  let raw: unknown = doc.toJS() ?? {};
  const expansionProblems: string[] = [];
  raw = expandVars(raw, env, [], expansionProblems);
  if (expansionProblems.length) throw new ConfigError(`${source}: invalid configuration`, expansionProblems);
  // Where a key came from, when not the file: named in the error so the user finds it.
  const origins = new Map<string, string>();
  for (const [path, value, name] of envOverrides(env)) {
    const { root, resolved } = setPath(raw, path, value);
    raw = root;
    origins.set(resolved.join('.'), `environment variable ${name}`);
  }
  for (const o of overrides) {
    const { root, resolved } = setPath(raw, o.path, o.value);
    raw = root;
    origins.set(resolved.join('.'), 'command-line option');
  }
  return validateConfig(raw, source, origins, baseDir);
}

/**
 * Validates a raw config object. Relative paths (`paths.data`, `paths.workspace`,
 * `pinning.lock_file`, plugin modules given as `./file.js`) resolve against `paths.base`, which defaults to `baseDir`
 * (the config file's directory, or the working directory).
 */
export function validateConfig(raw: unknown, source: string, origins: ReadonlyMap<string, string> = new Map(), baseDir: string = process.cwd()): Readonly<Config> {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`${source}: invalid configuration`, formatIssues(parsed.error.issues, origins));
  }
  const c = parsed.data;
  const base = resolve(baseDir, c.paths.base ?? '.');
  c.paths = { ...c.paths, base, data: resolve(base, c.paths.data), workspace: resolve(base, c.paths.workspace) };
  c.pinning = { ...c.pinning, lock_file: resolve(base, c.pinning.lock_file) };
  c.plugins = c.plugins.map((p) => (p.module && /^\.\.?[\\/]/.test(p.module) ? { ...p, module: resolve(base, p.module) } : p));
  return deepFreeze(c);
}

export function formatIssues(issues: readonly z.core.$ZodIssue[], origins: ReadonlyMap<string, string> = new Map()): string[] {
  const from = (path: string) => {
    for (const [p, o] of origins) if (path === p || path.startsWith(`${p}.`)) return ` (set by ${o})`;
    return '';
  };
  return issues.map((i) => {
    const key = i.path.length ? i.path.map(String).join('.') : '(root)';
    if (i.code === 'invalid_key') return `${key}: ${i.issues.map((x) => x.message).join('; ')}${from(key)}`;
    if (i.code === 'unrecognized_keys') {
      const prefix = i.path.length ? `${key}.` : '';
      return i.keys.map((k) => `${prefix}${k}: unknown key${from(prefix + k)}`).join('; ');
    }
    return `${key}: ${i.message}${from(key)}`;
  });
}

const WHOLE_VAR = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-.*?)?\}$/;

/**
 * `${VAR}` and `${VAR:-default}` inside string values; `$${` escapes a literal `${`.
 * A value that is exactly one `${...}` is read as a YAML scalar, so `port: ${PORT}` is a number.
 */
function expandVars(v: unknown, env: NodeJS.ProcessEnv, path: string[], problems: string[]): unknown {
  if (typeof v === 'string') {
    if (!v.includes('${')) return v;
    const out = v.replace(/\$?\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}/g, (match: string, name: string, def: string | undefined) => {
      if (match.startsWith('$$')) return match.slice(1);
      const value = env[name];
      if (value !== undefined && value !== '') return value;
      if (def !== undefined) return def;
      problems.push(`${path.join('.') || '(root)'}: environment variable ${name} is not set and has no default (write \${${name}:-default})`);
      return '';
    });
    return WHOLE_VAR.test(v) ? scalar(out) : out;
  }
  if (Array.isArray(v)) return v.map((x, i) => expandVars(x, env, [...path, String(i)], problems));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = expandVars(x, env, [...path, k], problems);
    return out;
  }
  return v;
}

/** A string read as a YAML scalar: "9000" → 9000, "true" → true, "[a, b]" → an array. */
function scalar(v: string): unknown {
  try {
    const doc = parseDocument(v);
    return doc.errors.length ? v : (doc.toJS() ?? v);
  } catch {
    return v;
  }
}

/**
 * `MCPEG_SERVER__PORT=9000` → server.port = 9000; values are read as YAML scalars. Key
 * segments match existing keys without regard to case (so backend `GitHub` is reachable
 * as MCPEG_BACKENDS__GITHUB__...); new keys are lower-case.
 */
export function envOverrides(env: NodeJS.ProcessEnv): Array<[string[], unknown, string]> {
  const out: Array<[string[], unknown, string]> = [];
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith(ENV_PREFIX) || v === undefined || !k.includes('__')) continue;
    const path = k.slice(ENV_PREFIX.length).split('__');
    if (path.some((p) => p === '')) continue;
    out.push([path, scalar(v), k]);
  }
  return out;
}

function setPath(root: unknown, path: string[], value: unknown): { root: unknown; resolved: string[] } {
  const base: Record<string, unknown> = root && typeof root === 'object' && !Array.isArray(root) ? { ...(root as Record<string, unknown>) } : {};
  const [head, ...rest] = path;
  const key = Object.keys(base).find((k) => k === head) ?? Object.keys(base).find((k) => k.toLowerCase() === head.toLowerCase()) ?? head.toLowerCase();
  if (rest.length === 0) {
    base[key] = value;
    return { root: base, resolved: [key] };
  }
  const inner = setPath(base[key], rest, value);
  base[key] = inner.root;
  return { root: base, resolved: [key, ...inner.resolved] };
}

export function deepFreeze<T>(o: T): Readonly<T> {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
