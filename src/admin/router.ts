/**
 * The admin API's route table: `/admin/services/{name}`-style patterns matched segment
 * by segment. A table where one route could shadow another (a literal segment at the
 * place of another route's parameter, same method) is refused when it is built.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { AdminContext } from './context.js';
import type { Identity } from './auth.js';
import type { Body } from './http.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface AdminRequest {
  method: Method;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  who: Identity;
  /** The request body: JSON, or YAML where the route accepts it. */
  body(): Promise<Body>;
  /** What the audit line records besides who/what/outcome (set by mutating handlers). */
  audit: Record<string, unknown>;
}

export interface Reply {
  status?: number;
  body: unknown;
}

export interface RouteDef {
  method: Method;
  path: string;
  /** Accepts application/yaml bodies as well as JSON. */
  yaml?: boolean;
  /** A self-registration route: role registrar may use it (and no other). */
  registration?: boolean;
  handler(req: AdminRequest, ctx: AdminContext): Promise<Reply> | Reply;
}

export const isWrite = (m: string): boolean => m !== 'GET' && m !== 'HEAD';

interface Compiled extends RouteDef {
  segments: string[];
}

const isParam = (s: string) => s.startsWith('{') && s.endsWith('}');

export class Router {
  private readonly routes: Compiled[];

  constructor(defs: readonly RouteDef[]) {
    this.routes = defs.map((d) => ({ ...d, segments: d.path.split('/').slice(1) }));
    for (const [i, a] of this.routes.entries()) {
      for (const b of this.routes.slice(i + 1)) {
        if (a.method === b.method && a.segments.length === b.segments.length && a.segments.every((s, k) => s === b.segments[k] || isParam(s) || isParam(b.segments[k]))) {
          throw new Error(`admin routes overlap: ${a.method} ${a.path} and ${b.path}`);
        }
      }
    }
  }

  get table(): ReadonlyArray<RouteDef> {
    return this.routes;
  }

  /** The route for a path: `route` when the method matches, else the methods the path allows. */
  match(method: string, path: string): { route: RouteDef; params: Record<string, string> } | { allowed: Method[] } {
    const parts = path.split('/').slice(1);
    const allowed: Method[] = [];
    for (const r of this.routes) {
      if (r.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let k = 0; k < parts.length && ok; k++) {
        const s = r.segments[k];
        if (isParam(s)) {
          const v = safeDecode(parts[k]);
          if (v === undefined || v === '') ok = false;
          else params[s.slice(1, -1)] = v;
        } else ok = s === parts[k];
      }
      if (!ok) continue;
      if (r.method === method) return { route: r, params };
      allowed.push(r.method);
    }
    return { allowed };
  }
}

function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}
