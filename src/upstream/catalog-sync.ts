/**
 * Keeping a replica's catalog current over its catalog session: every list read page by
 * page; read again when the backend says a list changed (list_changed, coalesced), and
 * for a stateless backend when its caching hints run out (SEP-2549) or, without hints
 * and without list_changed, on a slow interval. A stateless backend announces changes
 * only on a subscriptions/listen stream, which is held open while the replica is up.
 */
import { GatewayError, RemoteRpcError } from '../errors/catalog.js';
import { RawJson } from '../wire/raw-json.js';
import type { Logger } from '../observability/logger.js';
import { LISTS, type BackendCatalog, type Item, type ListKind } from './catalog.js';
import type { BackendConnection } from './connection.js';
import { paramScanOf } from '../wire/stateless.js';

const MAX_LIST_PAGES = 100;
/**
 * A list, all its pages together, is refused past this many bytes of results: one page is
 * already at most 64 MiB (the transports' bound on a message), but 100 of them would be
 * 6.4 GB held by the gateway for one backend.
 */
export const MAX_LIST_BYTES = 64 * 1024 * 1024;

/**
 * A list result's size: its bytes as the gateway's transports hand results over (RawJson), or,
 * for one parsed on the way (a message the raw scan leaves to JSON.parse, the SDK's legacy SSE
 * transport), the length of its JSON text; one too deep to write out counts as past the bound.
 */
function sizeOf(answer: Record<string, unknown> | RawJson): number {
  if (answer instanceof RawJson) return answer.length;
  try {
    return JSON.stringify(answer).length;
  } catch {
    return Infinity;
  }
}
/** Catalog refresh from caching hints: never more often than this, whatever ttlMs says. */
const MIN_TTL_REFRESH_MS = 1000;
/** Without a usable ttlMs and without list_changed, a stateless backend's catalog is re-listed this often. */
const DEFAULT_REFRESH_MS = 5 * 60_000;
/** Bursts of list_changed (a backend registering tools one by one) make one re-list. */
const COALESCE_MS = 20;
/** A subscriptions/listen stream the backend ended is opened again after this pause. */
const RELISTEN_MS = 5000;
/** Tools left out for invalid x-mcp-header declarations: logged one line each, up to this many per list. */
const MAX_EXCLUSION_LINES = 20;
/** A backend's text in such a line (a tool name, the reason naming its properties) is cut at this length. */
const MAX_LOGGED_TEXT = 200;
/** A failed re-list's error, logged: cut at this length. */
const MAX_LOGGED_ERROR = 1000;
const cut = (text: string, max = MAX_LOGGED_TEXT): string => (text.length > max ? `${text.slice(0, max)}…` : text);

export interface CatalogHost {
  readonly log: Logger;
  /** Per-request timeout of the list calls (the backend's `timeout`). */
  readonly timeoutMs: number;
  /** The replica's catalog session, while it has one. */
  connection(): BackendConnection | undefined;
  isUp(): boolean;
  /** A re-list (refresh, list_changed, TTL) read this catalog; `announced`: the lists the backend said changed meanwhile. */
  changed(catalog: BackendCatalog, announced: ReadonlySet<ListKind>): void;
}

export class CatalogSync {
  private refreshTimer: NodeJS.Timeout | undefined;
  private ttlTimer: NodeJS.Timeout | undefined;
  private listening: BackendConnection | undefined;
  /** Lists announced as changed since the last re-list (list_changed), told to the host with the new catalog. */
  private announced = new Set<ListKind>();
  /** Tools left out of the last list for invalid x-mcp-header declarations (logged once each). */
  private excluded = new Set<string>();
  /**
   * A re-list is running: another waits for it to end (one more at most, however many announcements
   * came meanwhile), or a backend announcing every few milliseconds while it lists slowly would have
   * the gateway hold a list's bytes (up to MAX_LIST_BYTES a kind) once per announcement.
   */
  private relisting = false;
  private relistAgain = false;
  /** How often the TTL timer re-lists (Infinity: never); a failed re-list keeps it, or the catalog would go stale for good. */
  private ttlEvery = Infinity;
  #failure: { error: string; at: Date } | undefined;

  constructor(private readonly host: CatalogHost) {}

  /**
   * Why the last re-list failed, and when, until a list succeeds: the catalog clients see is
   * then the one listed before (still served, so the replica stays up), and /health says so.
   */
  get failure(): { readonly error: string; readonly at: Date } | undefined {
    return this.#failure;
  }

  /** Reads every list the backend's capabilities offer (following nextCursor), then schedules the TTL refresh. */
  async list(conn: BackendConnection): Promise<BackendCatalog> {
    const caps = conn.initializeResult?.capabilities ?? {};
    const out: Record<string, Item[]> = { tools: [], resources: [], resourceTemplates: [], prompts: [] };
    // The shortest positive ttlMs, and whether some list may not be cached at all (0 or no hint).
    let ttl = Infinity;
    let uncached = false;
    await Promise.all(
      LISTS.filter((l) => caps[l.capability]).map(async (l) => {
        let cursor: unknown;
        let bytes = 0;
        for (let page = 0; page < MAX_LIST_PAGES; page++) {
          const answer = await conn.request(l.method, cursor ? { cursor } : undefined, { timeoutMs: this.host.timeoutMs, raw: true }).catch((err: unknown) => {
            // A server with resources but no templates may not implement templates/list at all.
            if (err instanceof RemoteRpcError && err.code === -32601) return {} as Record<string, unknown>;
            throw err;
          });
          bytes += sizeOf(answer);
          if (bytes > MAX_LIST_BYTES) {
            throw new GatewayError(
              'MCPEG_ERR_BACKEND_ANSWER_TOO_LARGE',
              `backend "${conn.backend}" lists more than ${MAX_LIST_BYTES} bytes of ${l.kind} over ${page + 1} pages: refused`,
              { backend: conn.backend, list: l.kind, bytes },
            );
          }
          const r = answer instanceof RawJson ? answer.value() : answer;
          const items = r[l.kind];
          // Items are objects (the MCP schema): a null would throw wherever a name is read (the registry, the
          // views), taking the gateway down, and a number could not key the x-mcp-header cache. Each is named by a
          // string (a tool's or prompt's name, a URI, a template): {"toString": 1} as a tool's name made String() throw
          // in the metrics observer, which then missed every call to the backend. A loop, not push(...items), which
          // throws RangeError past ~100k arguments.
          if (Array.isArray(items))
            for (const it of items) if (typeof it === 'object' && it !== null && !Array.isArray(it) && typeof (it as Item)[l.key] === 'string') out[l.kind].push(it as Item);
          if (typeof r.ttlMs === 'number' && r.ttlMs > 0) ttl = Math.min(ttl, r.ttlMs);
          else uncached = true;
          cursor = r.nextCursor;
          if (!cursor) break;
        }
      }),
    );
    if (conn.stateless) this.scheduleTtlRefresh(ttl, uncached, caps);
    if (conn.mirrorsParamHeaders) out.tools = this.withoutInvalidParamHeaders(out.tools);
    this.#failure = undefined;
    return Object.freeze({ tools: out.tools, resources: out.resources, resourceTemplates: out.resourceTemplates, prompts: out.prompts });
  }

  /**
   * The tools whose `x-mcp-header` declarations are valid: a Streamable HTTP client of revision
   * 2026-07-28 MUST leave out the others, and SHOULD say which and why (SEP-2243). Each one is
   * logged when it first appears, not on every re-list; the names kept are those of the last list.
   * A list logs at most MAX_EXCLUSION_LINES of them, then one line counting the rest; the
   * backend's strings in a line (name, reason) are cut at MAX_LOGGED_TEXT characters.
   */
  private withoutInvalidParamHeaders(tools: Item[]): Item[] {
    const excluded = new Set<string>();
    let logged = 0;
    let unlogged = 0;
    const kept = tools.filter((t) => {
      const scan = paramScanOf(t);
      if (scan.valid) return true;
      const name = String(t.name);
      excluded.add(name);
      if (this.excluded.has(name)) return false;
      if (logged === MAX_EXCLUSION_LINES) unlogged++;
      else {
        logged++;
        this.host.log.warn({ tool: cut(name), reason: cut(scan.reason) }, 'tool left out of the catalog: invalid x-mcp-header declaration (SEP-2243)');
      }
      return false;
    });
    if (unlogged > 0) this.host.log.warn({ more: unlogged }, `${unlogged} more tools left out of the catalog for invalid x-mcp-header declarations (SEP-2243)`);
    this.excluded = excluded;
    return kept;
  }

  /** Re-lists the catalog, coalescing bursts of list_changed notifications (`announced`: the lists they named). */
  refresh(announced: readonly ListKind[] = []): void {
    for (const k of announced) this.announced.add(k);
    if (this.refreshTimer || !this.host.isUp()) return;
    if (this.relisting) {
      this.relistAgain = true;
      return;
    }
    this.refreshTimer = setTimeout(async () => {
      this.refreshTimer = undefined;
      const conn = this.host.connection();
      if (!conn || conn.isClosed) return;
      const told = this.announced;
      this.announced = new Set();
      this.relisting = true;
      try {
        this.host.changed(await this.list(conn), told);
      } catch (err) {
        // A backend's error text (RemoteRpcError) may be as long as a message: 64 MiB.
        const error = cut((err as Error).message, MAX_LOGGED_ERROR);
        this.#failure = { error, at: new Date() };
        this.host.log.warn({ err: error }, 'catalog refresh failed');
        if (conn.stateless) {
          clearTimeout(this.ttlTimer);
          this.armTtl();
        }
      } finally {
        this.relisting = false;
        if (this.relistAgain) {
          this.relistAgain = false;
          this.refresh();
        }
      }
    }, COALESCE_MS);
  }

  /**
   * subscriptions/listen (2026-07-28): the stateless revision's stream for list_changed.
   * Re-opened after a pause if the backend ends it while the replica is up.
   */
  follow(conn: BackendConnection): void {
    const caps = conn.initializeResult?.capabilities ?? {};
    const flag = (k: string) => Boolean((caps[k] as { listChanged?: boolean } | undefined)?.listChanged);
    const notifications = { toolsListChanged: flag('tools'), promptsListChanged: flag('prompts'), resourcesListChanged: flag('resources') };
    if (!notifications.toolsListChanged && !notifications.promptsListChanged && !notifications.resourcesListChanged) return;
    if (this.listening === conn) return;
    this.listening = conn;
    conn
      .request('subscriptions/listen', { notifications }, { timeoutMs: 0 })
      .then(
        () => undefined,
        (err: unknown) => this.host.log.debug({ err: (err as Error).message }, 'subscriptions/listen ended'),
      )
      .finally(() => {
        if (this.listening !== conn) return;
        this.listening = undefined;
        if (this.host.connection() === conn && !conn.isClosed && this.host.isUp()) {
          setTimeout(() => {
            if (this.host.connection() === conn && !conn.isClosed) this.follow(conn);
          }, RELISTEN_MS).unref();
        }
      });
  }

  stop(): void {
    clearTimeout(this.refreshTimer);
    clearTimeout(this.ttlTimer);
  }

  /**
   * Caching hints (SEP-2549) keep a stateless backend's catalog fresh: it is listed again
   * when the shortest positive ttlMs of its lists runs out (at least 1 s apart). Lists
   * with ttlMs 0 or no hint are not polled when the backend announces list changes
   * (subscriptions/listen triggers the refresh); otherwise a slow fallback interval applies.
   */
  private scheduleTtlRefresh(ttl: number, uncached: boolean, caps: Record<string, unknown>): void {
    clearTimeout(this.ttlTimer);
    const announces = ['tools', 'prompts', 'resources'].some((k) => (caps[k] as { listChanged?: boolean } | undefined)?.listChanged);
    let every = Number.isFinite(ttl) ? Math.max(MIN_TTL_REFRESH_MS, ttl) : Infinity;
    if (uncached && !announces) every = Math.min(every, DEFAULT_REFRESH_MS);
    this.ttlEvery = every;
    this.armTtl();
  }

  private armTtl(): void {
    if (!Number.isFinite(this.ttlEvery)) return;
    this.ttlTimer = setTimeout(() => this.refresh(), this.ttlEvery);
    this.ttlTimer.unref();
  }
}
