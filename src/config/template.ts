/**
 * The small template language of REST and command tools: literal text with `{name}`
 * placeholders, `{{` and `}}` for literal braces. Request templates name tool arguments;
 * response templates name JSON pointers into the answer (`{/data/name}`). Nothing is
 * evaluated: a placeholder is a lookup, never code.
 */

export type TemplatePart = { lit: string } | { ref: string };

export class TemplateError extends Error {}

/** Parses a template; throws TemplateError saying what is wrong and where. */
export function parseTemplate(t: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let lit = '';
  for (let i = 0; i < t.length; i++) {
    const c = t[i];
    if (c === '{' && t[i + 1] === '{') {
      lit += '{';
      i++;
      continue;
    }
    if (c === '}' && t[i + 1] === '}') {
      lit += '}';
      i++;
      continue;
    }
    if (c === '}') throw new TemplateError(`unmatched "}" at position ${i + 1} of ${JSON.stringify(t)} (write "}}" for a literal brace)`);
    if (c !== '{') {
      lit += c;
      continue;
    }
    const end = t.indexOf('}', i + 1);
    if (end < 0) throw new TemplateError(`unclosed "{" at position ${i + 1} of ${JSON.stringify(t)} (write "{{" for a literal brace)`);
    const ref = t.slice(i + 1, end).trim();
    if (!ref) throw new TemplateError(`empty placeholder "{}" at position ${i + 1} of ${JSON.stringify(t)}`);
    if (ref.includes('{')) throw new TemplateError(`nested "{" in the placeholder at position ${i + 1} of ${JSON.stringify(t)}`);
    if (lit) parts.push({ lit });
    lit = '';
    parts.push({ ref });
    i = end;
  }
  if (lit) parts.push({ lit });
  return parts;
}

/** The names a template refers to. */
export function templateRefs(t: string): string[] {
  return parseTemplate(t).flatMap((p) => ('ref' in p ? [p.ref] : []));
}

/** A template that is one placeholder and nothing else: its value keeps its JSON type. */
export function wholeRef(t: string): string | undefined {
  const parts = parseTemplate(t);
  return parts.length === 1 && 'ref' in parts[0] ? parts[0].ref : undefined;
}

export function stringify(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/**
 * Renders with `lookup`; undefined when a placeholder has no value, so the caller can
 * leave out the query parameter, header or argv element that needed it.
 */
export function render(parts: readonly TemplatePart[], lookup: (ref: string) => unknown, encode: (s: string) => string = (s) => s): string | undefined {
  let out = '';
  for (const p of parts) {
    if ('lit' in p) {
      out += p.lit;
      continue;
    }
    const v = lookup(p.ref);
    if (v === undefined) return undefined;
    out += encode(stringify(v));
  }
  return out;
}

/** RFC 6901 JSON pointer lookup; undefined when the path does not exist. */
export function pointerGet(doc: unknown, pointer: string): unknown {
  if (pointer === '') return doc;
  if (!pointer.startsWith('/')) return undefined;
  let cur: unknown = doc;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur) && /^(0|[1-9]\d*)$/.test(key)) cur = cur[Number(key)];
    else if (cur && typeof cur === 'object' && Object.hasOwn(cur, key)) cur = (cur as Record<string, unknown>)[key];
    else return undefined;
  }
  return cur;
}

export function isPointer(s: string): boolean {
  return s === '' || (s.startsWith('/') && !/~[^01]|~$/.test(s));
}
