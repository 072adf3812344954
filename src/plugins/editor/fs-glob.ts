/**
 * A small glob matcher for deny lists and search file filters (no dependency: Node 20's
 * path.matchesGlob is still experimental). Paths are root-relative and "/"-separated.
 *   `*`  any run of characters within one segment   `?` one character within a segment
 *   `**` as a whole segment: zero or more segments  `[abc]`, `[!a-z]` character classes
 *   `{a,b}` alternatives
 */
export interface GlobOptions {
  ignoreCase?: boolean;
}

export function globToRegExp(pattern: string, opts: GlobOptions = {}): RegExp {
  let out = '';
  let i = 0;
  let braces = 0;
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === '*') {
      const atSegmentStart = i === 0 || pattern[i - 1] === '/';
      if (pattern[i + 1] === '*' && atSegmentStart && (i + 2 === pattern.length || pattern[i + 2] === '/')) {
        // "**/" may match nothing, so "a/**/b" also matches "a/b"; a trailing "**" also matches the directory itself.
        if (i + 2 === pattern.length) {
          out = out.endsWith('/') ? `${out.slice(0, -1)}(?:/.*)?` : `${out}.*`;
          i += 2;
        } else {
          out += '(?:.*/)?';
          i += 3;
        }
        continue;
      }
      out += '[^/]*';
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1) {
        out += '\\[';
      } else {
        let body = pattern.slice(i + 1, end);
        const negate = body.startsWith('!') || body.startsWith('^');
        if (negate) body = body.slice(1);
        body = body.replace(/[\\\]^]/g, (m) => `\\${m}`);
        out += negate ? `[^/${body}]` : `[${body}]`;
        i = end;
      }
    } else if (c === '{') {
      braces++;
      out += '(?:';
    } else if (c === '}' && braces > 0) {
      braces--;
      out += ')';
    } else if (c === ',' && braces > 0) {
      out += '|';
    } else {
      out += c.replace(/[.+^${}()|[\]\\]/g, (m) => `\\${m}`);
    }
    i++;
  }
  if (braces > 0) throw new Error(`unbalanced "{" in glob ${JSON.stringify(pattern)}`);
  return new RegExp(`^${out}$`, opts.ignoreCase ? 'i' : '');
}

/**
 * Deny-list semantics, gitignore-like: a pattern starting with "/" is anchored at the root;
 * any other pattern matches at any depth (".env" also denies "app/.env", ".git/**" also a
 * nested repository's internals). A path is denied when the pattern matches it or any of
 * the directories it goes through, so "secrets" also denies "secrets/a.txt".
 */
export class DenyList {
  private readonly rules: { re: RegExp; anchored: boolean }[];
  constructor(readonly patterns: readonly string[]) {
    // Case-insensitive on purpose: on a case-insensitive filesystem ".ENV" is ".env".
    this.rules = patterns.map((p) => {
      const anchored = p.startsWith('/');
      const body = p.replace(/^\/+/, '').replace(/\/+$/, '');
      return { re: globToRegExp(body, { ignoreCase: true }), anchored };
    });
  }

  /** `rel` is root-relative with "/" separators; "" (the root itself) is never denied. */
  matches(rel: string): string | undefined {
    if (rel === '') return undefined;
    const segs = rel.split('/');
    for (const [k, rule] of this.rules.entries()) {
      const starts = rule.anchored ? 1 : segs.length;
      for (let i = 0; i < starts; i++) {
        for (let j = i + 1; j <= segs.length; j++) {
          if (rule.re.test(segs.slice(i, j).join('/'))) return this.patterns[k];
        }
      }
    }
    return undefined;
  }
}
