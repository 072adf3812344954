/**
 * Several JSON texts in one body. The Streamable HTTP transport says an
 * `application/json` answer is one JSON-RPC message (or, in 2025-03-26, one batch); some
 * backends write several newline-separated messages instead (a notification, then the
 * response), as they would on stdio. Being liberal in what the gateway accepts (RFC
 * 1122 §1.2.2), it splits such a body into its top-level objects and arrays.
 *
 * One pass over the text, then one JSON.parse per value: linear in the body's length
 * whatever its content (no backtracking, no rescans).
 */

/** The most a backend message may weigh, in bytes: on stdio (one line) and HTTP (one body). */
export const MAX_BACKEND_MESSAGE_BYTES = 64 * 1024 * 1024;

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * The top-level JSON values of `text`, parsed: one for a plain JSON body, several for
 * newline-delimited (or simply concatenated) objects and arrays. Throws the SyntaxError
 * of the first value that is not JSON, or when something other than an object or an
 * array stands at the top level.
 */
export function parseJsonValues(text: string): unknown[] {
  try {
    return [JSON.parse(text)];
  } catch (err) {
    const parts = splitValues(text);
    if (!parts || parts.length < 2) throw err;
    return parts.map((p) => JSON.parse(p) as unknown);
  }
}

/** Slices of `text` that each hold one top-level object or array; undefined when it is not such a sequence. */
function splitValues(text: string): string[] | undefined {
  const out: string[] = [];
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (escaped) escaped = false;
      else if (c === 0x5c) escaped = true;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (depth === 0) {
      if (WS.has(c)) continue;
      if (c !== 0x7b && c !== 0x5b) return undefined; // only objects and arrays stand alone here
      start = i;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0) out.push(text.slice(start, i + 1));
      else if (depth < 0) return undefined;
    }
  }
  return depth === 0 && !inString ? out : undefined;
}
