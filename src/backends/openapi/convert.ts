/**
 * OpenAPI operations → REST tool definitions, in the very shape a `type: rest` backend
 * takes in YAML: the `openapi` backend feeds them through the same schema and runtime,
 * and `mcpeg codegen` writes them out, so both serve the same tools. One tool per
 * operation, named from its operationId (or method and path); parameters and the request
 * body are folded into the input schema; the success response is the output schema.
 */
import { isRoutingHeader } from '../rest/routing-headers.js';
import { deref, forEachOperation, type Operation, type Parameter } from './operations.js';
import { SchemaConverter } from './schema.js';
import { SpecLoadError } from './spec-error.js';

type Schema = Record<string, unknown>;

export interface Selection {
  include?: { tags: string[]; operations: string[] };
  exclude?: { tags: string[]; operations: string[] };
}

export interface ConvertOptions extends Selection {
  outputSchemas?: boolean;
  /** Header and query names the backend's `headers` and `auth` set: parameters of these names are not mapped. */
  reserved?: { headers: string[]; query: string[] };
}

export interface Converted {
  tools: Record<string, Schema>;
  /** What could not be carried over (cookie parameters …), by operation. */
  notes: string[];
}

const MAX_DESCRIPTION = 2000;
/**
 * How large, as JSON text, one document's tools may be: the bound on an MCP backend's tool
 * list (MAX_LIST_BYTES). Conversion shares what it can: a value a schema keeps as written
 * (description, default, enum) is the document's own object wherever a copied `$ref` lands,
 * and a component's converted schema is in the `$defs` of every tool that uses it. Written
 * out (validated, listed), each place is a copy: a 3.4 KB document whose 2,000-character
 * description was reached by 4^9 copied refs was 520 MB of tool schemas (the gateway never
 * started; 1.4 GB), within MAX_CONVERTED_NODES.
 */
export const MAX_TOOLS_TEXT = 64 * 1024 * 1024;

export function convertSpec(doc: Record<string, unknown>, opts: ConvertOptions = {}): Converted {
  const conv = new SchemaConverter(doc);
  const tools: Record<string, Schema> = {};
  const notes: string[] = [];
  const ops: Operation[] = [];
  const reserved = {
    headers: new Set((opts.reserved?.headers ?? []).map((h) => h.trim().toLowerCase())),
    query: new Set(opts.reserved?.query ?? []),
  };
  forEachOperation(doc, (op) => ops.push(op));
  for (const op of ops) {
    const name = uniqueName(toolName(op), tools);
    if (!selected(op, name, opts)) continue;
    tools[name] = convertOperation(doc, op, conv, opts.outputSchemas ?? true, reserved, (n) => notes.push(`${name} (${op.method.toUpperCase()} ${op.path}): ${n}`));
  }
  if (jsonSize(tools, MAX_TOOLS_TEXT) > MAX_TOOLS_TEXT)
    throw new SpecLoadError(
      `the document's tools are more than ${MAX_TOOLS_TEXT} characters of JSON (values reached through many $refs, or in the $defs of many tools, are copied each time)`,
    );
  return { tools, notes };
}

/**
 * About how many characters `root` is as JSON: a shared value counts once per place, as
 * JSON.stringify writes it, but is walked once (its size is kept). Stops past `limit`.
 */
function jsonSize(root: unknown, limit: number): number {
  type Frame = { o: object; kids: unknown[]; i: number; n: number };
  const known = new WeakMap<object, number>();
  const leaf = (x: unknown) => (typeof x === 'string' ? x.length + 2 : 5);
  const open = (o: object): Frame => {
    if (Array.isArray(o)) return { o, kids: o, i: 0, n: 1 + o.length };
    const entries = Object.entries(o);
    return { o, kids: entries.map(([, v]) => v), i: 0, n: 2 + entries.reduce((a, [k]) => a + k.length + 4, 0) };
  };
  if (!root || typeof root !== 'object') return leaf(root);
  const stack = [open(root)];
  // What is counted so far: every open container's own part and what it has summed.
  let total = stack[0]!.n;
  for (;;) {
    const f = stack[stack.length - 1]!;
    if (f.i === f.kids.length) {
      stack.pop();
      known.set(f.o, f.n);
      const up = stack[stack.length - 1];
      if (!up) return f.n;
      up.n += f.n;
      up.i++;
    } else {
      const x = f.kids[f.i];
      const k = x && typeof x === 'object' ? known.get(x) : leaf(x);
      if (k === undefined) {
        const g = open(x as object);
        stack.push(g);
        total += g.n;
      } else {
        f.n += k;
        f.i++;
        total += k;
      }
    }
    if (total > limit) return total;
  }
}

function selected(op: Operation, name: string, s: Selection): boolean {
  const tags = op.op.tags ?? [];
  const ids = [op.op.operationId, name].filter((x): x is string => !!x);
  const hit = (sel: { tags: string[]; operations: string[] }) => sel.tags.some((t) => tags.includes(t)) || sel.operations.some((o) => ids.includes(o));
  if (s.include && (s.include.tags.length || s.include.operations.length) && !hit(s.include)) return false;
  return !(s.exclude && hit(s.exclude));
}

export function toolName(op: Operation): string {
  const raw = op.op.operationId ?? `${op.method}_${op.path.replace(/[{}]/g, '').split('/').filter(Boolean).join('_')}`;
  const clean = raw
    .replace(/[^a-zA-Z0-9_-]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_+|_+$/g, '');
  return (clean || op.method).slice(0, 64);
}

function uniqueName(base: string, taken: Record<string, unknown>): string {
  if (!Object.hasOwn(taken, base)) return base;
  for (let i = 2; ; i++) {
    const n = `${base.slice(0, 64 - String(i).length - 1)}_${i}`;
    if (!Object.hasOwn(taken, n)) return n;
  }
}

function convertOperation(
  doc: Record<string, unknown>,
  op: Operation,
  conv: SchemaConverter,
  outputSchemas: boolean,
  reserved: { headers: ReadonlySet<string>; query: ReadonlySet<string> },
  note: (s: string) => void,
): Schema {
  const properties: Record<string, Schema> = {};
  const required: string[] = [];
  const query: Record<string, string> = {};
  const headers: Record<string, string> = {};
  const order = { path: 0, query: 1, header: 2, cookie: 3 };
  const params = [...op.parameters].sort((a, b) => order[a.in] - order[b.in]);
  for (const p of params) {
    if (p.in === 'cookie') {
      note(`cookie parameter "${p.name}" is not mapped`);
      continue;
    }
    if (/[{}]/.test(p.name)) {
      note(`parameter "${p.name}" has braces in its name and is not mapped`);
      continue;
    }
    if (p.name === '__proto__') {
      note('parameter "__proto__" is not mapped');
      continue;
    }
    // Host, Content-Length, Transfer-Encoding …: an argument must not choose where the request goes.
    if (p.in === 'header' && isRoutingHeader(p.name)) {
      note(`header parameter "${p.name}" is not mapped: it decides where the request goes or how it is framed`);
      continue;
    }
    // An API key or tenant header the config sets: a client argument must not replace it.
    if ((p.in === 'header' && reserved.headers.has(p.name.trim().toLowerCase())) || (p.in === 'query' && reserved.query.has(p.name))) {
      note(`${p.in} parameter "${p.name}" is not mapped: the backend's headers or auth set it`);
      continue;
    }
    const arg = Object.hasOwn(properties, p.name) ? `${p.name}_${p.in}` : p.name;
    properties[arg] = paramSchema(p, conv);
    if (p.required || p.in === 'path') required.push(arg);
    if (p.in === 'query') query[p.name] = `{${arg}}`;
    else if (p.in === 'header') headers[p.name] = `{${arg}}`;
  }
  const tool: Schema = {
    ...(op.op.summary ? { title: op.op.summary.trim().slice(0, 200) } : {}),
    description: describe(op),
    method: op.method.toUpperCase(),
    path: op.path,
  };
  if (Object.keys(query).length) tool.query = query;
  if (Object.keys(headers).length) tool.headers = headers;

  const body = requestBody(doc, op, conv);
  if (body) {
    const folded =
      body.schema && body.encoding !== 'text' && !/[{}]/.test(Object.keys(body.props ?? {}).join('')) && !Object.hasOwn(body.props ?? {}, '__proto__') ? body.props : undefined;
    if (folded && Object.keys(folded).length && Object.keys(folded).every((k) => !Object.hasOwn(properties, k))) {
      Object.assign(properties, folded);
      if (body.required) required.push(...body.requiredProps);
      tool.body = { encoding: body.encoding, fields: Object.keys(folded) };
    } else {
      const arg = Object.hasOwn(properties, 'body') ? 'request_body' : 'body';
      properties[arg] = body.schema ?? {};
      if (body.required) required.push(arg);
      tool.body = { encoding: body.encoding, arg };
    }
    if (body.encoding === 'text') tool.headers = { ...(tool.headers as object), 'Content-Type': body.mediaType };
  }
  tool.input_schema = conv.withDefs({ type: 'object', properties, ...(required.length ? { required: [...new Set(required)] } : {}) });

  const out = outputSchemas ? successSchema(doc, op, conv) : undefined;
  if (out) {
    if (conv.isObject(out)) tool.output_schema = conv.withDefs(out.type === 'object' ? out : { type: 'object', allOf: [out] });
    else {
      tool.output_schema = conv.withDefs({ type: 'object', properties: { result: out }, required: ['result'] });
      tool.response = { wrap: true };
    }
  }
  const method = op.method.toUpperCase();
  tool.annotations = {
    readOnlyHint: method === 'GET' || method === 'HEAD',
    destructiveHint: method === 'DELETE',
    openWorldHint: true,
  };
  return tool;
}

function describe(op: Operation): string {
  const parts = [op.op.summary, op.op.description].map((s) => s?.trim()).filter((s): s is string => !!s);
  if (parts.length === 2 && parts[1].startsWith(parts[0])) parts.shift();
  let d = parts.join('\n\n') || `${op.method.toUpperCase()} ${op.path}`;
  if (op.op.deprecated) d = `[deprecated] ${d}`;
  return d.length > MAX_DESCRIPTION ? `${d.slice(0, MAX_DESCRIPTION - 1)}…` : d;
}

function paramSchema(p: Parameter, conv: SchemaConverter): Schema {
  const raw = p.schema ?? Object.values(p.content ?? {})[0]?.schema ?? { type: 'string' };
  const s = conv.convert(raw);
  const description = [p.description?.trim(), p.deprecated ? '(deprecated)' : ''].filter(Boolean).join(' ');
  return description && !s.$ref ? { ...s, description } : description ? { allOf: [s], description } : s;
}

const MEDIA_PREFERENCE: Array<[RegExp, 'json' | 'form' | 'multipart' | 'text']> = [
  [/^application\/json$/i, 'json'],
  [/^application\/[^;]*\+json$/i, 'json'],
  [/^application\/x-www-form-urlencoded$/i, 'form'],
  [/^multipart\/form-data$/i, 'multipart'],
  [/^text\//i, 'text'],
  [/./, 'text'],
];

function requestBody(doc: Record<string, unknown>, op: Operation, conv: SchemaConverter) {
  const rb = deref<{ required?: boolean; content?: Record<string, { schema?: unknown }> }>(doc, op.op.requestBody);
  if (!rb?.content || !Object.keys(rb.content).length) return undefined;
  const types = Object.keys(rb.content);
  for (const [re, encoding] of MEDIA_PREFERENCE) {
    const mediaType = types.find((t) => re.test(t.split(';')[0].trim()));
    if (!mediaType) continue;
    const raw = rb.content[mediaType].schema;
    const schema = raw === undefined ? undefined : conv.convert(raw);
    const resolved = schema ? conv.resolve(schema) : undefined;
    const plain = resolved && (resolved.type === 'object' || resolved.type === undefined) && !resolved.allOf && !resolved.oneOf && !resolved.anyOf && resolved.properties;
    const props = plain ? (resolved.properties as Record<string, Schema>) : undefined;
    const requiredProps = plain && Array.isArray(resolved.required) ? (resolved.required as string[]) : [];
    return { mediaType, encoding, schema, props, requiredProps, required: rb.required === true };
  }
  return undefined;
}

function successSchema(doc: Record<string, unknown>, op: Operation, conv: SchemaConverter): Schema | undefined {
  const responses = op.op.responses ?? {};
  const codes = Object.keys(responses)
    .filter((c) => /^2(\d\d|XX)$/i.test(c))
    .sort();
  for (const code of codes) {
    const r = deref<{ content?: Record<string, { schema?: unknown }> }>(doc, responses[code]);
    const media = Object.keys(r?.content ?? {}).find((t) => /^application\/(json|[^;]*\+json)\b/i.test(t));
    if (media) {
      const raw = r!.content![media].schema;
      return raw === undefined ? undefined : conv.convert(raw);
    }
    if (r?.content && Object.keys(r.content).length) return undefined; // a non-JSON success: text, no schema
  }
  return undefined;
}
