/**
 * Globs matched in linear time: the editor plugin's deny lists and search filters, and the
 * authorization rules' backend, tool, prompt and resource patterns. picomatch parses the
 * glob; its output is a JavaScript regular expression, and a backtracking engine takes time
 * polynomial in the name with one degree per star (`*a*a*a*a*b`, `**\/**\/**\/x`), so that
 * source runs on RE2 (re2js) instead, whose time is linear in the text. Paths are "/"-separated;
 * picomatch's guards against "." and ".." segments are dropped (see ALWAYS_TRUE): callers
 * matching text that may hold such segments decide about them themselves.
 *   `*`  any run of characters within one segment   `?` one character within a segment
 *   `**` as a whole segment: zero or more segments  `[abc]`, `[!a-z]`, `[[:alpha:]]` classes
 *   `{a,b}` alternatives, `{1..9}` a one-character range   `\` makes the next character literal
 * Wildcards match dot files too; `(`, `)`, `|`, `+` and a leading `!` are literal (no regex
 * groups, extglobs or negation); a leading `./` is dropped.
 */
import picomatch from 'picomatch';
import { RE2JS } from 're2js';

export const MAX_GLOB_CHARS = 1000;
/** RE2's "program size" (instructions); the time to match is at most this times the text. */
export const MAX_GLOB_PROGRAM = 2000;

export interface GlobOptions {
  ignoreCase?: boolean;
}

/** `{a..e}` as a class; picomatch's own fallback writes `[1-10]` for `{1..10}`, which is wrong. */
function expandRange(...args: unknown[]): string {
  const [from, to] = args as string[];
  // picomatch passes (from, to, options), or (from, to, step, options) for `{a..e..2}`.
  if (args.length !== 3 || Array.from(from).length !== 1 || Array.from(to).length !== 1) {
    throw new Error('only one-character brace ranges like {a..z} or {1..9} are supported; list longer alternatives: {10,11,12}');
  }
  const [lo, hi] = from <= to ? [from, to] : [to, from];
  return `[${RE2JS.quote(lo)}-${RE2JS.quote(hi)}]`;
}

const PARSE_OPTIONS = {
  dot: true,
  noextglob: true,
  nonegate: true,
  posix: true,
  literalBrackets: false,
  fastpaths: false,
  windows: false,
  maxLength: 2 * MAX_GLOB_CHARS, // after asGlob()
  expandRange,
};

/**
 * picomatch's guards against "." and ".." segments and against an empty match, exactly as it
 * writes them (picomatch/lib/constants.js: NO_DOTS, NO_DOTS_SLASH, NO_DOT_SLASH, ONE_CHAR).
 * They are lookarounds, which RE2 does not have, and they always hold on the paths matched
 * here: normalised, non-empty, with no "", "." or ".." segment. Anything else RE2 cannot run
 * makes compileRe2() refuse the glob.
 */
const ALWAYS_TRUE = ['(?!(?:^|\\/)\\.{1,2}(?:\\/|$))', '(?!\\.{1,2}(?:\\/|$))', '(?!\\.{0,1}(?:\\/|$))', '(?=.)'];

/** The RE2 source of a glob, unanchored; throws an Error naming the problem. */
export function globSource(glob: string): string {
  if (typeof glob !== 'string' || glob === '') throw new Error('a glob must be a non-empty string');
  if (glob.length > MAX_GLOB_CHARS) throw new Error(`glob is ${glob.length} characters; the limit is ${MAX_GLOB_CHARS}`);
  const g = asGlob(glob);
  // A trailing "/**" also matches the directory itself ("src/**" matches "src"); picomatch does
  // that only after a literal ("src/**", not "sr*/**"), so it is done here.
  const under = endsWithGlobstar(g);
  const body = under ? g.slice(0, -3) : g;
  return withoutGuards(picomatch.parse(body, PARSE_OPTIONS as { maxLength: number }).output) + (under ? '(?:/.*)?' : '');
}

/** Ends in an unescaped "/**" after something. */
function endsWithGlobstar(g: string): boolean {
  if (g.length < 4 || !g.endsWith('/**')) return false;
  let backslashes = 0;
  for (let k = g.length - 4; k >= 0 && g[k] === '\\'; k--) backslashes++;
  return backslashes % 2 === 0;
}

/**
 * Rewrites what picomatch would read differently from a glob: "(", ")", "|" and a "+" after a
 * class or group are regex syntax to it, text in a file name ("report (1).pdf", "c++"), so
 * they are escaped; "**" that is not a whole segment is a plain "*", as in gitignore
 * (picomatch lets "**{a,b}" cross directories); an unclosed "{" is an error, not a quiet
 * never-match. Classes are copied as they are.
 */
function asGlob(glob: string): string {
  let out = '';
  let braces = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    const classEnd = c === '[' ? closingBracket(glob, i) : -1;
    if (c === '\\') {
      // "\x" is x. RE2 takes the backslash only before ASCII punctuation ("\d" would be a digit).
      const next = glob[++i] ?? '\\';
      out += /^[!-/:-@[-`{-~]$/.test(next) ? `\\${next}` : next;
    } else if (classEnd !== -1) {
      out += glob.slice(i, classEnd + 1);
      i = classEnd;
    } else if (c === '*') {
      let end = i;
      while (glob[end] === '*') end++;
      const whole = (i === 0 || glob[i - 1] === '/') && (end === glob.length || glob[end] === '/');
      out += whole && end - i === 2 ? '**' : '*';
      i = end - 1;
    } else {
      if (c === '{') braces++;
      else if (c === '}' && braces > 0) braces--;
      out += '()|+'.includes(c) ? `\\${c}` : c;
    }
  }
  if (braces > 0) throw new Error(`unbalanced "{" in glob ${JSON.stringify(glob)}`);
  return out;
}

/** Where the class opened at `i` ends, as picomatch reads it ("]" first in the class is a member); -1 if it does not. */
function closingBracket(glob: string, i: number): number {
  let j = i + 1;
  if (glob[j] === '!' || glob[j] === '^') j++;
  if (glob[j] === ']') j++;
  for (; j < glob.length; j++) {
    if (glob[j] === '\\') j++;
    else if (glob[j] === ']') return j;
  }
  return -1;
}

/** A matcher for whole names or paths. */
export function compileGlob(glob: string, opts: GlobOptions = {}): (text: string) => boolean {
  const re = compileRe2(globSource(glob), glob, opts);
  return (text) => re.testExact(text);
}

/** Compiles RE2 source made from `glob`; DOTALL because file names may hold a newline. */
export function compileRe2(source: string, glob: string, opts: GlobOptions = {}): RE2JS {
  let re: RE2JS;
  try {
    re = RE2JS.compile(source, RE2JS.DOTALL | (opts.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0));
  } catch (err) {
    throw new Error(`glob ${JSON.stringify(glob)} cannot be matched: ${(err as Error).message}`);
  }
  if (re.programSize() > MAX_GLOB_PROGRAM) throw new Error(`glob ${JSON.stringify(glob)} is too complex (RE2 program size ${re.programSize()}, limit ${MAX_GLOB_PROGRAM})`);
  return re;
}

/** Drops the ALWAYS_TRUE guards found outside character classes. */
function withoutGuards(src: string): string {
  let out = '';
  let i = 0;
  let inClass = false;
  while (i < src.length) {
    const c = src[i];
    if (c === '\\') {
      out += src.slice(i, i + 2);
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
    } else if (c === '[') {
      inClass = true;
      // RE2 (like POSIX) reads a "]" right after "[" or "[^" as a member, not the end.
      const start = src[i + 1] === '^' ? i + 2 : i + 1;
      if (src[start] === ']') {
        out += src.slice(i, start + 1);
        i = start + 1;
        continue;
      }
    } else {
      const guard = ALWAYS_TRUE.find((g) => src.startsWith(g, i));
      if (guard) {
        i += guard.length;
        continue;
      }
    }
    out += c;
    i++;
  }
  return out;
}
