/**
 * The editor's deny list, gitignore-like: a pattern starting with "/" is anchored at the root;
 * any other pattern matches at any depth (".env" also denies "app/.env", ".git/**" also a
 * nested repository's internals). A path is denied when the pattern matches it or any of the
 * directories it goes through, so "secrets" also denies "secrets/a.txt". Case-insensitive on
 * purpose: on a case-insensitive filesystem ".ENV" is ".env".
 *
 * Each pattern becomes one RE2 expression over the whole path, `(?:[^/]+/)*` for "any depth"
 * and `(?:/.*)?` for "or anything under it", so a check is linear in the path. (Trying the glob
 * on every run of segments instead took time cubic in the number of segments: a client's path
 * of 2000 segments held the event loop for minutes.)
 */
import type { RE2JS } from 're2js';
import { compileRe2, globSource } from '../../util/glob.js';

export class DenyList {
  /** undefined for an empty pattern ("" or "/"), which denies nothing. */
  private readonly rules: readonly (RE2JS | undefined)[];

  /** Throws an Error naming the pattern that cannot be compiled. */
  constructor(readonly patterns: readonly string[]) {
    this.rules = patterns.map((p) => {
      const body = trimSlashes(p);
      if (body === '') return undefined;
      let source: string;
      try {
        source = globSource(body);
      } catch (err) {
        throw new Error(`${JSON.stringify(p)}: ${(err as Error).message}`);
      }
      const anyDepth = p.startsWith('/') ? '' : '(?:[^/]+/)*';
      return compileRe2(`${anyDepth}(?:${source})(?:/.*)?`, p, { ignoreCase: true });
    });
  }

  /** `rel` is root-relative with "/" separators; "" (the root itself) is never denied. */
  matches(rel: string): string | undefined {
    if (rel === '') return undefined;
    for (const [k, rule] of this.rules.entries()) if (rule?.testExact(rel)) return this.patterns[k];
    return undefined;
  }
}

/** Without leading and trailing "/" (a loop: /\/+$/ backtracks on a long run of slashes). */
function trimSlashes(p: string): string {
  let start = 0;
  let end = p.length;
  while (start < end && p[start] === '/') start++;
  while (end > start && p[end - 1] === '/') end--;
  return p.slice(start, end);
}
