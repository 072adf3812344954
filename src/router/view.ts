/**
 * A view is what one client endpoint sees: the aggregate (`/mcp`, `/sse`, stdio), with
 * namespaced tool and prompt names, or one backend (`/servers/<name>/mcp`) with its
 * original names. Views are immutable snapshots rebuilt whenever a backend's catalog
 * changes, so the hot path does one Map lookup per call.
 *
 * Resource URIs keep their form. Routing: an exact URI listed by a backend wins; then the
 * first backend (in config order) whose template matches. When two backends list the same
 * exact URI the first wins and the clash is reported; overlapping templates are not
 * detected (the first matching template wins).
 */
import { GatewayError, type ErrorCode } from '../errors/catalog.js';
import { compileTemplate, type TemplateMatcher } from './uri-template.js';
import type { BackendCatalog, Item, ListKind } from '../upstream/catalog.js';
import { exposedName } from './naming.js';

export interface Route {
  readonly backend: string;
  /** The name the backend knows. */
  readonly name: string;
}

/**
 * A tool clients of the view may not see or call, and why: its definition is not approved
 * (pinning), or its backend is unavailable (the tools it listed while up).
 */
export interface Withheld {
  readonly code: ErrorCode;
  readonly message: string;
}

export interface ViewSource {
  readonly name: string;
  readonly prefix: string;
  readonly catalog: BackendCatalog;
  readonly capabilities: Record<string, unknown> | undefined;
  /** Tools left out of `catalog`, by the backend's own name: a call to one is refused with its reason. */
  readonly withheld?: ReadonlyMap<string, Withheld> | undefined;
  /**
   * The backend has never been up, so its tools are not known yet: a call to a name under
   * its prefix (any name, in its own view) is refused with this reason, not as unknown.
   */
  readonly notYetUp?: Withheld | undefined;
}

export class View {
  readonly id: string;
  readonly tools: readonly Item[];
  readonly prompts: readonly Item[];
  readonly resources: readonly Item[];
  readonly resourceTemplates: readonly Item[];
  readonly backends: readonly string[];
  readonly problems: readonly string[];
  /**
   * Where each listed item comes from, index for index with its list: the backend and the
   * backend's own name (tools, prompts), URI (resources) or template (resource templates).
   * Authorization filters the lists per principal with it (src/authz/lists.ts).
   */
  readonly origins: Readonly<Record<ListKind, readonly Route[]>>;
  private readonly toolRoutes = new Map<string, Route>();
  private readonly promptRoutes = new Map<string, Route>();
  private readonly withheldRoutes = new Map<string, Route & Withheld>();
  /** Backends not yet up: the start of their exposed names ('' in a backend's own view), longest first (a name under two is the longer one's). */
  private readonly notYetUp: Array<{ head: string; backend: string } & Withheld> = [];
  private readonly uriRoutes = new Map<string, string>();
  private readonly templateRoutes: Array<{ matches: TemplateMatcher; raw: string; backend: string }> = [];
  /** Capabilities of the backends in this view, for the union advertised to clients. */
  readonly backendCapabilities: ReadonlyArray<Record<string, unknown>>;

  constructor(id: string, sources: readonly ViewSource[], separator: string, namespaced: boolean) {
    this.id = id;
    const problems: string[] = [];
    const tools: Item[] = [];
    const prompts: Item[] = [];
    const resources: Item[] = [];
    const templates: Item[] = [];
    const origins: Record<ListKind, Route[]> = { tools: [], prompts: [], resources: [], resourceTemplates: [] };
    for (const src of sources) {
      const prefix = namespaced ? src.prefix : '';
      for (const t of src.catalog.tools) {
        if (typeof t.name !== 'string') continue;
        const exposed = exposedName(prefix, separator, t.name);
        const clash = this.toolRoutes.get(exposed);
        if (clash) {
          problems.push(
            `tool name collision: "${exposed}" from backend "${src.name}" (tool "${t.name}") clashes with backend "${clash.backend}" (tool "${clash.name}"); the first is kept`,
          );
          continue;
        }
        const route = { backend: src.name, name: t.name };
        this.toolRoutes.set(exposed, route);
        tools.push(exposed === t.name ? t : { ...t, name: exposed });
        origins.tools.push(route);
      }
      for (const [name, w] of src.withheld ?? []) {
        const exposed = exposedName(prefix, separator, name);
        if (!this.toolRoutes.has(exposed) && !this.withheldRoutes.has(exposed)) this.withheldRoutes.set(exposed, { backend: src.name, name, ...w });
      }
      // Names are made safe as exposedName makes them (a hashed long name still starts with its cleaned prefix).
      if (src.notYetUp) {
        this.notYetUp.push({ head: prefix ? `${prefix}${separator}`.replace(/[^a-zA-Z0-9_-]/g, '_') : '', backend: src.name, ...src.notYetUp });
        this.notYetUp.sort((x, y) => y.head.length - x.head.length);
      }
      for (const p of src.catalog.prompts) {
        if (typeof p.name !== 'string') continue;
        const exposed = exposedName(prefix, separator, p.name);
        const clash = this.promptRoutes.get(exposed);
        if (clash) {
          problems.push(`prompt name collision: "${exposed}" from backend "${src.name}" clashes with backend "${clash.backend}"; the first is kept`);
          continue;
        }
        const route = { backend: src.name, name: p.name };
        this.promptRoutes.set(exposed, route);
        prompts.push(exposed === p.name ? p : { ...p, name: exposed });
        origins.prompts.push(route);
      }
      for (const r of src.catalog.resources) {
        if (typeof r.uri !== 'string') continue;
        const owner = this.uriRoutes.get(r.uri);
        if (owner) {
          problems.push(`resource URI "${r.uri}" is offered by backends "${owner}" and "${src.name}"; reads go to "${owner}"`);
          continue;
        }
        this.uriRoutes.set(r.uri, src.name);
        resources.push(r);
        origins.resources.push({ backend: src.name, name: r.uri });
      }
      for (const t of src.catalog.resourceTemplates) {
        if (typeof t.uriTemplate !== 'string') continue;
        const matches = compileTemplate(t.uriTemplate);
        if (matches) {
          this.templateRoutes.push({ matches, raw: t.uriTemplate, backend: src.name });
          templates.push(t);
          origins.resourceTemplates.push({ backend: src.name, name: t.uriTemplate });
        } else {
          problems.push(`backend "${src.name}": resource template ${JSON.stringify(t.uriTemplate.slice(0, 200))} is invalid or too large to route on`);
        }
      }
    }
    this.tools = tools;
    this.prompts = prompts;
    this.resources = resources;
    this.resourceTemplates = templates;
    this.backends = sources.map((s) => s.name);
    this.backendCapabilities = sources.map((s) => s.capabilities ?? {});
    this.problems = problems;
    this.origins = origins;
  }

  tool(exposed: string): Route | undefined {
    return this.toolRoutes.get(exposed);
  }

  /** A tool this view does not list but knows (withheld by pinning, its backend unavailable): where it is and why it is refused. */
  withheld(exposed: string): (Route & Withheld) | undefined {
    const w = this.withheldRoutes.get(exposed);
    if (w || this.notYetUp.length === 0) return w;
    const s = this.notYetUp.find((n) => exposed.startsWith(n.head));
    return s && { backend: s.backend, name: exposed.slice(s.head.length), code: s.code, message: s.message };
  }

  /** Why a tool this view does not list is refused, if it is (see `withheld`). */
  refusal(exposed: string): GatewayError | undefined {
    const w = this.withheld(exposed);
    return w && new GatewayError(w.code, w.message, { tool: exposed, backend: w.backend, backendTool: w.name });
  }

  prompt(exposed: string): Route | undefined {
    return this.promptRoutes.get(exposed);
  }

  resourceBackend(uri: string): string | undefined {
    const exact = this.uriRoutes.get(uri);
    if (exact) return exact;
    for (const t of this.templateRoutes) if (t.matches(uri)) return t.backend;
    // One backend only (a per-backend view, or an aggregate of one): it is the owner.
    if (this.backends.length === 1) return this.backends[0];
    return undefined;
  }

  /** Backend owning a template string (for completion/complete on ref/resource). */
  templateBackend(uriTemplate: string): string | undefined {
    for (const t of this.templateRoutes) if (t.raw === uriTemplate) return t.backend;
    return this.resourceBackend(uriTemplate);
  }
}
