/**
 * What a source's result must pass before the gateway holds it: URLs that are HTTP(S),
 * without credentials, of bounded length, matching the config's allowed_urls (whole
 * backends) or on a host its allowed_hosts allows (replicas, allowed-hosts.ts); backend
 * names valid as the config's own; counts bounded. Sources are outside input.
 */
import { NAME } from '../config/fields.js';
import { compileGlob } from '../util/glob.js';
import { hostPolicy, type HostPolicy } from './allowed-hosts.js';
import type { Endpoint } from './types.js';

const MAX_URL = 2048;

/** A host name: labels of letters, digits, "_" and "-" (RFC 952/1123, "_" for SRV-style names), 253 characters at most. */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$/;

/** A host name as a source names a replica's host: anything else ("/", "?", "@", ":") would choose the URL's port, path or user. */
export const isHostName = (s: string): boolean => HOST_NAME.test(s);
const MAX_WEIGHT = 65_535;
/** SRV's priority field is 16 bits (RFC 2782). */
const MAX_PRIORITY = 65_535;
/** allowed_hosts empty: only the always-refused addresses are. */
const NO_LIST = hostPolicy([]);

/** The URL written as allowed_urls globs see it (scheme://host:port/path, port always present), or why it is refused. */
export function checkUrl(raw: string): { url: string; canonical: string } | { problem: string } {
  if (typeof raw !== 'string' || raw.length > MAX_URL) return { problem: 'URL missing or longer than 2048 characters' };
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { problem: `not a URL: ${JSON.stringify(raw.slice(0, 100))}` };
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return { problem: `${u.protocol} is not http: or https:` };
  if (u.username || u.password) return { problem: 'a URL may not carry credentials' };
  if (!u.hostname) return { problem: 'the URL has no host' };
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  return { url: u.href, canonical: `${u.protocol}//${u.hostname}:${port}${u.pathname}` };
}

/** A matcher for allowed_urls; none listed: `whenEmpty`. */
export function urlAllowList(globs: readonly string[], whenEmpty: boolean): (canonical: string) => boolean {
  if (globs.length === 0) return () => whenEmpty;
  const ms = globs.map((g) => compileGlob(g));
  return (c) => ms.some((m) => m(c));
}

/** A backend name as the config accepts one (and not a property of every object). */
export function validName(name: string): boolean {
  return NAME.test(name) && !(name in Object.prototype);
}

/**
 * A source's endpoints made fit to hold: checked URLs on hosts `hosts` allows (the others
 * in `refused`), integer weights in [1, 65535] and priorities in [0, 65535], duplicates
 * merged (the first kept), at most `max` (the rest reported in `dropped`).
 */
export function checkEndpoints(items: readonly Endpoint[], max: number, hosts: HostPolicy = NO_LIST): { endpoints: Endpoint[]; dropped: string[]; refused: string[] } {
  const out: Endpoint[] = [];
  const dropped: string[] = [];
  const refused: string[] = [];
  const seen = new Set<string>();
  for (const e of items) {
    const c = checkUrl(e.url);
    if ('problem' in c) {
      dropped.push(c.problem);
      continue;
    }
    if (seen.has(c.url)) continue;
    const why = hosts.refuses(new URL(c.url).hostname);
    if (why) {
      seen.add(c.url);
      refused.push(`${c.url}: ${why}`);
      continue;
    }
    if (out.length >= max) {
      dropped.push(`${c.url}: beyond max_endpoints (${max})`);
      continue;
    }
    seen.add(c.url);
    const w = Number.isFinite(e.weight) ? Math.min(MAX_WEIGHT, Math.max(1, Math.round(e.weight))) : 1;
    const p = e.priority !== undefined && Number.isFinite(e.priority) ? Math.min(MAX_PRIORITY, Math.max(0, Math.round(e.priority))) : 0;
    out.push({ url: c.url, weight: w, ...(p ? { priority: p } : {}), ...(e.transport ? { transport: e.transport } : {}) });
  }
  return { endpoints: out, dropped, refused };
}
