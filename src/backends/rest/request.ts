/**
 * Builds the HTTP request of a REST tool from its validated arguments: path template,
 * query, headers and body filled from the arguments, plus the backend's static headers
 * and auth. Values are encoded, never interpreted.
 */
import { FormData } from 'undici';
import type { RestTool } from '../../config/backends.js';
import { parseTemplate, render, stringify, wholeRef, type TemplatePart } from '../../config/template.js';
import type { HttpRequest } from './http-call.js';
import { isRoutingHeader } from './routing-headers.js';

export interface ResolvedAuth {
  headers: Record<string, string>;
  query: Record<string, string>;
}

/** A value that cannot go where the tool puts it; reported to the model as MCPEG_ERR_BAD_ARGUMENT. */
export class BadArgumentError extends Error {}

/** A tool compiled once: templates parsed, the arguments each part consumes known. */
export interface CompiledRequest {
  build(args: Record<string, unknown>): HttpRequest;
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);
/** A high surrogate not followed by a low one, or a low one not preceded by a high one (linear: one-character look-around). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function compileRequest(tool: RestTool, baseUrl: string, staticHeaders: Record<string, string>, auth: ResolvedAuth): CompiledRequest {
  const base = baseUrl.replace(/\/+$/, '');
  // Credentials go to base_url's origin and nowhere else: a path that does not start with "/"
  // could continue the authority ("@host", ".evil.example", ":81").
  const origin = new URL(base).origin;
  if (!tool.path.startsWith('/')) throw new Error(`path ${JSON.stringify(tool.path)} must start with "/"`);
  const path = parseTemplate(tool.path);
  const query = Object.entries(tool.query).map(([k, v]) => ({
    name: k,
    tpl: typeof v === 'string' ? parseTemplate(v) : [{ lit: String(v) }],
    whole: typeof v === 'string' ? wholeRef(v) : undefined,
  }));
  const headers = Object.entries(tool.headers).map(([k, v]) => ({ name: k, tpl: parseTemplate(v) }));
  for (const h of headers) {
    if (isRoutingHeader(h.name) && h.tpl.some((p) => 'ref' in p))
      throw new Error(`header "${h.name}" cannot be filled from arguments: it decides where the request goes or how it is framed`);
  }
  const consumed = new Set<string>();
  const note = (parts: TemplatePart[]) => parts.forEach((p) => 'ref' in p && consumed.add(p.ref));
  note(path);
  query.forEach((q) => note(q.tpl));
  headers.forEach((h) => note(h.tpl));
  const props = Object.keys((tool.input_schema.properties as Record<string, unknown> | undefined) ?? {});
  // No body config on POST/PUT/PATCH, or one that only names the encoding: the arguments no other part used.
  const rest = props.filter((p) => !consumed.has(p));
  const bodySpec =
    tool.body && (tool.body.arg !== undefined || tool.body.fields || tool.body.template !== undefined)
      ? tool.body
      : tool.body || BODY_METHODS.has(tool.method)
        ? { encoding: tool.body?.encoding ?? ('json' as const), fields: rest }
        : undefined;
  const explicit = tool.body !== undefined;
  // Query names the auth or the tool itself sets: an object argument spread into parameters may not add a second value to them.
  const fixedQuery = new Set([...Object.keys(auth.query), ...query.map((q) => q.name)]);

  return {
    build(args) {
      // Own properties only: an absent "constructor" argument must not read Object.prototype's.
      const get = (ref: string) => (Object.hasOwn(args, ref) && args[ref] !== null ? args[ref] : undefined);
      const p = render(
        path,
        (ref) => {
          const v = get(ref);
          if (v === undefined) throw new BadArgumentError(`missing path parameter "${ref}"`);
          const s = stringify(v);
          // "." and ".." would be resolved as dot-segments (RFC 3986 §5.2.4), even percent-encoded.
          if (s === '' || s === '.' || s === '..') throw new BadArgumentError(`path parameter "${ref}" cannot be ${JSON.stringify(s)}`);
          // A lone surrogate has no UTF-8 form: encodeURIComponent would throw a URIError.
          if (LONE_SURROGATE.test(s)) throw new BadArgumentError(`path parameter "${ref}" contains a lone UTF-16 surrogate (not valid Unicode text)`);
          return s;
        },
        encodeURIComponent,
      )!;
      const url = new URL(base + p);
      // Unreachable with the checks above and encoded path values; kept as the last word on where the credentials go.
      if (url.origin !== origin) throw new BadArgumentError(`the request would leave ${origin}`);
      for (const [k, v] of Object.entries(auth.query)) url.searchParams.set(k, v);
      for (const q of query) {
        if (q.whole !== undefined) {
          appendQuery(url.searchParams, q.name, get(q.whole), fixedQuery);
          continue;
        }
        const v = render(q.tpl, get);
        if (v !== undefined) url.searchParams.append(q.name, v);
      }
      // The auth's parameters override the tool's of the same name (as its headers do): one value, the configured one.
      for (const [k, v] of Object.entries(auth.query)) url.searchParams.set(k, v);
      const h: Record<string, string> = { ...lower(staticHeaders) };
      for (const x of headers) {
        const v = render(x.tpl, get);
        if (v === undefined) continue;
        // What undici would refuse (RFC 9110 §5.5 field-value: no controls, one byte a character) fails here, as the argument's fault.
        if (/[^\t\x20-\x7e\x80-\xff]/.test(v)) throw new BadArgumentError(`header ${x.name} cannot contain CR, LF, NUL, other control characters or characters above U+00FF`);
        h[x.name.toLowerCase()] = v;
      }
      Object.assign(h, lower(auth.headers));
      h.accept ??= 'application/json, */*;q=0.5';
      const req: HttpRequest = { method: tool.method, url, headers: h };
      if (bodySpec) {
        const value = bodySpec.arg !== undefined ? get(bodySpec.arg) : bodySpec.fields ? pick(args, bodySpec.fields) : fill(bodySpec.template, get);
        if (value !== undefined && !(bodySpec.fields && Object.keys(value as object).length === 0 && !explicit)) {
          encodeBody(req, bodySpec.encoding, value);
        }
      }
      return req;
    },
  };
}

function lower(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}

/**
 * OpenAPI's default query style (form, explode): arrays repeat the key, objects spread their keys.
 * A spread key may not be one the auth or the tool sets (`fixed`): a second `api_key=` or
 * `admin=` could replace the configured value on a server that reads the last one.
 */
function appendQuery(sp: URLSearchParams, name: string, v: unknown, fixed: ReadonlySet<string>): void {
  if (v === undefined || v === null) return;
  if (Array.isArray(v)) v.forEach((x) => sp.append(name, stringify(x)));
  else if (typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (fixed.has(k)) throw new BadArgumentError(`query parameter "${name}": key "${k}" names a parameter the backend or the tool sets itself`);
      sp.append(k, stringify(x));
    }
  } else sp.append(name, stringify(v));
}

function pick(args: Record<string, unknown>, fields: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // defineProperty: a field named "__proto__" is a plain key, not the object's prototype.
  for (const f of fields)
    if (Object.hasOwn(args, f) && args[f] !== undefined) Object.defineProperty(out, f, { value: args[f], enumerable: true, writable: true, configurable: true });
  return out;
}

/** A JSON template: a string that is one placeholder keeps the argument's type; absent arguments drop their key. */
function fill(t: unknown, get: (ref: string) => unknown): unknown {
  if (typeof t === 'string') {
    const whole = wholeRef(t);
    return whole !== undefined ? get(whole) : render(parseTemplate(t), get);
  }
  if (Array.isArray(t)) return t.map((x) => fill(x, get)).filter((x) => x !== undefined);
  if (t && typeof t === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(t)) {
      const v = fill(x, get);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }
  return t;
}

function encodeBody(req: HttpRequest, encoding: 'json' | 'form' | 'multipart' | 'text', value: unknown): void {
  const set = (type: string) => (req.headers['content-type'] ??= type);
  if (encoding === 'json') {
    set('application/json');
    req.body = JSON.stringify(value);
  } else if (encoding === 'text') {
    set('text/plain; charset=utf-8');
    req.body = stringify(value);
  } else {
    const entries = value && typeof value === 'object' && !Array.isArray(value) ? Object.entries(value) : [['value', value] as [string, unknown]];
    const flat = entries.flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, stringify(x)]) : v === undefined ? [] : [[k, stringify(v)]]));
    if (encoding === 'form') {
      set('application/x-www-form-urlencoded');
      req.body = new URLSearchParams(flat).toString();
    } else {
      // undici sets the multipart content-type with its boundary.
      delete req.headers['content-type'];
      const fd = new FormData();
      for (const [k, v] of flat) fd.append(k, v);
      req.body = fd;
    }
  }
}
