/**
 * Key patterns and search ranking. Patterns come from clients, so they are never turned into
 * a RegExp: a user regex could be invalid or backtrack catastrophically. `*` matches any run
 * of characters, `?` exactly one, `\` makes the next character literal; everything else is literal.
 */

type Token = { star: true } | { star: false; any: boolean; ch: string };

export function compileGlob(pattern: string): (text: string) => boolean {
  const tokens: Token[] = [];
  const chars = Array.from(pattern); // code points, so `?` matches one character, not half a surrogate pair
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (c === '*') {
      if (!tokens.at(-1)?.star) tokens.push({ star: true });
    } else if (c === '?') tokens.push({ star: false, any: true, ch: '' });
    else if (c === '\\' && i + 1 < chars.length) tokens.push({ star: false, any: false, ch: chars[++i] });
    else tokens.push({ star: false, any: false, ch: c });
  }
  return (text) => matchTokens(tokens, Array.from(text));
}

/** Iterative wildcard match, backtracking only to the last star: O(pattern × text) worst case. */
function matchTokens(p: Token[], t: string[]): boolean {
  let pi = 0;
  let ti = 0;
  let star = -1;
  let mark = 0;
  while (ti < t.length) {
    const tok = p[pi];
    if (tok && !tok.star && (tok.any || tok.ch === t[ti])) {
      pi++;
      ti++;
    } else if (tok?.star) {
      star = pi++;
      mark = ti;
    } else if (star !== -1) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (p[pi]?.star) pi++;
  return pi === p.length;
}

/**
 * Scores one entry for a lower-cased query; 0 means no match. Any key match (exact 4, prefix 3,
 * substring 2) outranks a value-only match (1); a value match adds 1 to a key match.
 */
export function searchScore(q: string, key: string, value: string): number {
  const k = key.toLowerCase();
  const keyScore = k === q ? 4 : k.startsWith(q) ? 3 : k.includes(q) ? 2 : 0;
  const valueScore = value.toLowerCase().includes(q) ? 1 : 0;
  return keyScore + valueScore;
}
