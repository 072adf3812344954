/**
 * Key patterns and search ranking. Patterns come from clients: `*` matches any run of
 * characters, `?` exactly one, `\` makes the next character literal; everything else is
 * literal. A pattern is compiled once to RE2 (re2js), whose matching is linear in the key:
 * a backtracking wildcard matcher costs pattern × key per key, and `list` runs it over
 * every key (10,000 keys of 255 characters and a 120-star pattern took a second).
 */
import { RE2JS } from 're2js';
import type { TextFinder } from '../../util/find-text.js';

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
 * substring 2) outranks a value-only match (1); a value match adds 1 to a key match. The query
 * is found with a TextFinder: values total up to max_total_bytes, and the native search costs
 * query × value for a query longer than 250 characters (15 s over a 64 MiB store).
 */
export function searchScore(q: TextFinder, key: string, value: string): number {
  const k = key.toLowerCase();
  const keyScore = k === q.needle ? 4 : k.startsWith(q.needle) ? 3 : q.includes(k) ? 2 : 0;
  const valueScore = q.includes(value.toLowerCase()) ? 1 : 0;
  return keyScore + valueScore;
}
