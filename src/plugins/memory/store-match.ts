/**
 * Key patterns and search ranking. Patterns come from clients: `*` matches any run of
 * characters, `?` exactly one, `\` makes the next character literal; everything else is
 * literal. A pattern is compiled once to RE2 (re2js), whose matching is linear in the key:
 * a backtracking wildcard matcher costs pattern × key per key, and `list` runs it over
 * every key (10,000 keys of 255 characters and a 120-star pattern took a second).
 */
import { RE2JS } from 're2js';

export function compileGlob(pattern: string): (text: string) => boolean {
  let re = '';
  const chars = Array.from(pattern); // code points, so `?` matches one character, not half a surrogate pair
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (c === '*') {
      if (!re.endsWith('.*')) re += '.*';
    } else if (c === '?') re += '.';
    else if (c === '\\' && i + 1 < chars.length) re += RE2JS.quote(chars[++i]);
    else re += RE2JS.quote(c);
  }
  const compiled = RE2JS.compile(`^${re}$`, RE2JS.DOTALL);
  return (text) => compiled.test(text);
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
