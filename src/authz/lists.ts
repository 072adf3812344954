/**
 * Lists as one principal may see them: a view's tools, prompts, resources and resource
 * templates without what the principal may not use (MCP clients call what they are
 * listed; nothing is listed that would be refused). Memoised per view snapshot and per
 * set of rules about the principal: principals the same rules are about see the same
 * lists, and a view rebuilt on a catalog change is a new key (the old one is collected).
 */
import type { Principal } from '../auth/principal.js';
import type { View } from '../router/view.js';
import type { Item, ListKind } from '../upstream/catalog.js';
import type { Authorizer } from './engine.js';
import type { TargetKind } from './rules.js';

/** Distinct rule sets remembered per view; beyond, the memo starts over (bounded memory whatever the principals). */
const MAX_KEYS_PER_VIEW = 256;

const KIND: Record<ListKind, TargetKind> = { tools: 'tool', prompts: 'prompt', resources: 'resource', resourceTemplates: 'resource' };

export interface Listed {
  readonly items: readonly Item[];
  /** How many items of the view the principal does not see. */
  readonly hidden: number;
}

export class VisibleLists {
  private readonly memo = new WeakMap<View, Map<string, Partial<Record<ListKind, Listed>>>>();

  constructor(private readonly engine: Authorizer) {}

  of(p: Principal, view: View, kind: ListKind): Listed {
    const rules = this.engine.rulesAbout(p);
    const key = this.engine.keyOf(rules);
    let byKey = this.memo.get(view);
    if (!byKey) this.memo.set(view, (byKey = new Map()));
    let lists = byKey.get(key);
    if (!lists) {
      if (byKey.size >= MAX_KEYS_PER_VIEW) byKey.clear();
      byKey.set(key, (lists = {}));
    }
    let listed = lists[kind];
    if (!listed) {
      const all = view[kind];
      const origins = view.origins[kind];
      const items = all.filter((_, i) => this.engine.decideWith(rules, { kind: KIND[kind], backend: origins[i].backend, name: origins[i].name }).allowed);
      lists[kind] = listed = { items, hidden: all.length - items.length };
    }
    return listed;
  }
}
