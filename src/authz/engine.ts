/**
 * The authorization decision: may this principal reach this backend, tool, prompt or
 * resource, and which rule says so. Rules about the principal are taken in config order;
 * a deny rule covering the target wins over any allow rule; else the first allow rule
 * covering it allows; else `authorization.default` decides (rule "default"). Targets
 * longer than MAX_TARGET_CHARS are refused before any matching (rule "limit").
 *
 * Pure and synchronous: built from one frozen config snapshot (a reload builds another).
 */
import type { Principal } from '../auth/principal.js';
import type { AuthorizationConfig } from '../config/authorization.js';
import type { Config } from '../config/schema.js';
import { exposedName } from '../router/naming.js';
import { own } from '../util/own.js';
import { compileRule, coveringPattern, type CompiledRule, type TargetForms, type TargetKind } from './rules.js';
import { uriForms } from './uri-forms.js';

/** Names and URIs longer than this are refused outright (the same bound routing puts on URIs, router/uri-template.ts). */
export const MAX_TARGET_CHARS = 16_384;

export interface Target {
  readonly kind: TargetKind;
  readonly backend: string;
  /** The backend's own tool or prompt name, the resource URI (or template), or (kind backend) the backend name. */
  readonly name: string;
}

export interface Decision {
  readonly allowed: boolean;
  /** The deciding rule's name, `default` (no rule covered the target) or `limit`. */
  readonly rule: string;
  /** One sentence for errors, audit lines and explain. */
  readonly reason: string;
}

export class Authorizer {
  readonly defaultEffect: 'allow' | 'deny';
  readonly rules: readonly CompiledRule[];
  private readonly separator: string;
  /** Each backend's (and plugin's) prefix, for the aggregate names tool and prompt patterns see. */
  private readonly prefixes: Readonly<Record<string, string>>;

  constructor(cfg: AuthorizationConfig, config: Pick<Config, 'namespacing' | 'backends' | 'plugins'>) {
    this.defaultEffect = cfg.default;
    this.rules = cfg.rules.map(compileRule);
    this.separator = config.namespacing.separator;
    const prefixes: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [name, b] of Object.entries(config.backends)) prefixes[name] = b.prefix ?? name;
    for (const p of config.plugins) prefixes[p.name] = p.prefix ?? p.name;
    this.prefixes = prefixes;
  }

  /** The rules about this principal, in config order. */
  rulesAbout(p: Principal): CompiledRule[] {
    return this.rules.filter((r) => r.about(p));
  }

  /**
   * Which rules are about the principal, as a short key: principals with the same key get
   * the same decision for every target (list filtering is memoised on it, lists.ts).
   */
  keyOf(rules: readonly CompiledRule[]): string {
    return rules.map((r) => r.index).join(',');
  }

  /** The aggregate name of a backend's tool or prompt, as the aggregate view names it (router/view.ts). */
  exposed(backend: string, name: string): string {
    return exposedName(own(this.prefixes, backend) ?? backend, this.separator, name);
  }

  decide(p: Principal, t: Target): Decision {
    return this.decideWith(this.rulesAbout(p), t);
  }

  /** decide() with the rules about the principal already found. */
  decideWith(rules: readonly CompiledRule[], t: Target): Decision {
    if (t.name.length > MAX_TARGET_CHARS || t.backend.length > MAX_TARGET_CHARS) {
      return { allowed: false, rule: 'limit', reason: `the ${t.kind} name is longer than ${MAX_TARGET_CHARS} characters` };
    }
    const forms: TargetForms = {
      kind: t.kind,
      backend: t.backend,
      name: t.name,
      exposed: t.kind === 'tool' || t.kind === 'prompt' ? this.exposed(t.backend, t.name) : t.name,
      uri: t.kind === 'resource' ? uriForms(t.name) : undefined,
    };
    let allow: { rule: CompiledRule; by: string } | undefined;
    for (const r of rules) {
      if (r.effect === 'allow' && allow) continue;
      const by = coveringPattern(r, forms);
      if (by === undefined) continue;
      if (r.effect === 'deny') return { allowed: false, rule: r.name, reason: `rule "${r.name}" denies ${by}` };
      allow = { rule: r, by };
    }
    if (allow) return { allowed: true, rule: allow.rule.name, reason: `rule "${allow.rule.name}" allows ${allow.by}` };
    return {
      allowed: this.defaultEffect === 'allow',
      rule: 'default',
      reason: `no rule covers this ${t.kind}; authorization.default is ${this.defaultEffect}${forms.uri?.dotted || forms.uri?.controls ? ' (allow patterns never match a URI with "." or ".." segments or control characters)' : ''}`,
    };
  }
}
