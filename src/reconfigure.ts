/**
 * Runtime changes to the backend set: add, remove (drain, then stop), and apply a new
 * config snapshot (hot reload: admin API, SIGHUP). A new snapshot is prepared off to the
 * side (plugins loaded, backends built) before anything changes, so a failure leaves the
 * old one serving; then removals, replacements and additions are applied and the snapshot
 * reference is swapped. A changed backend is replaced make-before-break: the new one comes
 * up beside the old, which serves until the new one takes its place, then drains. In-flight
 * calls keep the Backend object they started with and finish on it.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Config } from './config/schema.js';
import { backendEntries, type BackendEntry } from './backends/build.js';
import type { Backend } from './upstream/backend.js';

export interface ReloadResult {
  added: string[];
  removed: string[];
  changed: string[];
  /** Keys whose new values need a restart to take effect (the old values keep serving). */
  restartRequired: string[];
}

export interface BackendSetHost {
  current(): Readonly<Config>;
  swap(next: Readonly<Config>): void;
  /** Builds (but does not start) the backend for a config entry (backends/build.ts); throws if it cannot (a plugin that fails to load). */
  build(name: string, entry: BackendEntry, next: Readonly<Config>): Promise<Backend>;
  install(b: Backend): Promise<void>;
  /** Puts `b` in the place of the backend of its name once it is up (or its start has had connect_timeout), then drains and stops the old one. */
  replace(b: Backend): Promise<void>;
  uninstall(name: string): Promise<void>;
  setLogLevel(level: string): void;
}

/** Server settings that a running listener cannot change. */
const RESTART_KEYS = [
  'host',
  'port',
  'path',
  'max_header_bytes',
  'headers_timeout',
  'request_timeout',
  'max_connections',
  'max_connections_per_client',
  'send_timeout',
  'max_unsent_bytes',
  'legacy_sse',
  'cors',
  'compression',
  'access_log',
  'allowed_origins',
  'allowed_hosts',
] as const;

export async function applySnapshot(host: BackendSetHost, next: Readonly<Config>): Promise<ReloadResult> {
  const prev = host.current();
  const before = backendEntries(prev);
  const after = backendEntries(next);
  const result: ReloadResult = { added: [], removed: [], changed: [], restartRequired: [] };
  for (const k of RESTART_KEYS) if (!isDeepStrictEqual(prev.server[k], next.server[k])) result.restartRequired.push(`server.${k}`);
  for (const k of ['rate_limits', 'traffic', 'namespacing', 'paths', 'auth'] as const) if (!isDeepStrictEqual(prev[k], next[k])) result.restartRequired.push(k);
  // The pin store is opened once; the mode applies on reload.
  if (prev.pinning.lock_file !== next.pinning.lock_file) result.restartRequired.push('pinning.lock_file');
  // Registry sources start with the gateway (registration settings apply at once).
  if (!isDeepStrictEqual(prev.discovery.registries, next.discovery.registries)) result.restartRequired.push('discovery.registries');
  for (const name of before.keys()) if (!after.has(name)) result.removed.push(name);
  for (const [name, e] of after) {
    const old = before.get(name);
    if (!old) result.added.push(name);
    else if (old.kind !== e.kind || !isDeepStrictEqual(old.cfg, e.cfg)) result.changed.push(name);
  }
  // Build everything new first: a failure here changes nothing.
  const built = new Map<string, Backend>();
  for (const name of [...result.added, ...result.changed]) {
    built.set(name, await host.build(name, after.get(name)!, next));
  }
  for (const name of result.removed) await host.uninstall(name);
  for (const name of result.changed) await host.replace(built.get(name)!);
  for (const name of result.added) await host.install(built.get(name)!);
  if (prev.logging.level !== next.logging.level) host.setLogLevel(next.logging.level);
  host.swap(next);
  return result;
}
