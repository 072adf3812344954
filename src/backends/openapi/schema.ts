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
  constructor(private readonly doc: Record<string, unknown>) {
    this.v30 = String(doc.openapi).startsWith('3.0');
  }

  /** Converts one schema; the components it uses are collected in `defs` (see `withDefs`). */
  convert(s: unknown, depth = 0): Schema {
    if (++this.converted > MAX_CONVERTED_NODES)
      throw new SpecLoadError(`the document's schemas expand to more than ${MAX_CONVERTED_NODES} nodes ($refs outside #/components/schemas are copied where they are used)`);
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
    const visit = (v: unknown) => {
      if (Array.isArray(v)) return v.forEach(visit);
      if (!v || typeof v !== 'object') return;
      for (const [k, x] of Object.entries(v)) {
        if (k === '$ref' && typeof x === 'string' && x.startsWith('#/$defs/')) {
          const name = x.slice(8).replace(/~1/g, '/').replace(/~0/g, '~');
          if (!used.has(name)) {
            used.add(name);
            visit(this.defs.get(name));
          }
        } else visit(x);
      }
    };
    visit(s);
    if (!used.size) return s;
    return { ...s, $defs: Object.fromEntries([...used].sort().map((n) => [n, this.defs.get(n)!])) };
  }

  /** Whether a value valid against `s` is always a JSON object (so it can be structuredContent as is). */
  isObject(s: Schema): boolean {
    const r = this.resolve(s);
    if (r.type === 'object') return true;
    if (r.type !== undefined) return false;
    const parts = (r.allOf as Schema[] | undefined) ?? [];
    if (parts.some((p) => this.isObject(p))) return true;
    const alts = [...((r.oneOf as Schema[] | undefined) ?? []), ...((r.anyOf as Schema[] | undefined) ?? [])];
    return alts.length > 0 && alts.every((p) => this.isObject(p));
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
