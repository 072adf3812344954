/**
 * OpenAPI Schema Objects → JSON Schema for MCP tool schemas. References to
 * `#/components/schemas/X` become `#/$defs/X` (so recursive schemas stay finite and
 * shared ones are written once); OpenAPI 3.0's dialect is mapped to JSON Schema
 * (`nullable`, boolean `exclusiveMinimum`/`exclusiveMaximum`); keywords that only
 * document (xml, discriminator, examples, x-*) and OpenAPI-only formats are dropped.
 */
import { pointerGet } from '../../config/template.js';
import { SpecLoadError } from './spec-error.js';
import { escapePointer } from './validate.js';

type Schema = Record<string, unknown>;

/** Formats JSON Schema validators know; others (int32, int64, byte, binary, password …) only document. */
const JSON_SCHEMA_FORMATS = new Set([
  'date-time',
  'date',
  'time',
  'duration',
  'email',
  'idn-email',
  'hostname',
  'idn-hostname',
  'ipv4',
  'ipv6',
  'uri',
  'uri-reference',
  'iri',
  'iri-reference',
  'uuid',
  'uri-template',
  'json-pointer',
  'relative-json-pointer',
  'regex',
]);
const DROP = new Set(['xml', 'discriminator', 'example', 'examples', 'externalDocs', '$schema', '$id', '$anchor', '$dynamicAnchor', 'contentMediaType', 'contentEncoding']);
const COMPONENT = '#/components/schemas/';
/** Keywords whose value is a schema or an array of them, and those whose value maps names to schemas: where a converted schema has its $refs. */
const SUBSCHEMA = new Set([
  'items',
  'additionalProperties',
  'not',
  'contains',
  'propertyNames',
  'if',
  'then',
  'else',
  'unevaluatedProperties',
  'unevaluatedItems',
  'additionalItems',
  'allOf',
  'anyOf',
  'oneOf',
  'prefixItems',
]);
const SCHEMA_MAP = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);
/**
 * Schema nodes one document may convert into. A `$ref` outside components/schemas is inlined
 * where it is used, so refs that each name the next several times multiply (a 1.4 KB document
 * of 9 levels of 4 such refs made 9 MB of tool schemas; 16 levels, 4 billion nodes: the event
 * loop never came back). Real documents convert in thousands (the fixtures: at most 2,752).
 */
export const MAX_CONVERTED_NODES = 1_000_000;

export class SchemaConverter {
  readonly defs = new Map<string, Schema>();
  private readonly v30: boolean;
  private converted = 0;
  /** The components each component's converted schema names (withDefs). */
  private readonly defRefs = new Map<string, string[]>();
  /** isObject's answers, by the schema resolved. */
  private readonly objects = new WeakMap<Schema, boolean>();
  constructor(private readonly doc: Record<string, unknown>) {
    this.v30 = String(doc.openapi).startsWith('3.0');
  }

  /** One more schema node made or walked: past MAX_CONVERTED_NODES the document is refused. */
  private count(): void {
    if (++this.converted > MAX_CONVERTED_NODES)
      throw new SpecLoadError(`the document's schemas expand to more than ${MAX_CONVERTED_NODES} nodes ($refs outside #/components/schemas are copied where they are used)`);
  }

  /** Converts one schema; the components it uses are collected in `defs` (see `withDefs`). */
  convert(s: unknown, depth = 0): Schema {
    this.count();
    if (!s || typeof s !== 'object' || Array.isArray(s)) return typeof s === 'boolean' ? (s ? {} : { not: {} }) : {};
    const src = s as Schema;
    if (typeof src.$ref === 'string') {
      const ref = src.$ref;
      if (ref.startsWith(COMPONENT) && !ref.slice(COMPONENT.length).includes('/')) {
        const name = decodeURIComponent(ref.slice(COMPONENT.length)).replace(/~1/g, '/').replace(/~0/g, '~');
        if (!this.defs.has(name)) {
          this.defs.set(name, {}); // placeholder first: recursion stops here
          this.defs.set(name, this.convert(pointerGet(this.doc, `/components/schemas/${escapePointer(name)}`), 0));
        }
        // 3.1 allows siblings next to $ref; keep them (2020-12 semantics).
        const rest = Object.fromEntries(Object.entries(src).filter(([k]) => k !== '$ref'));
        const out: Schema = { $ref: `#/$defs/${escapePointer(name)}` };
        return Object.keys(rest).length && !this.v30 ? { allOf: [out, this.convert(rest, depth + 1)] } : out;
      }
      if (ref.startsWith('#') && depth < 32) return this.convert(pointerGet(this.doc, decodeURIComponent(ref.slice(1))), depth + 1);
      return {};
    }
    const out: Schema = {};
    for (const [k, v] of Object.entries(src)) {
      if (DROP.has(k) || k.startsWith('x-')) continue;
      if (k === 'format' && (typeof v !== 'string' || !JSON_SCHEMA_FORMATS.has(v))) continue;
      if (k === 'properties' || k === 'patternProperties' || k === '$defs' || k === 'definitions' || k === 'dependentSchemas') {
        put(out, k, Object.fromEntries(Object.entries((v ?? {}) as Schema).map(([pk, pv]) => [pk, this.convert(pv, depth + 1)])));
      } else if (
        k === 'items' ||
        k === 'additionalProperties' ||
        k === 'not' ||
        k === 'contains' ||
        k === 'propertyNames' ||
        k === 'if' ||
        k === 'then' ||
        k === 'else' ||
        k === 'unevaluatedProperties' ||
        k === 'unevaluatedItems' ||
        k === 'additionalItems'
      ) {
        put(out, k, typeof v === 'boolean' ? v : Array.isArray(v) ? v.map((x) => this.convert(x, depth + 1)) : this.convert(v, depth + 1));
      } else if (k === 'allOf' || k === 'anyOf' || k === 'oneOf' || k === 'prefixItems') {
        put(out, k, Array.isArray(v) ? v.map((x) => this.convert(x, depth + 1)) : v);
      } else {
        put(out, k, v);
      }
    }
    // OpenAPI 3.0 §4.7.24.1: nullable adds null to the allowed types (some 3.1 documents still use it).
    if ('nullable' in out) {
      if (out.nullable === true) {
        if (typeof out.type === 'string') out.type = [out.type, 'null'];
        if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
        if (out.type === undefined && !out.enum) {
          const inner = { ...out };
          delete inner.nullable;
          delete out.nullable;
          return { anyOf: [inner, { type: 'null' }] };
        }
      }
      delete out.nullable;
    }
    if (this.v30) {
      for (const [ex, lim] of [
        ['exclusiveMinimum', 'minimum'],
        ['exclusiveMaximum', 'maximum'],
      ] as const) {
        if (out[ex] === true && typeof out[lim] === 'number') {
          out[ex] = out[lim];
          delete out[lim];
        } else if (typeof out[ex] === 'boolean') delete out[ex];
      }
    }
    return out;
  }

  /** Attaches the `$defs` a top-level schema needs (transitively), and only those. */
  withDefs(s: Schema): Schema {
    const used = new Set<string>();
    const names = this.namesIn(s);
    while (names.length) {
      const name = names.pop()!;
      if (used.has(name)) continue;
      used.add(name);
      this.count();
      let refs = this.defRefs.get(name);
      if (!refs) this.defRefs.set(name, (refs = this.namesIn(this.defs.get(name))));
      names.push(...refs);
    }
    if (!used.size) return s;
    return { ...s, $defs: Object.fromEntries([...used].sort().map((n) => [n, this.defs.get(n)!])) };
  }

  /**
   * The components a converted schema names. Only schema positions are walked: a value kept as
   * written (an enum, a default) is data, shared wherever a copied $ref put it, and walking it
   * for each tool was the document's size times its tools. Each node walked counts toward
   * MAX_CONVERTED_NODES.
   */
  private namesIn(s: unknown): string[] {
    const names: string[] = [];
    const stack: unknown[] = [s];
    while (stack.length) {
      const x = stack.pop();
      this.count();
      if (Array.isArray(x)) {
        for (const y of x) stack.push(y);
        continue;
      }
      if (!x || typeof x !== 'object') continue;
      for (const [k, v] of Object.entries(x)) {
        if (k === '$ref') {
          if (typeof v === 'string' && v.startsWith('#/$defs/')) names.push(v.slice(8).replace(/~1/g, '/').replace(/~0/g, '~'));
        } else if (SUBSCHEMA.has(k)) stack.push(v);
        else if (SCHEMA_MAP.has(k) && v && typeof v === 'object') for (const y of Object.values(v)) stack.push(y);
      }
    }
    return names;
  }

  /** Whether a value valid against `s` is always a JSON object (so it can be structuredContent as is). */
  isObject(s: Schema): boolean {
    // Each component is decided once: alternatives that name the same component at every level
    // (D0: oneOf [D1, D1], D1: oneOf [D2, D2] …) made 2^levels calls, for ever at 40 (3.8 KB);
    // one that names itself (A: allOf [A]) overflowed the stack. Under way counts as not an object.
    this.count();
    if (!s || typeof s !== 'object') return false;
    const r = this.resolve(s);
    if (!r || typeof r !== 'object') return false;
    const known = this.objects.get(r);
    if (known !== undefined) return known;
    this.objects.set(r, false);
    let answer: boolean;
    if (r.type === 'object') answer = true;
    else if (r.type !== undefined) answer = false;
    else {
      const list = (v: unknown) => (Array.isArray(v) ? (v as Schema[]) : []);
      const alts = [...list(r.oneOf), ...list(r.anyOf)];
      answer = list(r.allOf).some((p) => this.isObject(p)) || (alts.length > 0 && alts.every((p) => this.isObject(p)));
    }
    this.objects.set(r, answer);
    return answer;
  }

  resolve(s: Schema): Schema {
    let cur = s;
    for (let i = 0; i < 32 && typeof cur.$ref === 'string' && cur.$ref.startsWith('#/$defs/'); i++) {
      cur = this.defs.get(cur.$ref.slice(8).replace(/~1/g, '/').replace(/~0/g, '~')) ?? {};
    }
    return cur;
  }
}

/** An own data property whatever the key: a document's "__proto__" is a property name, not the object's prototype. */
function put(o: Schema, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}
