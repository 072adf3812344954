/**
 * Where a service's secrets go: the hosts its HTTP requests (and its OpenAPI document
 * fetch) are sent to, the program its environment and arguments are handed to, the module
 * (and the rest of the config) a plugin's secrets are given to. A secret the admin API
 * did not see in full — a "[redacted]" sent back, an *_env reference — may stay only
 * while its service's destination is unchanged.
 */
import { isDeepStrictEqual } from 'node:util';
import type { BackendConfig, Config, PluginConfig } from '../config/schema.js';
import { hideSecrets } from '../config/secret-fields.js';

const own = <T>(o: Readonly<Record<string, T>>, k: string): T | undefined => (Object.hasOwn(o, k) ? o[k] : undefined);

const launch = (x: { command?: string | undefined; args?: readonly unknown[]; cwd?: string | undefined }) => ({ command: x.command, args: x.args ?? [], cwd: x.cwd });

/** The destination of a backend, secrets themselves left out (a changed password of an unchanged URL is the same destination). */
export function backendDestination(b: BackendConfig): unknown {
  let d: Record<string, unknown>;
  switch (b.type) {
    case 'mcp':
      // A discovered backend's headers and credentials go wherever its source says: the source is the destination.
      d = { type: b.type, url: b.url, endpoints: b.endpoints?.map((e) => e.url), ...launch(b), replicas: b.replicas?.map(launch), discovery: b.discovery };
      break;
    case 'rest':
      d = { type: b.type, base_url: b.base_url };
      break;
    case 'openapi':
      // The document is fetched with the backend's credentials, and its `servers` can name the host.
      d = { type: b.type, base_url: b.base_url, spec: b.spec, remote_refs: b.remote_refs };
      break;
    case 'command':
      d = { type: b.type, cwd: b.cwd, tools: Object.fromEntries(Object.entries(b.tools).map(([k, t]) => [k, launch(t)])) };
      break;
  }
  // A token exchange sends the client secret, and every caller's access token, to the authorization server.
  if (b.type !== 'command' && b.credentials?.type === 'token_exchange') d.token_endpoint = b.credentials.token_endpoint;
  return hideSecrets(d);
}

export function pluginDestination(p: PluginConfig): unknown {
  return { module: p.module ?? p.name, config: hideSecrets(p.config) };
}

/**
 * The destination of whatever sits at `path` in a config: its backend's or plugin's, or
 * undefined when the path is in neither (nothing there is sent anywhere).
 */
export function destinationAt(c: Readonly<Config>, path: readonly string[]): { where: string; destination: unknown } | undefined {
  if (path[0] === 'backends' && path.length > 1) {
    const b = own(c.backends, path[1]);
    return { where: `backends.${path[1]}`, destination: b ? backendDestination(b) : undefined };
  }
  if (path[0] === 'plugins' && path.length > 1) {
    const p = c.plugins[Number(path[1])];
    return { where: `plugins.${path[1]}`, destination: p ? pluginDestination(p) : undefined };
  }
  return undefined;
}

/** Whether the secret at `path` of `next` goes where the one at `currentPath` of `current` went. */
export function sameDestination(current: Readonly<Config>, currentPath: readonly string[], next: Readonly<Config>, path: readonly string[]): boolean {
  const a = destinationAt(current, currentPath);
  const b = destinationAt(next, path);
  if (!a || !b) return a === b;
  return a.destination !== undefined && isDeepStrictEqual(a.destination, b.destination);
}
