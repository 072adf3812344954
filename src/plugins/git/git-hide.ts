/**
 * What the deny list (by default the editor's: `.env`, keys, `.ssh/`...) hides from git.
 * git_add never stages such a file (git-write.ts); git_diff and git_show leave out the
 * ones a repository already tracks (git-read.ts): they list the paths a diff touches, and
 * git is then handed the others as literal pathspecs (GIT_LITERAL_PATHSPECS, git-run.ts).
 */
import type { RepoContext } from './git-context.js';
import { GitError } from './git-errors.js';

/** Path listings are read by the plugin, not answered: a cap of their own. */
export const LIST_BYTES = 16 * 1024 * 1024;

/**
 * Pathspecs handed to one git. Their bytes and pointers count against the kernel's ARG_MAX
 * (2 MiB with the environment on Linux); and git matches each path against each literal
 * pathspec in turn: 20,000 of them took 3.3 s of a diff that takes 0.6 s without.
 */
const PATHSPEC_BYTES = 1024 * 1024;
const PATHSPEC_COUNT = 10_000;

/** PATH_DENIED when the deny list hides a path the client named. */
export function refuseDenied(ctx: RepoContext, argument: string, path: string, what: string): void {
  const pattern = ctx.denied?.(path);
  if (pattern !== undefined) {
    throw new GitError('PATH_DENIED', `argument "${argument}" rejected: ${JSON.stringify(path)} is hidden by the deny list (${pattern}) and is ${what}`, { argument });
  }
}

/**
 * The listed paths the deny list does not hide. Matching takes a few microseconds a path
 * (200,000 untracked files, a `node_modules` a client un-ignored: ~3 s), so other requests
 * get their turn every 10 ms, as the editor's search gives it.
 */
export async function visible(ctx: RepoContext, listed: ReadonlySet<string>): Promise<string[]> {
  const out: string[] = [];
  let slice = performance.now() + 10;
  for (const p of listed) {
    if (p !== '' && ctx.denied?.(p) === undefined) out.push(p);
    if (performance.now() >= slice) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      slice = performance.now() + 10;
    }
  }
  return out;
}

export interface Shown {
  /** Paths a client may see, to pass to git as literal pathspecs. */
  paths: string[];
  /** Listed paths left out. */
  hidden: number;
}

/**
 * Splits git's NUL-separated listing of the paths a diff touches. A literal pathspec also
 * names everything under it, so a shown path that is a directory above a hidden one on the
 * other side of the diff (`keys` a file in one commit, `keys/deploy.pem` in the other) is
 * left out too.
 */
export async function shown(ctx: RepoContext, listing: string): Promise<Shown> {
  const listed = new Set(listing.split('\0'));
  listed.delete('');
  const allowed = await visible(ctx, listed);
  if (allowed.length === listed.size) return { paths: allowed, hidden: 0 };
  const kept = new Set(allowed);
  const above = new Set<string>();
  for (const p of listed) {
    if (kept.has(p)) continue;
    for (let i = p.indexOf('/'); i !== -1; i = p.indexOf('/', i + 1)) above.add(p.slice(0, i));
  }
  const paths = allowed.filter((p) => !above.has(p));
  return { paths, hidden: listed.size - paths.length };
}

/** `paths` as pathspecs for one git argument vector, or a refusal saying how to narrow the request. */
export function pathspecs(paths: readonly string[], narrow: string): string[] {
  let bytes = 0;
  for (const p of paths) bytes += Buffer.byteLength(p) + 9; // the string, its NUL, its pointer
  if (paths.length > PATHSPEC_COUNT || bytes > PATHSPEC_BYTES) {
    throw new GitError(
      'OUTPUT_LIMIT',
      `the change touches ${paths.length} files, more than the git plugin passes to git one by one (${PATHSPEC_COUNT} files, ${PATHSPEC_BYTES} bytes of names) to leave out the ones the deny list hides; ${narrow}`,
    );
  }
  return [...paths];
}

/** A line telling the client that files were left out, or ''. */
export function hiddenNote(hidden: number): string {
  if (hidden === 0) return '';
  return `(${hidden} file${hidden === 1 ? '' : 's'} hidden by the deny list left out)`;
}
