/**
 * What a client declares about itself (capabilities and clientInfo, at initialize or in a
 * 2026-07-28 request envelope) and how much of it the gateway keeps: a session holds its
 * declaration for its life, a pooled backend session and a call waiting for input hold
 * theirs too. Without a bound, a 4 MiB body of `[{},{},...]` became ~100 MB of heap per
 * session, and a few dozen unauthenticated initializes ended the process (out of memory).
 */

/**
 * Largest declaration, in characters of JSON: capabilities and clientInfo together, and one
 * capability set as a pooled session's key (upstream/session-pool.ts). Real ones are a few hundred.
 */
export const MAX_CLIENT_DECLARATION_CHARS = 64 * 1024;
/** Deepest nesting of a declaration: real ones are three or four levels; deeper ones overflow recursive writers. */
export const MAX_CLIENT_DECLARATION_DEPTH = 64;

/**
 * The length of `v` as JSON text (JSON.stringify's) when it is at most `maxChars` and nests at
 * most `maxDepth` levels; undefined otherwise. Iterative and stopping at the limit: its work is
 * bounded by what it accepts, never by what the client sent, and deep input cannot overflow
 * the stack (JSON.stringify of it throws RangeError).
 */
export function jsonLengthWithin(v: unknown, maxChars: number, maxDepth = MAX_CLIENT_DECLARATION_DEPTH): number | undefined {
  let length = 0;
  // Values still to measure, with their depth. Each costs at least one character, so the stack stays within maxChars.
  const todo: Array<{ v: unknown; depth: number }> = [{ v, depth: 0 }];
  for (let next = todo.pop(); next !== undefined; next = todo.pop()) {
    const x = next.v;
    if (Array.isArray(x)) {
      if (next.depth >= maxDepth) return undefined;
      // Brackets and separators; then each element.
      length += 2 + Math.max(0, x.length - 1);
      if (length + x.length > maxChars) return undefined;
      for (let i = 0; i < x.length; i++) todo.push({ v: x[i], depth: next.depth + 1 });
    } else if (typeof x === 'object' && x !== null) {
      if (next.depth >= maxDepth) return undefined;
      const keys = Object.keys(x);
      // Braces, separators and colons; then each key (quoted) and each value.
      length += 2 + Math.max(0, keys.length - 1) + keys.length;
      if (length + 3 * keys.length > maxChars) return undefined;
      for (const k of keys) {
        length += quoted(k, maxChars - length);
        if (length > maxChars) return undefined;
        todo.push({ v: (x as Record<string, unknown>)[k], depth: next.depth + 1 });
      }
    } else if (typeof x === 'string') {
      length += quoted(x, maxChars - length);
    } else {
      // Numbers, booleans, null (JSON.parse makes nothing else).
      length += String(JSON.stringify(x) ?? 'null').length;
    }
    if (length > maxChars) return undefined;
  }
  return length;
}

/** Characters of `s` as a JSON string, or more than `room` without escaping a string that cannot fit. */
function quoted(s: string, room: number): number {
  return s.length + 2 > room ? s.length + 2 : JSON.stringify(s).length;
}

/**
 * Which part of a declaration is past the bounds: `capabilities` when they alone are,
 * `clientInfo` when it takes the two together past them; undefined when both fit.
 */
export function oversizedDeclaration(capabilities: unknown, clientInfo: unknown): 'capabilities' | 'clientInfo' | undefined {
  const caps = jsonLengthWithin(capabilities, MAX_CLIENT_DECLARATION_CHARS);
  if (caps === undefined) return 'capabilities';
  return jsonLengthWithin(clientInfo, MAX_CLIENT_DECLARATION_CHARS - caps) === undefined ? 'clientInfo' : undefined;
}

/** The refusal's wording, the same at initialize and in an envelope. */
export function declarationTooLarge(what: string): string {
  return `${what} is too large: capabilities and clientInfo together may be at most ${MAX_CLIENT_DECLARATION_CHARS} characters of JSON, nested at most ${MAX_CLIENT_DECLARATION_DEPTH} levels`;
}
