/**
 * The `authorization.rules` of a config snapshot, compiled once: for each rule, who it is
 * about (a test on the principal: Set lookups, never a property lookup keyed by a claim)
 * and what it covers (globs on RE2, util/glob.ts: linear in the name, so client-chosen
 * URIs cannot make matching slow).
 */
import type { Principal } from '../auth/principal.js';
import type { AuthorizationRule, AuthorizationTargets } from '../config/authorization.js';
import { compileGlob } from '../util/glob.js';
import type { UriForms } from './uri-forms.js';

export type TargetKind = 'backend' | 'tool' | 'prompt' | 'resource';

/** One glob and its text (explain and errors quote the pattern that matched). */
interface Pattern {
  readonly text: string;
  readonly test: (s: string) => boolean;
}

/** Tool or prompt patterns: without "/" on the aggregate name, with "/" on `<backend>/<name>`. */
interface NamePatterns {
  readonly exposed: readonly Pattern[];
  readonly qualified: readonly Pattern[];
}

export interface CompiledRule {
  readonly name: string;
  readonly index: number;
  readonly effect: 'allow' | 'deny';
  /** Whether the rule is about this principal. */
  readonly about: (p: Principal) => boolean;
  readonly backends: readonly Pattern[];
  readonly tools: NamePatterns;
  readonly prompts: NamePatterns;
  readonly resources: readonly Pattern[];
}

/** What a covering test is given: the target's forms a pattern may be written against. */
export interface TargetForms {
  readonly kind: TargetKind;
  readonly backend: string;
  /** The backend's own name of the tool or prompt, the resource URI, or the backend name. */
  readonly name: string;
  /** Tools and prompts: the aggregate name, `<prefix><separator><name>`. */
  readonly exposed: string;
  /** Resources: the forms of the URI (or template) a pattern is matched against (uri-forms.ts). */
  readonly uri: UriForms | undefined;
}

const compile = (list: readonly string[] | undefined): Pattern[] => (list ?? []).map((text) => ({ text, test: compileGlob(text) }));

function namePatterns(list: readonly string[] | undefined): NamePatterns {
  return { exposed: compile(list?.filter((p) => !p.includes('/'))), qualified: compile(list?.filter((p) => p.includes('/'))) };
}

const set = (list: readonly string[] | undefined): ReadonlySet<string> | undefined => (list && list.length > 0 ? new Set(list) : undefined);

function principalTest(p: AuthorizationRule['principals']): (x: Principal) => boolean {
  if (!p) return () => true;
  const ids = set(p.ids);
  const subjects = set(p.subjects);
  const clients = set(p.client_ids);
  const groups = set(p.groups);
  const keys = set(p.api_keys);
  const kinds = set(p.kinds);
  return (x) =>
    (ids?.has(x.id) ?? false) ||
    (kinds?.has(x.kind) ?? false) ||
    (x.subject !== undefined && (subjects?.has(x.subject) ?? false)) ||
    (x.clientId !== undefined && (clients?.has(x.clientId) ?? false)) ||
    (x.keyName !== undefined && (keys?.has(x.keyName) ?? false)) ||
    (groups !== undefined && x.groups.some((g) => groups.has(g)));
}

export function compileRule(r: AuthorizationRule, index: number): CompiledRule {
  const t = (r.allow ?? r.deny) as AuthorizationTargets;
  return {
    name: r.name,
    index,
    effect: r.allow ? 'allow' : 'deny',
    about: principalTest(r.principals),
    backends: compile(t.backends),
    tools: namePatterns(t.tools),
    prompts: namePatterns(t.prompts),
    resources: compile(t.resources),
  };
}

/** The pattern of `rule` that covers the target, as "<list> <pattern>" (e.g. `tools "git__*"`); undefined if none does. */
export function coveringPattern(rule: CompiledRule, t: TargetForms): string | undefined {
  for (const p of rule.backends) if (p.test(t.backend)) return `backends ${JSON.stringify(p.text)}`;
  switch (t.kind) {
    case 'tool':
      return nameMatch('tools', rule.tools, t);
    case 'prompt':
      return nameMatch('prompts', rule.prompts, t);
    case 'resource':
      return t.uri && resourceMatch(rule, t.uri);
    default:
      return undefined;
  }
}

function nameMatch(list: string, n: NamePatterns, t: TargetForms): string | undefined {
  for (const p of n.exposed) if (p.test(t.exposed)) return `${list} ${JSON.stringify(p.text)}`;
  if (n.qualified.length === 0) return undefined;
  const q = `${t.backend}/${t.name}`;
  for (const p of n.qualified) if (p.test(q)) return `${list} ${JSON.stringify(p.text)}`;
  return undefined;
}

/**
 * A deny pattern covers a URI when it matches any form a backend may resolve it to; an
 * allow pattern only when it matches the text sent, its resolved form and what the WHATWG
 * URL parser makes of it, and never a URI with "." or ".." segments (sent, once decoded or
 * once tabs and newlines are dropped) or with control characters: "file:///docs/../etc/passwd",
 * "file:///docs/..%2Fetc/passwd" and "file:///docs/.\t./etc/passwd" are outside what
 * "file:///docs/**" means (RFC 3986 5.2.4; the URL Standard removes tabs and newlines).
 */
function resourceMatch(rule: CompiledRule, u: UriForms): string | undefined {
  if (rule.effect === 'allow') {
    if (u.dotted || u.controls) return undefined;
    for (const p of rule.resources) if (u.allowForms.every((f) => p.test(f))) return `resources ${JSON.stringify(p.text)}`;
    return undefined;
  }
  for (const p of rule.resources) if (u.denyForms.some((f) => p.test(f))) return `resources ${JSON.stringify(p.text)}`;
  return undefined;
}
