/**
 * What a principal may do and why: the decision for one target (a tool, prompt,
 * resource or backend as an operator names it), or the whole picture — every backend and
 * everything it lists, allowed or not and by which rule. Served by GET
 * /admin/authz/explain (from the running gateway's catalogs) and `mcpeg authz explain`
 * (from the config file alone: backends, no catalogs).
 */
import type { Principal } from '../auth/principal.js';
import type { Item } from '../upstream/catalog.js';
import type { Authorizer, Decision, Target } from './engine.js';
import type { TargetKind } from './rules.js';

/** How the operator named a target: `tool=git__status`, `tool=git/status`, `backend=git&tool=status`, `resource=<uri>`. */
export interface TargetQuery {
  kind: TargetKind;
  name: string;
  backend?: string | undefined;
}

/** What explain can learn from the running gateway (a View has these), or nothing offline. */
export interface Routes {
  tool(exposed: string): { backend: string; name: string } | undefined;
  prompt(exposed: string): { backend: string; name: string } | undefined;
  resourceBackend(uri: string): string | undefined;
}

export interface BackendListing {
  name: string;
  tools?: readonly Item[];
  prompts?: readonly Item[];
  resources?: readonly Item[];
  resourceTemplates?: readonly Item[];
}

const brief = (d: Decision) => ({ allowed: d.allowed, rule: d.rule, reason: d.reason });

function principalSummary(p: Principal) {
  return {
    id: p.id,
    kind: p.kind,
    ...(p.subject !== undefined ? { subject: p.subject } : {}),
    ...(p.clientId !== undefined ? { clientId: p.clientId } : {}),
    ...(p.keyName !== undefined ? { keyName: p.keyName } : {}),
    ...(p.issuer !== undefined ? { issuer: p.issuer } : {}),
    groups: [...p.groups],
  };
}

function header(engine: Authorizer, p: Principal, configured: boolean) {
  return { configured, default: engine.defaultEffect, principal: principalSummary(p), rules: engine.rulesAbout(p).map((r) => r.name) };
}

/**
 * The backends (and the backend's own names) a target query may mean: an explicit
 * backend; `<backend>/<name>`; a name the running gateway routes; else every backend whose
 * aggregate prefix starts the name (tools, prompts) or every backend (resources).
 */
export function candidates(engine: Authorizer, q: TargetQuery, backends: readonly string[], routes?: Routes): Target[] {
  if (q.kind === 'backend') return [{ kind: 'backend', backend: q.name, name: q.name }];
  if (q.backend !== undefined) return [{ kind: q.kind, backend: q.backend, name: q.name }];
  if (q.kind === 'resource') {
    const owner = routes?.resourceBackend(q.name);
    return (owner ? [owner] : backends).map((backend) => ({ kind: 'resource', backend, name: q.name }));
  }
  const slash = q.name.indexOf('/');
  if (slash > 0) return [{ kind: q.kind, backend: q.name.slice(0, slash), name: q.name.slice(slash + 1) }];
  const routed = q.kind === 'tool' ? routes?.tool(q.name) : routes?.prompt(q.name);
  if (routed) return [{ kind: q.kind, backend: routed.backend, name: routed.name }];
  const out: Target[] = [];
  for (const backend of backends) {
    const stem = engine.exposed(backend, '');
    if (q.name.startsWith(stem) && q.name.length > stem.length) out.push({ kind: q.kind, backend, name: q.name.slice(stem.length) });
  }
  return out;
}

export function explainTarget(engine: Authorizer, p: Principal, q: TargetQuery, backends: readonly string[], opts: { configured: boolean; routes?: Routes | undefined }) {
  const targets = candidates(engine, q, backends, opts.routes);
  const rules = engine.rulesAbout(p);
  const decisions = targets.map((t) => ({
    backend: t.backend,
    name: t.name,
    ...(t.kind === 'tool' || t.kind === 'prompt' ? { exposed: engine.exposed(t.backend, t.name) } : {}),
    ...brief(engine.decideWith(rules, t)),
  }));
  return {
    ...header(engine, p, opts.configured),
    target: { kind: q.kind, name: q.name, ...(q.backend !== undefined ? { backend: q.backend } : {}) },
    allowed: decisions.length > 0 && decisions.every((d) => d.allowed),
    decisions,
  };
}

export function explainAll(engine: Authorizer, p: Principal, listings: readonly BackendListing[], configured: boolean) {
  const rules = engine.rulesAbout(p);
  const named = (kind: TargetKind, backend: string, items: readonly Item[] | undefined, key: 'name' | 'uri' | 'uriTemplate') =>
    (items ?? [])
      .filter((i) => typeof i[key] === 'string')
      .map((i) => {
        const name = i[key] as string;
        return {
          name,
          ...(kind === 'tool' || kind === 'prompt' ? { exposed: engine.exposed(backend, name) } : {}),
          ...brief(engine.decideWith(rules, { kind, backend, name })),
        };
      });
  return {
    ...header(engine, p, configured),
    backends: listings.map((b) => ({
      name: b.name,
      ...brief(engine.decideWith(rules, { kind: 'backend', backend: b.name, name: b.name })),
      tools: named('tool', b.name, b.tools, 'name'),
      prompts: named('prompt', b.name, b.prompts, 'name'),
      resources: named('resource', b.name, b.resources, 'uri'),
      resourceTemplates: named('resource', b.name, b.resourceTemplates, 'uriTemplate'),
    })),
  };
}
