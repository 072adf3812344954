/**
 * The set of backends and the views built from them. When a backend's catalog changes
 * (it came up, went down, or sent list_changed) the affected views are rebuilt off to
 * the side and swapped in one assignment, and clients of those views get list_changed.
 */
import type { Logger } from '../observability/logger.js';
import type { Backend } from '../upstream/backend.js';
import type { BackendCatalog, ListKind } from '../upstream/catalog.js';
import { View } from './view.js';

export const AGGREGATE_VIEW = 'aggregate';
export const backendViewId = (name: string): string => `backend:${name}`;

const CHANGE_NOTIFICATIONS: Record<ListKind, string> = {
  tools: 'notifications/tools/list_changed',
  prompts: 'notifications/prompts/list_changed',
  resources: 'notifications/resources/list_changed',
  resourceTemplates: 'notifications/resources/list_changed',
};

export class Registry {
  private readonly views = new Map<string, View>();
  private readonly lastCatalog = new Map<string, BackendCatalog>();
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
    const sources = [...this.backends.values()].map((b) => ({ name: b.name, prefix: b.prefix, catalog: b.catalog, capabilities: b.capabilities }));
    const aggregate = new View(AGGREGATE_VIEW, sources, this.separator, true);
    for (const p of aggregate.problems) if (!this.reported.has(p)) this.log.warn({ view: AGGREGATE_VIEW }, p);
    this.reported = new Set(aggregate.problems);
    this.views.set(AGGREGATE_VIEW, aggregate);
    for (const src of sources) this.views.set(backendViewId(src.name), new View(backendViewId(src.name), [src], this.separator, false));
  }

  /** A backend left the set (admin API, reload): its view goes, clients of the aggregate hear list_changed. */
  removed(name: string): void {
    const before = this.lastCatalog.get(name);
    this.lastCatalog.delete(name);
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
    this.lastCatalog.set(b.name, b.catalog);
    this.rebuild();
    if (!this.onListChanged) return;
    const viewIds = new Set([AGGREGATE_VIEW, backendViewId(b.name)]);
    const sent = new Set<string>();
    for (const kind of Object.keys(CHANGE_NOTIFICATIONS) as ListKind[]) {
      const method = CHANGE_NOTIFICATIONS[kind];
      if (sent.has(method)) continue;
      if (announced?.has(kind) || JSON.stringify(before?.[kind] ?? []) !== JSON.stringify(b.catalog[kind])) {
        sent.add(method);
        this.onListChanged(viewIds, method);
      }
    }
  }
}
