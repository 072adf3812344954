/**
 * The set of backends and the views built from them. When a backend's catalog changes
 * (it came up, went down, or sent list_changed) the affected views are rebuilt off to
 * the side and swapped in one assignment, and clients of those views get list_changed.
 */
import type { Logger } from '../observability/logger.js';
import type { Backend } from '../upstream/backend.js';
import type { BackendCatalog, Item, ListKind } from '../upstream/catalog.js';
import { View, type ViewSource, type Withheld } from './view.js';

export const AGGREGATE_VIEW = 'aggregate';
export const backendViewId = (name: string): string => `backend:${name}`;

const CHANGE_NOTIFICATIONS: Record<ListKind, string> = {
  tools: 'notifications/tools/list_changed',
  prompts: 'notifications/prompts/list_changed',
  resources: 'notifications/resources/list_changed',
  resourceTemplates: 'notifications/resources/list_changed',
};

/**
 * What clients may see of a backend's tools (tool pinning withholds tools whose
 * definition is not approved); undefined: all of them.
 */
export type ToolGate = (b: Backend) => { readonly tools: readonly Item[]; readonly withheld: ReadonlyMap<string, Withheld> } | undefined;

export class Registry {
  private readonly views = new Map<string, View>();
  /** Each backend's catalog as clients of the last views saw it (after the gate). */
  private readonly lastCatalog = new Map<string, BackendCatalog>();
  /** Each backend's catalog as the views being built see it. */
  private shown = new Map<string, BackendCatalog>();
  gate: ToolGate | undefined;
  /**
   * The tools each backend listed (after the gate) when it was last up: while it is down or
   * restarting they are refused as unavailable rather than unknown. Bounded by the catalog.
   */
  private readonly toolsWhenUp = new Map<string, readonly Item[]>();
  /** Problems already reported, so a rebuild logs only what is new. */
  private reported = new Set<string>();
  onListChanged: ((viewIds: ReadonlySet<string>, method: string) => void) | undefined;

  constructor(
    readonly backends: ReadonlyMap<string, Backend>,
    private readonly separator: string,
    private readonly log: Logger,
  ) {
    this.rebuild();
  }

  view(id: string): View | undefined {
    return this.views.get(id);
  }

  backend(name: string): Backend | undefined {
    return this.backends.get(name);
  }

  /** Rebuilds every view; reports collisions once per rebuild. */
  rebuild(): void {
    const shown = new Map<string, BackendCatalog>();
    const sources = [...this.backends.values()].map((b): ViewSource => {
      const g = this.gate?.(b);
      const catalog = g && g.tools !== b.catalog.tools ? { ...b.catalog, tools: g.tools } : b.catalog;
      shown.set(b.name, catalog);
      if (b.state === 'up') this.toolsWhenUp.set(b.name, catalog.tools);
      const withheld = b.state !== 'up' && catalog.tools.length === 0 ? this.unavailable(b.name, g?.withheld) : g?.withheld;
      const notYetUp = b.state !== 'up' && !this.toolsWhenUp.has(b.name) ? notYetUpReason(b.name) : undefined;
      return { name: b.name, prefix: b.prefix, catalog, capabilities: b.capabilities, withheld, notYetUp };
    });
    this.shown = shown;
    const aggregate = new View(AGGREGATE_VIEW, sources, this.separator, true);
    for (const p of aggregate.problems) if (!this.reported.has(p)) this.log.warn({ view: AGGREGATE_VIEW }, p);
    this.reported = new Set(aggregate.problems);
    this.views.set(AGGREGATE_VIEW, aggregate);
    for (const src of sources) this.views.set(backendViewId(src.name), new View(backendViewId(src.name), [src], this.separator, false));
  }

  /** The tools a backend that is not up listed when it was, refused as unavailable (besides what the gate withholds). */
  private unavailable(backend: string, gated: ReadonlyMap<string, Withheld> | undefined): ReadonlyMap<string, Withheld> | undefined {
    const tools = this.toolsWhenUp.get(backend);
    if (!tools?.length) return gated;
    const message = `backend "${backend}" is unavailable: its tools cannot be called until it is back`;
    const out = new Map<string, Withheld>();
    for (const t of tools) if (typeof t.name === 'string') out.set(t.name, { code: 'MCPEG_ERR_BACKEND_UNAVAILABLE', message });
    for (const [n, w] of gated ?? []) out.set(n, w);
    return out;
  }

  /** A backend left the set (admin API, reload): its view goes, clients of the aggregate hear list_changed. */
  removed(name: string): void {
    const before = this.lastCatalog.get(name);
    this.lastCatalog.delete(name);
    this.toolsWhenUp.delete(name);
    this.views.delete(backendViewId(name));
    this.rebuild();
    if (!this.onListChanged || !before) return;
    const sent = new Set<string>();
    for (const kind of Object.keys(CHANGE_NOTIFICATIONS) as ListKind[]) {
      const method = CHANGE_NOTIFICATIONS[kind];
      if (before[kind].length && !sent.has(method)) {
        sent.add(method);
        this.onListChanged(new Set([AGGREGATE_VIEW]), method);
      }
    }
  }

  /**
   * Called when one backend's catalog may have changed. Clients hear list_changed for each
   * list that differs, and for each list the backend announced as changed even when the
   * gateway's copy reads the same (what it lists for the gateway may not be all a client
   * sees: a client directly connected would have been told).
   */
  catalogChanged(b: Backend, announced?: ReadonlySet<ListKind>): void {
    const before = this.lastCatalog.get(b.name);
    this.rebuild();
    const now = this.shown.get(b.name) ?? b.catalog;
    this.lastCatalog.set(b.name, now);
    if (!this.onListChanged) return;
    const viewIds = new Set([AGGREGATE_VIEW, backendViewId(b.name)]);
    const sent = new Set<string>();
    for (const kind of Object.keys(CHANGE_NOTIFICATIONS) as ListKind[]) {
      const method = CHANGE_NOTIFICATIONS[kind];
      if (sent.has(method)) continue;
      if (announced?.has(kind) || JSON.stringify(before?.[kind] ?? []) !== JSON.stringify(now[kind])) {
        sent.add(method);
        this.onListChanged(viewIds, method);
      }
    }
  }

  /**
   * What the gate lets through changed for these backends (a tool approved, the pins
   * reloaded): views are built again, and clients of the views whose tool list now reads
   * differently hear tools/list_changed.
   */
  gateChanged(names: Iterable<string>): void {
    const before = new Map<string, BackendCatalog | undefined>();
    for (const n of names) if (this.backends.has(n)) before.set(n, this.lastCatalog.get(n));
    this.rebuild();
    const viewIds = new Set<string>();
    for (const [n, old] of before) {
      const now = this.shown.get(n);
      if (!now || !old) continue;
      this.lastCatalog.set(n, now);
      if (JSON.stringify(old.tools) !== JSON.stringify(now.tools)) viewIds.add(AGGREGATE_VIEW).add(backendViewId(n));
    }
    if (viewIds.size && this.onListChanged) this.onListChanged(viewIds, CHANGE_NOTIFICATIONS.tools);
  }
}

/**
 * A backend that has not been up since it was added (its first start failed or is still
 * going on: refused, slower than connect_timeout): its tools are not known, so a call to
 * one cannot be told from a typo. It is refused as retryable (-32010), as a proxy answers
 * 503 for an upstream it has no healthy host for, not as an unknown tool.
 */
function notYetUpReason(backend: string): Withheld {
  return { code: 'MCPEG_ERR_BACKEND_UNAVAILABLE', message: `backend "${backend}" is not up yet: its tools are unknown until its first start succeeds; retry shortly` };
}
