/**
 * Validation of every client-supplied value before it reaches git's argument vector.
 * The rule that matters most: a value git could read as an option (leading `-`) is
 * refused wherever it appears, even after `--` or `--end-of-options`, so a mistake in
 * argument placement cannot turn `--upload-pack=…` or `-c core.sshCommand=…` into code.
 */
import { isAbsolute, relative, resolve } from 'node:path';
import { GitError } from './git-errors.js';

function reject(argument: string, value: string, why: string): never {
  const shown = value.length > 80 ? `${value.slice(0, 80)}…` : value;
  throw new GitError('ARG_REJECTED', `argument "${argument}" rejected: ${JSON.stringify(shown)} ${why}`, { argument });
}

// C0 controls and DEL: never meaningful in a ref, rev or path a client would send.
const CONTROL = /[\u0000-\u001f\u007f]/;

function basic(argument: string, value: unknown, max: number): string {
  if (typeof value !== 'string') throw new GitError('ARG_REJECTED', `argument "${argument}" must be a string`, { argument });
  if (value.length === 0) reject(argument, value, 'is empty');
  if (value.length > max) reject(argument, value, `is longer than ${max} characters`);
  if (value.startsWith('-')) reject(argument, value, 'could be read as an option (leading "-")');
  if (CONTROL.test(value)) reject(argument, value, 'contains control characters');
  return value;
}

/**
 * Branch names, by the rules of git-check-ref-format(1) with `--branch`, plus two of
 * ours: no leading `+` (a push refspec `+name` means force) and not `HEAD`.
 */
export function validateBranch(argument: string, value: unknown): string {
  const v = basic(argument, value, 255);
  if (v.startsWith('+')) reject(argument, v, 'starts with "+" (a forced refspec)');
  if (v === 'HEAD' || v === '@') reject(argument, v, 'is not a valid branch name');
  if (/[\s~^:?*[\\]/.test(v)) reject(argument, v, 'contains a character not allowed in a ref name (space ~ ^ : ? * [ \\)');
  if (v.includes('..')) reject(argument, v, 'contains ".."');
  if (v.includes('@{')) reject(argument, v, 'contains "@{"');
  if (v.startsWith('/') || v.endsWith('/') || v.includes('//')) reject(argument, v, 'has an empty path component');
  if (v.endsWith('.')) reject(argument, v, 'ends with "."');
  for (const part of v.split('/')) {
    if (part.startsWith('.')) reject(argument, v, 'has a component starting with "."');
    if (part.endsWith('.lock')) reject(argument, v, 'has a component ending with ".lock"');
  }
  return v;
}

// Revision syntax we accept: ref names, hex shas, `~n`, `^n`, `@{...}`, `rev:path`.
const REV_CHARS = /^[A-Za-z0-9._/~^@{}:+-]+$/;

/** A revision (`HEAD~3`, a sha, `origin/main`); a range `a..b` / `a...b` only if allowed. */
export function validateRev(argument: string, value: unknown, opts: { allowRange?: boolean } = {}): string {
  const v = basic(argument, value, 1024);
  // `rev:path`: the rev part follows revision syntax; the path is one argv element after
  // the leading-dash and control-character checks above, so spaces and any letter are fine.
  const colon = v.indexOf(':');
  const revPart = colon > 0 && !v.startsWith(':/') ? v.slice(0, colon) : v;
  if (revPart.length > 256) reject(argument, v, 'has a revision longer than 256 characters');
  if (!REV_CHARS.test(revPart)) reject(argument, v, 'contains characters not allowed in a revision');
  // `:/text` and `rev^{/text}` search commit messages with a POSIX regular expression, which
  // git compiles with the C library: glibc expands bounded repeats, so `:/a{255}{255}{255}`
  // makes git allocate gigabytes (10 GB in 60 s for four) before the timeout stops it.
  if (revPart.startsWith(':/') || revPart.includes('^{/')) {
    reject(argument, v, 'searches commit messages with a regular expression (:/text, rev^{/text}), which this plugin does not accept; name the commit by sha, branch or HEAD~n');
  }
  if (v.includes('..')) {
    if (!opts.allowRange) reject(argument, v, 'is a range, which this operation does not take');
    const sides = v.split(/\.{2,3}/);
    if (sides.length !== 2 || /\.{4,}/.test(v)) reject(argument, v, 'is not a range of the form a..b or a...b');
    for (const side of sides) validateRev(argument, side);
  }
  return v;
}

/**
 * The path of a revision written `<rev>:<path>`, `:<path>` or `:<n>:<path>` (the index),
 * split as git splits it (object-name.c, get_oid_with_context_1): the first colon outside
 * `{...}`. Undefined when the revision names no path that way, or has a colon in `{...}`
 * before one (ambiguous: refused rather than guessed). A name with such a colon
 * is never a ref, a sha or a `@{...}` (ref names hold no colon), so git reads it this way too.
 */
export function revPath(rev: string): string | undefined {
  if (rev.startsWith(':')) return /^:[0-3]:/.test(rev) ? rev.slice(3) : rev.slice(1);
  let depth = 0;
  for (let i = 0; i < rev.length; i++) {
    if (rev[i] === '{') depth++;
    else if (depth > 0 && rev[i] === '}') depth--;
    else if (rev[i] === ':') return depth === 0 ? rev.slice(i + 1) : undefined; // a colon in `{...}`: older gits split there
  }
  return undefined;
}

/** A remote name as configured (`origin`): no URLs, so no `ext::` or ad-hoc hosts. */
export function validateRemote(argument: string, value: unknown): string {
  const v = basic(argument, value, 100);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v) || v.includes('..')) {
    reject(argument, v, 'is not a remote name (letters, digits, . _ -)');
  }
  return v;
}

/**
 * A path inside the work tree. It always follows `--` and pathspec magic is off
 * (GIT_LITERAL_PATHSPECS), but a leading `-` is refused anyway (use `./-name`), and the
 * path must stay inside `toplevel` lexically; git resolves symlinks itself as links.
 */
export function validatePath(argument: string, value: unknown, toplevel: string): string {
  const v = basic(argument, value, 4096);
  const rel = relative(toplevel, resolve(toplevel, v));
  if (rel === '..' || rel.startsWith('../') || isAbsolute(rel)) reject(argument, v, 'is outside the repository');
  return v;
}

export function validatePaths(argument: string, value: unknown, toplevel: string): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new GitError('ARG_REJECTED', `argument "${argument}" must be a non-empty list of paths`, { argument });
  }
  if (value.length > 1000) throw new GitError('ARG_REJECTED', `argument "${argument}" lists more than 1000 paths`, { argument });
  return value.map((p: unknown) => validatePath(argument, p, toplevel));
}

/** A commit message: sent on stdin (`-F -`), so only emptiness, size and NUL matter. */
export function validateMessage(argument: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new GitError('ARG_REJECTED', `argument "${argument}" must be a non-empty string`, { argument });
  }
  if (value.includes('\u0000')) reject(argument, value, 'contains a NUL byte');
  if (Buffer.byteLength(value) > 64 * 1024) reject(argument, value, 'is larger than 64 KiB');
  return value;
}

export function validateLimit(argument: string, value: unknown, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new GitError('ARG_REJECTED', `argument "${argument}" must be an integer from 1 to ${max}`, { argument });
  }
  return value;
}
