/**
 * Canonical JSON, in the manner of the JSON Canonicalization Scheme (RFC 8785): object
 * members sorted by their names compared as UTF-16 code units (§3.2.3, which is what
 * Array.prototype.sort does with strings), strings and numbers serialized as ECMAScript's
 * JSON.stringify does (§3.2.2.2, §3.2.2.3), no whitespace. Two documents that differ only
 * in member order or formatting give the same text, so the same digest.
 *
 * `pretty` gives the same order with two-space indentation: the lock file is meant to be
 * read and diffed, and a stable order keeps its diffs to what changed.
 *
 * Values come from backends (untrusted): nesting is bounded (a deep structure would
 * otherwise exhaust the stack), and member names are read as own properties only, so a
 * member named "__proto__" is a member like any other.
 */

/** Deeper than this is refused: JSON Schemas of real tools nest a few tens of levels at most. */
export const MAX_DEPTH = 128;

export class CanonicalError extends Error {
  override name = 'CanonicalError';
}

export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  write(value, out, 0, undefined);
  return out.join('');
}

export function prettyJson(value: unknown): string {
  const out: string[] = [];
  write(value, out, 0, '\n');
  return out.join('');
}

function write(v: unknown, out: string[], depth: number, nl: string | undefined): void {
  if (depth > MAX_DEPTH) throw new CanonicalError(`nested deeper than ${MAX_DEPTH} levels`);
  if (v === null || typeof v === 'boolean' || typeof v === 'string') {
    out.push(JSON.stringify(v));
    return;
  }
  if (typeof v === 'number') {
    // RFC 8785 §3.2.2.3: NaN and Infinity are not JSON (JSON.parse never makes them).
    if (!Number.isFinite(v)) throw new CanonicalError('a number that is not finite');
    out.push(JSON.stringify(v));
    return;
  }
  const inner = nl === undefined ? undefined : `${nl}  `;
  if (Array.isArray(v)) {
    if (v.length === 0) return void out.push('[]');
    out.push('[');
    v.forEach((x, i) => {
      if (i > 0) out.push(',');
      if (inner) out.push(inner);
      write(x, out, depth + 1, inner);
    });
    if (nl) out.push(nl);
    out.push(']');
    return;
  }
  if (typeof v === 'object') {
    const keys = Object.keys(v as object)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort();
    if (keys.length === 0) return void out.push('{}');
    out.push('{');
    keys.forEach((k, i) => {
      if (i > 0) out.push(',');
      if (inner) out.push(inner);
      out.push(JSON.stringify(k), inner ? ': ' : ':');
      write((v as Record<string, unknown>)[k], out, depth + 1, inner);
    });
    if (nl) out.push(nl);
    out.push('}');
    return;
  }
  // undefined, functions, symbols, bigints: not JSON (JSON.parse never makes them).
  throw new CanonicalError(`a value of type ${typeof v}`);
}
