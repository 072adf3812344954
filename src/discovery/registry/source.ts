/**
 * Backends from an MCP registry that speaks the official MCP Registry API
 * (modelcontextprotocol/registry: GET /v0/servers, or /v0.1/servers of the API version the
 * official registry froze; each item a ServerResponse holding a server.json, the same shape
 * in both). Only a server's `remotes` (streamable-http or sse, an HTTP URL) can become
 * a backend: its `packages` are never installed or run. A server becomes one backend, from
 * its first usable remote (streamable-http preferred); a remote whose URL keeps a template
 * variable without a value, or that requires a header without a value, is not usable (the
 * gateway sends no headers of a registry's choosing). `servers` globs select which servers;
 * deleted ones (the official metadata's status) and, with latest_only, older versions are
 * left out. Pages are followed by cursor up to max_pages per refresh; every page is bounded.
 */
import { compileGlob } from '../../util/glob.js';
import { fetchJson } from '../fetch-json.js';
import type { DiscoveredBackend, Provider, Sink } from '../types.js';

export interface RegistryOptions {
  name: string;
  url: string;
  /** The API version in the path: `v0` (the issue's and the registry's first) or `v0.1` (frozen, same shapes). */
  api_version?: 'v0' | 'v0.1';
  servers: readonly string[];
  latest_only: boolean;
  max_pages: number;
  max_backends: number;
  refresh: number;
  timeout: number;
  name_prefix: string;
  maxBytes: number;
}

const OFFICIAL = 'io.modelcontextprotocol.registry/official';
/** Servers asked per page (the official registry's maximum is 100). */
const PAGE = 100;
/** A cursor is the registry's opaque string: bounded all the same. */
const MAX_CURSOR = 1024;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export class RegistrySource implements Provider<DiscoveredBackend> {
  readonly kind = 'registry';
  readonly source: string;
  private timer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();
  private readonly match: (name: string) => boolean;
  /** Why servers were left out at the last refresh (reported with the result). */
  private skipped: string[] = [];

  constructor(private readonly o: RegistryOptions) {
    this.source = `MCP registry ${o.url}`;
    const globs = o.servers.map((g) => compileGlob(g));
    this.match = globs.length ? (n) => globs.some((m) => m(n)) : () => true;
  }

  start(sink: Sink<DiscoveredBackend>): void {
    const run = async () => {
      try {
        const found = await this.read();
        if (!this.abort.signal.aborted) sink.update(found);
      } catch (err) {
        if (!this.abort.signal.aborted) sink.fail(err as Error);
      }
      if (this.abort.signal.aborted) return;
      this.timer = setTimeout(() => void run(), this.o.refresh);
      this.timer.unref();
    };
    void run();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.abort.abort();
  }

  notes(): readonly string[] {
    return this.skipped;
  }

  /** Every page (up to max_pages), then the servers that make backends. A page that fails fails the refresh: a partial list would remove the rest. */
  async read(): Promise<DiscoveredBackend[]> {
    const out: DiscoveredBackend[] = [];
    const skipped: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; ; page++) {
      if (page >= this.o.max_pages) throw new Error(`more than max_pages (${this.o.max_pages}) pages: raise it, or narrow "servers"`);
      const q = new URLSearchParams({ limit: String(PAGE) });
      if (this.o.latest_only) q.set('version', 'latest');
      if (cursor) q.set('cursor', cursor);
      const list = `${this.o.url.replace(/\/+$/, '')}/${this.o.api_version ?? 'v0'}/servers`;
      const r = await fetchJson(`${list}?${q}`, { timeoutMs: this.o.timeout, maxBytes: this.o.maxBytes, signal: this.abort.signal });
      if (r.status !== 200) throw new Error(`GET ${list} answered ${r.status}`);
      const body = r.body;
      if (!isObject(body) || !Array.isArray(body.servers)) throw new Error(`GET ${list}: expected {servers: [...]} (a ServerList)`);
      for (const item of body.servers) {
        const d = this.backendOf(item, skipped);
        if (d) out.push(d);
      }
      const next = isObject(body.metadata) ? body.metadata.nextCursor : undefined;
      if (typeof next !== 'string' || next === '') break;
      if (next.length > MAX_CURSOR || next === cursor) throw new Error('the registry answered an unusable cursor (too long, or the same again)');
      cursor = next;
    }
    this.skipped = skipped;
    return out;
  }

  private backendOf(item: unknown, skipped: string[]): DiscoveredBackend | undefined {
    const server = isObject(item) ? item.server : undefined;
    if (!isObject(server) || typeof server.name !== 'string') {
      skipped.push('an entry without server.name');
      return undefined;
    }
    const name = server.name.slice(0, 200);
    if (!this.match(name)) return undefined;
    const meta = isObject(item) && isObject(item._meta) && isObject(item._meta[OFFICIAL]) ? (item._meta[OFFICIAL] as Json) : {};
    if (meta.status === 'deleted') return undefined;
    if (this.o.latest_only && meta.isLatest === false) return undefined;
    const remotes = Array.isArray(server.remotes) ? server.remotes.filter(isObject) : [];
    const ordered = [...remotes.filter((r) => r.type === 'streamable-http'), ...remotes.filter((r) => r.type === 'sse')];
    const why: string[] = [];
    for (const r of ordered) {
      const url = resolveTemplate(r, why);
      if (!url) continue;
      const headers = Array.isArray(r.headers) ? r.headers.filter(isObject) : [];
      const needed = headers.find((h) => h.isRequired === true && typeof h.value !== 'string');
      if (needed) {
        why.push(`needs header ${String(needed.name).slice(0, 64)}`);
        continue;
      }
      const version = typeof server.version === 'string' ? server.version.slice(0, 64) : '?';
      return { name: backendName(this.o.name_prefix, name), url, transport: r.type === 'sse' ? 'sse' : 'streamable_http', origin: `${name}@${version}` };
    }
    skipped.push(`${name}: ${ordered.length === 0 ? 'no remotes (packages are never run)' : `no usable remote (${why.join('; ')})`}`);
    return undefined;
  }
}

/** A remote's URL with its `{variables}` replaced by their value or default; undefined (and why) when one has neither. */
function resolveTemplate(r: Json, why: string[]): string | undefined {
  if (typeof r.url !== 'string' || r.url.length > 2048) {
    why.push('no url');
    return undefined;
  }
  const vars = isObject(r.variables) ? r.variables : {};
  let missing: string | undefined;
  const url = r.url.replace(/\{([a-zA-Z_][a-zA-Z0-9_]{0,63})\}/g, (_m, v: string) => {
    const spec = Object.hasOwn(vars, v) && isObject(vars[v]) ? (vars[v] as Json) : undefined;
    const value = typeof spec?.value === 'string' ? spec.value : typeof spec?.default === 'string' ? spec.default : undefined;
    if (value === undefined) missing ??= v;
    return value ?? '';
  });
  if (missing) {
    why.push(`variable {${missing}} has no value`);
    return undefined;
  }
  return url;
}

/** The last segment of a server name (after "/"), made a backend name: other characters become "-", at most 48 with the prefix. */
export function backendName(prefix: string, serverName: string): string {
  const last = serverName.slice(serverName.lastIndexOf('/') + 1);
  return `${prefix}${last.replace(/[^a-zA-Z0-9_-]/g, '-')}`.slice(0, 48);
}
