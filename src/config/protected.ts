/**
 * The paths the gateway itself executes or trusts, computed from a validated config. A
 * plugin that reads or changes files for an MCP client (editor, git) must neither read nor
 * change them, nor anything inside a protected directory (issue #14): a client that could
 * write one would turn a file write into code execution or a leaked secret at the next
 * reload, restart or spawn. What is protected, and why:
 *
 * - the config file: read again on SIGHUP, admin reload and `--dev` watch; it holds secrets;
 * - `paths.data`: the memory plugin's log, the git plugin's per-call config copies;
 * - third-party plugin modules: a path, or a package and the node_modules it is looked up in;
 * - programs the gateway starts (mcp stdio `command`, `replicas`, command backends' tools,
 *   programs the admin API may start) and the files given to them as arguments (a script
 *   like `server.js`). A bare name is looked up on the PATH its process gets, so it is
 *   protected under that name in every PATH directory: one inside a root would otherwise
 *   let a client put its own program first. The git plugin's `git` and `ssh` likewise;
 * - the tool pins' lock file (`pinning.lock_file`): whoever writes it approves tool definitions;
 * - the kubeconfig of a Kubernetes discovery source (the file named, else the default ones):
 *   its `exec` credential plugin is a program the gateway starts, and it holds credentials;
 *   and what it names (kubeconfig-refs.ts): certificate, key and token files, the programs
 *   it starts for credentials. Without a kubeconfig, in a cluster, the service account's
 *   directory (its token and CA);
 * - OpenAPI documents read from files, and with remote_refs their directory ($refs are
 *   read from there);
 * - the gateway's own code: `<package>/dist`, `node_modules`, `package.json`,
 *   `deploy/scripts`, the node_modules the package is installed in, and the Node.js runtime.
 *   Not the package directory itself: `npm start` in a checkout has its workspace inside.
 *
 * Each path is listed as given (made absolute) and by real path where that differs (the
 * longest existing prefix resolved; a missing file can still be created), so a symlink on
 * the way and the file it leads to are both covered.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, delimiter, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILTIN_PLUGINS } from '../plugins/loader.js';
import { envWords } from './env-words.js';
import { kubeconfigRefs } from './kubeconfig-refs.js';
import type { Config } from './schema.js';

export interface ProtectedPath {
  /** Absolute; a directory protects everything inside it. */
  readonly path: string;
  /** Why, for error messages: "the gateway's config file", "a plugin module", ... */
  readonly reason: string;
}

export interface ProtectedOptions {
  /** The file the config was loaded from (GatewayOptions.configFile). */
  configFile?: string | undefined;
  /** The gateway's environment: the PATH programs inherit. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Where mcp stdio children start without `cwd`. Default process.cwd(). */
  cwd?: string;
  /** The gateway's package directory. Default: the one this file belongs to. */
  packageRoot?: string;
  /** Files the CLI writes and trusts: the PID file, its state file (the argv `restart` runs), the log file. */
  stateFiles?: readonly string[];
  /**
   * The lock file the running gateway's pins are read from and written to: the one of the
   * config it started with (pinning.lock_file changes only at restart), protected whatever
   * a later snapshot names.
   */
  lockFile?: string | undefined;
}

export const REASONS = {
  config: "the gateway's config file",
  data: "the gateway's data directory",
  module: 'a plugin module',
  packages: 'a directory plugin packages are loaded from',
  program: 'a program the gateway starts',
  argument: 'a file a program the gateway starts is given',
  adminProgram: 'a program the admin API may start',
  openapi: 'an OpenAPI document the gateway reads',
  openapiRefs: "the directory an OpenAPI document's $refs are read from",
  code: "the gateway's own code",
  runtime: 'the Node.js runtime',
  state: "the gateway's process state (PID file, restart command, log)",
  pins: "the tool pins' lock file (writing it approves tool definitions)",
  kubeconfig: 'a kubeconfig the gateway reads (its exec credential plugin is a program the gateway starts; it holds cluster credentials)',
  kubeconfigFile: 'a certificate, key or token file a kubeconfig the gateway reads names',
  serviceAccount: "the Kubernetes service account's credentials (token, CA) the gateway reads in a cluster",
} as const;

/** Where a pod's service-account token, CA and namespace are (the Kubernetes client's SERVICEACCOUNT_ROOT). */
const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Arguments that name a script even before it exists (a client could create it). */
const SCRIPT = /\.(?:[cm]?[jt]sx?|py|rb|pl|php|sh|bash|lua|jar)$/i;

export function protectedPaths(config: Readonly<Config>, opts: ProtectedOptions = {}): readonly ProtectedPath[] {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const base = config.paths.base ?? cwd;
  const out = new Map<string, string>();
  const add = (p: string, reason: string) => {
    const abs = resolve(p);
    for (const form of [abs, realish(abs)]) if (!out.has(form)) out.set(form, reason);
  };
  const program = (command: string, args: readonly string[], dir: string, path: string | undefined) => {
    // As execvp: a name with a slash is a path (relative to the child's cwd), else each PATH entry ("" is the cwd).
    if (command.includes('/')) add(resolve(dir, command), REASONS.program);
    else for (const entry of (path ?? '').split(delimiter)) add(resolve(dir, entry, command), REASONS.program);
    for (const a of args) {
      // "--require=./hook.js" names a file after the "=".
      const value = a.startsWith('-') ? (a.includes('=') ? a.slice(a.indexOf('=') + 1) : '') : a;
      if (value === '') continue;
      const p = resolve(dir, value);
      if (isFileish(p)) add(p, REASONS.argument);
    }
  };

  if (opts.configFile !== undefined) add(resolve(cwd, opts.configFile), REASONS.config);
  for (const f of opts.stateFiles ?? []) add(resolve(cwd, f), REASONS.state);
  add(config.paths.data, REASONS.data);

  for (const p of config.plugins) {
    const spec = p.module ?? p.name;
    if (BUILTIN_PLUGINS.includes(spec)) {
      if (spec === 'git') for (const name of ['git', 'ssh']) program(name, [], cwd, env.PATH);
      continue;
    }
    if (spec.startsWith('file:')) add(fileURLToPath(spec), REASONS.module);
    else if (isAbsolute(spec)) add(spec, REASONS.module);
    else {
      // As the loader: a package is found from the config's directory upwards.
      const req = createRequire(join(base, 'package.json'));
      for (const d of req.resolve.paths(spec) ?? []) add(d, REASONS.packages);
      try {
        add(req.resolve(spec), REASONS.module);
      } catch {
        // not installed: its lookup directories are protected above
      }
    }
  }

  for (const b of Object.values(config.backends)) {
    if (b.type === 'mcp') {
      // spawn() resolves a relative cwd against the gateway's own; PATH is the SDK default unless env sets it.
      // The env's values are arguments too: NODE_OPTIONS="--require ./hook.cjs" loads a file as an argument would.
      if (b.command) program(b.command, [...b.args, ...envWords(b.env)], resolve(cwd, b.cwd ?? '.'), b.env.PATH ?? env.PATH);
      for (const r of b.replicas ?? [])
        program(r.command, [...r.args, ...envWords({ ...b.env, ...r.env })], resolve(cwd, r.cwd ?? b.cwd ?? '.'), r.env.PATH ?? b.env.PATH ?? env.PATH);
      const kube = b.discovery?.kubernetes;
      if (kube) {
        // As the Kubernetes client reads it (discovery/kubernetes/source.ts): the file named, else $KUBECONFIG's files, else ~/.kube/config.
        const kubeconfigs: string[] = [];
        if (kube.kubeconfig !== undefined) kubeconfigs.push(resolve(base, kube.kubeconfig));
        else {
          const files = (env.KUBECONFIG ?? '').split(delimiter).filter((f) => f !== '');
          for (const f of files) kubeconfigs.push(resolve(cwd, f));
          if (files.length === 0 && env.HOME) kubeconfigs.push(join(env.HOME, '.kube', 'config'));
          add(SERVICE_ACCOUNT, REASONS.serviceAccount);
        }
        for (const k of kubeconfigs) {
          add(k, REASONS.kubeconfig);
          const refs = kubeconfigRefs(k);
          for (const f of refs.files) for (const dir of [refs.dir, cwd]) add(resolve(dir, f), REASONS.kubeconfigFile);
          for (const p of refs.programs) for (const dir of [refs.dir, cwd]) program(p.command, p.args, dir, p.path ?? env.PATH);
        }
      }
    } else if (b.type === 'command') {
      for (const t of Object.values(b.tools)) {
        const dir = resolve(base, t.cwd ?? b.cwd ?? config.paths.workspace);
        const path = t.env.PATH ?? b.env.PATH ?? (b.env_allow.includes('PATH') ? env.PATH : undefined);
        program(t.command, [...t.args.flatMap((a) => (typeof a === 'string' ? [a] : a.then)), ...envWords({ ...b.env, ...t.env })], dir, path);
      }
    } else if (b.type === 'openapi' && b.spec !== 'auto' && !/^https?:\/\//i.test(b.spec)) {
      const spec = resolve(base, b.spec);
      add(spec, REASONS.openapi);
      if (b.remote_refs) add(dirname(spec), REASONS.openapiRefs);
    }
  }
  for (const p of [...config.admin.allowed_commands, ...config.admin.allow.programs]) add(p, REASONS.adminProgram);
  add(config.pinning.lock_file, REASONS.pins);
  if (opts.lockFile !== undefined) add(opts.lockFile, REASONS.pins);

  const pkg = opts.packageRoot ?? packageRoot();
  if (pkg !== undefined) {
    for (const rel of ['dist', 'node_modules', 'package.json', 'deploy/scripts']) add(join(pkg, rel), REASONS.code);
    // Installed as a dependency: its own dependencies are hoisted into the node_modules that holds it.
    for (let d = dirname(pkg); d !== dirname(d); d = dirname(d)) {
      if (basename(d) === 'node_modules') {
        add(d, REASONS.code);
        break;
      }
    }
  }
  add(process.execPath, REASONS.runtime);
  return Object.freeze([...out].map(([path, reason]) => Object.freeze({ path, reason })));
}

/**
 * The list for each config snapshot, computed once per snapshot (configs are frozen).
 * Given two (the config in force and one being applied), their entries together. The same
 * arguments give the same array, so a consumer can cache what it derives from it.
 */
export function protectedPathsCache(opts: ProtectedOptions): (current: Readonly<Config>, incoming?: Readonly<Config>) => readonly ProtectedPath[] {
  const cache = new WeakMap<object, readonly ProtectedPath[]>();
  const one = (c: Readonly<Config>) => {
    let list = cache.get(c);
    if (!list) cache.set(c, (list = protectedPaths(c, opts)));
    return list;
  };
  let both: { current: object; incoming: object; list: readonly ProtectedPath[] } | undefined;
  return (current, incoming) => {
    if (incoming === undefined) return one(current);
    if (both?.current !== current || both.incoming !== incoming) both = { current, incoming, list: Object.freeze([...one(current), ...one(incoming)]) };
    return both.list;
  };
}

/**
 * How paths are compared: without case, in one Unicode form. On a case-insensitive
 * filesystem (macOS, Windows) `MCPEG.YAML` is the config file; elsewhere refusing a file
 * that differs only in case costs nothing.
 */
export const pathKey = (p: string): string => p.normalize('NFC').toLowerCase();

/** Matches absolute, normalised paths against one list (a listing checks every entry: keys are computed once). */
export class ProtectedMatcher {
  private readonly keys: readonly string[];
  constructor(readonly list: readonly ProtectedPath[]) {
    this.keys = list.map((e) => pathKey(e.path));
  }

  /** The entry protecting `p` (`p` is it or lies inside it), if any. */
  covering(p: string): ProtectedPath | undefined {
    const key = pathKey(p);
    const i = this.keys.findIndex((k) => within(k, key));
    return i < 0 ? undefined : this.list[i];
  }

  /** An entry strictly inside directory `dir`: deleting or moving it would take that along. */
  inside(dir: string): ProtectedPath | undefined {
    const key = pathKey(dir);
    const i = this.keys.findIndex((k) => k !== key && within(key, k));
    return i < 0 ? undefined : this.list[i];
  }
}

function within(dir: string, p: string): boolean {
  return p === dir || p.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/** An existing file (not a directory: `/srv/files` handed to a file server is its data), or a missing script. */
function isFileish(p: string): boolean {
  try {
    return !statSync(p).isDirectory();
  } catch {
    return SCRIPT.test(p);
  }
}

/** The real path of the longest existing prefix, with the rest appended. */
function realish(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    const parent = dirname(p);
    return parent === p ? p : join(realish(parent), basename(p));
  }
}

/** The nearest directory above this module with a package.json: mcpeg's own. */
function packageRoot(): string | undefined {
  for (let d = dirname(fileURLToPath(import.meta.url)); d !== dirname(d); d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) return d;
  }
  return undefined;
}
