/**
 * What search_files looks for in a line: literal text, or a regular expression in RE2 syntax
 * (https://github.com/google/re2/wiki/Syntax) run by re2js. A JavaScript RegExp backtracks:
 * `^(a|a)*$` over forty "a"s and a "!" takes 2^40 steps, on the gateway's event loop. RE2
 * takes time linear in the text, times the size of the compiled pattern, so both are bounded.
 * RE2 has no backreferences and no lookaround; such a pattern is refused with a clear error.
 */
import { RE2JS } from 're2js';
import { SandboxError } from './fs-errors.js';
import { TextFinder } from '../../util/find-text.js';

export const MAX_REGEX_CHARS = 500;
/**
 * RE2's "program size" (instructions). A line's scan costs up to this times its length:
 * `.{990}!` compiles to about 1000 instructions and takes tens of milliseconds on a
 * 2000-character line, which is as long as other requests should wait. Everyday patterns
 * stay far below it (`\w{1,100}` is about 200); large repeat counts are what cost.
 */
export const MAX_REGEX_PROGRAM = 1000;

export interface PatternOptions {
  pattern: string;
  /** Treat `pattern` as a regular expression (RE2 syntax); otherwise it is literal text. */
  regex?: boolean;
  ignoreCase?: boolean;
}

/** Start offsets (UTF-16 code units, like String.prototype.indexOf) of the matches in a line. */
export type LineMatcher = (line: string) => Iterable<number>;

export function compilePattern(opts: PatternOptions): LineMatcher {
  const { pattern } = opts;
  if (typeof pattern !== 'string' || pattern === '') throw new SandboxError('INVALID_ARGUMENT', 'pattern must be a non-empty string');
  if (!opts.regex && !opts.ignoreCase) {
    const finder = new TextFinder(pattern);
    return (line) => literal(line, finder);
  }
  if (opts.regex && pattern.length > MAX_REGEX_CHARS) {
    throw new SandboxError('INVALID_ARGUMENT', `regular expression is ${pattern.length} characters; the limit is ${MAX_REGEX_CHARS}`);
  }
  // Case-insensitive text is compiled too, one instruction or more per character.
  if (!opts.regex && pattern.length > MAX_REGEX_PROGRAM) {
    throw new SandboxError('INVALID_ARGUMENT', `case-insensitive text is ${pattern.length} characters; the limit is ${MAX_REGEX_PROGRAM}`);
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(opts.regex ? pattern : RE2JS.quote(pattern), opts.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
  } catch (err) {
    throw new SandboxError('INVALID_ARGUMENT', `invalid regular expression: ${(err as Error).message} (patterns use RE2 syntax, which has no backreferences and no lookaround)`);
  }
  if (re.programSize() > MAX_REGEX_PROGRAM) {
    const what = opts.regex ? 'regular expression' : 'case-insensitive text';
    throw new SandboxError(
      'INVALID_ARGUMENT',
      `${what} is too complex: its RE2 program has ${re.programSize()} instructions; the limit is ${MAX_REGEX_PROGRAM} (large repeat counts like {1000} cost the most)`,
    );
  }
  return (line) => starts(re, line);
}

/** Non-overlapping occurrences, as a global RegExp would find them; linear in the line for any text. */
function* literal(line: string, text: TextFinder): Generator<number> {
  for (let i = text.indexOf(line); i !== -1; i = text.indexOf(line, i + text.needle.length)) yield i;
}

/**
 * test() runs RE2's DFA, several times faster than finding where matches start, and most
 * lines have none; matcher() finds positions without building match arrays.
 */
function* starts(re: RE2JS, line: string): Generator<number> {
  if (!re.test(line)) return;
  const m = re.matcher(line);
  while (m.find()) yield m.start();
}
