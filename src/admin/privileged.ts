/**
 * The one check every change through the admin API passes (change.ts): the running config
 * is compared with the proposed one, and whatever would let the gateway reach, run or send
 * more than it does now is privileged — refused (403) unless the config FILE allows it.
 * The file's word is the running config's `admin` section, which the API cannot change,
 * so an admin key cannot grant itself more. Narrowing is never privileged.
 *
 * | What                                                           | Allowed by (in the file)        |
 * | -------------------------------------------------------------- | ------------------------------- |
 * | `admin.*` (keys, limits), `secrets` (the declaration),         | nothing: edit the file          |
 * | `server.host`, `allowed_hosts`, `allowed_origins`, `cors`,     |                                 |
 * | `auth.*` (who may call: keys, issuer, allow_unauthenticated)   |                                 |
 * | a new program: command/args/env/cwd, a non-built-in plugin     | admin.allow.programs, admin.allowed_commands |
 * | plugin reach (reach.ts), `paths.*`, OpenAPI file specs/$refs   | admin.allow.reach               |
 * | a declared secret (*_env) to a new destination; more env_allow | admin.allow.environment         |
 * | `authorization` (rules, default)                               | admin.allow.policy              |
 * | a backend's `credentials` (per-user: audience, scope, default, | nothing: edit the file          |
 * | removal…) or the URL a backend with `credentials` is sent to   |                                 |
 * | `discovery.*` (registration, registries: allowed_urls, bounds) | nothing: edit the file          |
 * | tool pinning weaker for a backend (block → warn → off),        | nothing: edit the file          |
 * | `pinning.lock_file`                                            |                                 |
 *
 * Pinning: an approval through the API (POST /admin/pins/approve) pins one reviewed
 * definition and is audited as such; switching pinning off (or to warn) would let every
 * later change of every tool through unreviewed, and moving the lock file would leave
 * the file in use (read until restart) outside the protected paths (config/protected.ts).
 */
import { isDeepStrictEqual } from 'node:util';
import { backendEntries } from '../backends/build.js';
import { commandBackendSchema } from '../config/backends.js';
import type { Config } from '../config/schema.js';
import { envReferences } from '../config/secret-fields.js';
import { refusedLaunches } from './allow-list.js';
import { backendDestination } from './destination.js';
import { pluginReachProblems } from './reach.js';

export interface Privileged {
  /** Key path in the proposed config. */
  path: string;
  why: string;
  /** The config-file setting that would allow it; undefined: only the file itself can make this change. */
  allowedBy: string | undefined;
}

/** Server keys that decide who can reach the MCP endpoint (applied at restart, from the file). */
const EXPOSURE = ['host', 'allowed_hosts', 'allowed_origins', 'cors'] as const;

const DEFAULT_ENV_ALLOW: readonly string[] = commandBackendSchema.shape.env_allow.parse(undefined);

const own = <T>(o: Readonly<Record<string, T>>, k: string): T | undefined => (Object.hasOwn(o, k) ? o[k] : undefined);

/** Keys of two objects whose values differ. */
function changedKeys(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !isDeepStrictEqual(own(a, k), own(b, k)));
}

const isFileSpec = (spec: string) => spec !== 'auto' && !/^https?:\/\//i.test(spec);

export function privilegedChanges(current: Readonly<Config>, next: Readonly<Config>): Privileged[] {
  const allow = current.admin.allow;
  const out: Privileged[] = [];

  for (const k of changedKeys(current.admin, next.admin)) out.push({ path: `admin.${k}`, why: "the admin API's own keys and limits", allowedBy: undefined });
  if (!isDeepStrictEqual(current.secrets, next.secrets)) out.push({ path: 'secrets', why: 'the environment variables the config may send', allowedBy: undefined });
  for (const k of EXPOSURE)
    if (!isDeepStrictEqual(current.server[k], next.server[k])) out.push({ path: `server.${k}`, why: 'who can reach the MCP endpoint', allowedBy: undefined });
  // Authentication is to callers what server.host is to reachers: an admin key that could add a key of its own,
  // trust another issuer or switch authentication off would decide who may call every tool.
  for (const k of changedKeys(current.auth, next.auth)) out.push({ path: `auth.${k}`, why: 'who may call the MCP endpoints', allowedBy: undefined });
  // Authorization rules decide what each caller may use: a key that could rewrite them could open every tool to everyone.
  if (!allow.policy && !isDeepStrictEqual(current.authorization, next.authorization))
    out.push({ path: 'authorization', why: 'which backends, tools, prompts and resources each caller may use', allowedBy: 'admin.allow.policy: true' });

  for (const p of pinningWeakened(current, next)) out.push(p);
  // What registrar keys and registries may make the gateway reach (allowed_urls, bounds): the file's word only.
  for (const k of changedKeys(current.discovery, next.discovery))
    out.push({ path: `discovery.${k}`, why: 'what discovery sources and registrar keys may make the gateway reach and hold', allowedBy: undefined });

  for (const l of refusedLaunches(current, next, [...current.admin.allowed_commands, ...allow.programs]))
    out.push({ ...l, allowedBy: 'admin.allow.programs (or admin.allowed_commands) to list it' });

  // A token exchange sends every caller's access token to its token endpoint: only the config file may name one.
  for (const [name, b] of Object.entries(next.backends)) {
    const endpoint = tokenEndpointOf(b);
    const cur = own(current.backends, name);
    if (endpoint !== undefined && endpoint !== (cur && tokenEndpointOf(cur)))
      out.push({ path: `backends.${name}.credentials.token_endpoint`, why: "sends every caller's access token to this authorization server", allowedBy: undefined });
  }
  // The rest of `credentials` decides which caller's credential goes where: another audience or scope sends every caller's
  // token for another service to this backend; another URL sends the exchanged tokens to another host (they are no config
  // secret, so the redaction check does not hold them back); `default: static` or no `credentials` at all hands the
  // gateway's own credential to principals the file gave none.
  for (const [name, cur] of Object.entries(current.backends)) {
    const was = cur.type !== 'command' ? cur.credentials : undefined;
    const b = own(next.backends, name);
    // A changed token endpoint is refused above already.
    if (!was || !b || (tokenEndpointOf(b) !== undefined && tokenEndpointOf(b) !== tokenEndpointOf(cur))) continue;
    if (!isDeepStrictEqual(was, b.type !== 'command' ? b.credentials : undefined))
      out.push({ path: `backends.${name}.credentials`, why: "decides whose credential each caller's calls carry, and for which audience", allowedBy: undefined });
    else if (!isDeepStrictEqual(backendDestination(cur), backendDestination(b)))
      out.push({ path: `backends.${name}`, why: "moves where each caller's per-user credential (credentials) is sent: another URL or host", allowedBy: undefined });
  }

  const reach = (name?: string) => allow.reach === true || (name !== undefined && Array.isArray(allow.reach) && allow.reach.includes(name));
  const REACH = 'admin.allow.reach';
  if (!reach())
    for (const k of changedKeys(current.paths, next.paths))
      out.push({ path: `paths.${k}`, why: 'moves the directories plugins and programs work in', allowedBy: `${REACH}: true` });
  for (const p of pluginReachProblems(current, next)) if (!reach(p.plugin)) out.push({ path: p.path, why: p.why, allowedBy: `${REACH} (true, or a list naming "${p.plugin}")` });
  for (const [name, b] of Object.entries(next.backends)) {
    if (b.type !== 'openapi' || reach(name)) continue;
    const cur = own(current.backends, name);
    const was = cur?.type === 'openapi' ? cur : undefined;
    if (isFileSpec(b.spec) && was?.spec !== b.spec)
      out.push({ path: `backends.${name}.spec`, why: `reads the file ${JSON.stringify(b.spec)}`, allowedBy: `${REACH} (true, or a list naming "${name}")` });
    if (b.remote_refs && !(was?.remote_refs && was.spec === b.spec))
      out.push({ path: `backends.${name}.remote_refs`, why: 'follows $refs to other files and URLs', allowedBy: `${REACH} (true, or a list naming "${name}")` });
  }

  if (!allow.environment) {
    const ENV = 'admin.allow.environment: true';
    for (const r of envReferences(next)) {
      const cur = own(current.backends, r.backend);
      const kept = cur && valueAt(cur, r.path.slice(2)) === r.variable && isDeepStrictEqual(backendDestination(cur), backendDestination(next.backends[r.backend]));
      if (!kept) out.push({ path: r.path.join('.'), why: `sends the value of ${r.variable} to a destination the config file did not give it`, allowedBy: ENV });
    }
    for (const [name, b] of Object.entries(next.backends)) {
      if (b.type !== 'command') continue;
      const cur = own(current.backends, name);
      const base = cur?.type === 'command' ? cur.env_allow : DEFAULT_ENV_ALLOW;
      const added = b.env_allow.filter((v) => !base.includes(v));
      if (added.length) out.push({ path: `backends.${name}.env_allow`, why: `gives programs ${added.join(', ')} from the gateway's environment`, allowedBy: ENV });
    }
  }
  return out;
}

const PIN_STRENGTH = { off: 0, warn: 1, block: 2 } as const;

/**
 * Backends (and plugins) whose pinning mode would be weaker than now; a service the API
 * adds is held to the global mode in force. Also a moved lock file.
 */
function pinningWeakened(current: Readonly<Config>, next: Readonly<Config>): Privileged[] {
  const out: Privileged[] = [];
  const WHY = 'lets tool definitions that nobody approved reach clients (tool pinning)';
  if (current.pinning.lock_file !== next.pinning.lock_file)
    out.push({ path: 'pinning.lock_file', why: 'moves the tool pins (whoever writes them approves tool definitions)', allowedBy: undefined });
  const globally = PIN_STRENGTH[next.pinning.mode] < PIN_STRENGTH[current.pinning.mode];
  if (globally) out.push({ path: 'pinning.mode', why: WHY, allowedBy: undefined });
  const before = backendEntries(current);
  for (const [name, e] of backendEntries(next)) {
    const was = before.get(name);
    const then = (was?.cfg.pinning ?? current.pinning.mode) as keyof typeof PIN_STRENGTH;
    const now = (e.cfg.pinning ?? next.pinning.mode) as keyof typeof PIN_STRENGTH;
    // Weakened through pinning.mode alone: that one line says it.
    if (PIN_STRENGTH[now] >= PIN_STRENGTH[then] || (globally && e.cfg.pinning === undefined)) continue;
    const path = e.kind === 'plugin' ? `plugins.${e.index}.pinning` : `backends.${name}.pinning`;
    out.push({ path, why: WHY, allowedBy: undefined });
  }
  return out;
}

/** One line per privileged change, naming the key path and what would allow it. */
export function describePrivileged(p: Privileged): string {
  return `${p.path}: ${p.why}; ${p.allowedBy ? `allowed only when the config file sets ${p.allowedBy}` : 'only the config file can change this (edit it, then POST /admin/config/reload)'}`;
}

/** The value at a key path inside a backend's config (own properties only). */
function valueAt(v: unknown, path: readonly string[]): unknown {
  for (const k of path) {
    if (!v || typeof v !== 'object' || !Object.hasOwn(v, k)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

function tokenEndpointOf(b: Config['backends'][string]): string | undefined {
  return b.type !== 'command' && b.credentials?.type === 'token_exchange' ? b.credentials.token_endpoint : undefined;
}
