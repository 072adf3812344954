/**
 * Authorization as the running gateway applies it: the engine of the config snapshot in
 * force (swapped on reload: `configure`), calls refused with MCPEG_ERR_FORBIDDEN naming
 * the rule, lists filtered per principal, and an audit line for each. With no
 * `authorization` section, `enabled` is false and the callers skip it: nothing is
 * decided, filtered or logged.
 */
import type { Principal } from '../auth/principal.js';
import type { Config } from '../config/schema.js';
import { GatewayError } from '../errors/catalog.js';
import type { Logger } from '../observability/logger.js';
import type { View } from '../router/view.js';
import type { Item, ListKind } from '../upstream/catalog.js';
import { auditCall, auditList } from './audit.js';
import { Authorizer, type Target } from './engine.js';
import { VisibleLists } from './lists.js';

const LIST_METHOD: Record<ListKind, string> = {
  tools: 'tools/list',
  prompts: 'prompts/list',
  resources: 'resources/list',
  resourceTemplates: 'resources/templates/list',
};

export class Authorization {
  private state: { engine: Authorizer; lists: VisibleLists } | undefined;

  constructor(
    private readonly log: Logger,
    config: Readonly<Config>,
  ) {
    this.configure(config);
  }

  /** Applies a config snapshot's `authorization` (at start and on reload). */
  configure(config: Readonly<Config>): void {
    const a = config.authorization;
    if (!a) {
      this.state = undefined;
      return;
    }
    const engine = new Authorizer(a, config);
    this.state = { engine, lists: new VisibleLists(engine) };
  }

  get enabled(): boolean {
    return this.state !== undefined;
  }

  /** The engine in force (explain); undefined when authorization is not configured. */
  get engine(): Authorizer | undefined {
    return this.state?.engine;
  }

  /**
   * Decides one relayed request and audits it; throws MCPEG_ERR_FORBIDDEN when refused.
   * `shown` is how the client named the target (a tool's name in its view, a URI).
   */
  enforce(p: Principal, t: Target, action: string, shown: string): void {
    const s = this.state;
    if (!s) return;
    const d = s.engine.decide(p, t);
    auditCall(this.log, { principal: p.id, action, kind: t.kind, backend: t.backend, target: shown, allowed: d.allowed, rule: d.rule, reason: d.reason });
    if (!d.allowed) {
      throw new GatewayError(
        'MCPEG_ERR_FORBIDDEN',
        `forbidden (authorization rule "${d.rule}"): ${d.reason}; principal ${p.id}, ${t.kind} ${JSON.stringify(shown.slice(0, 200))}`,
        {
          rule: d.rule,
          principal: p.id,
          kind: t.kind,
        },
      );
    }
  }

  /**
   * Whether a session subscribed to `uri` may still hear of its updates: a reload may have
   * denied the resource since the subscription was allowed. A refusal is audited; the
   * caller drops the subscription, so it is decided and audited once.
   */
  hears(p: Principal, backend: string, uri: string): boolean {
    const s = this.state;
    if (!s) return true;
    const d = s.engine.decide(p, { kind: 'resource', backend, name: uri });
    if (!d.allowed) {
      auditCall(this.log, { principal: p.id, action: 'notifications/resources/updated', kind: 'resource', backend, target: uri, allowed: false, rule: d.rule, reason: d.reason });
    }
    return d.allowed;
  }

  /** A view's list as this principal may see it (audited: one line per list request). */
  list(p: Principal, view: View, kind: ListKind): readonly Item[] {
    const s = this.state;
    if (!s) return view[kind];
    const l = s.lists.of(p, view, kind);
    auditList(this.log, { principal: p.id, action: LIST_METHOD[kind], view: view.id, listed: l.items.length, hidden: l.hidden });
    return l.items;
  }
}
