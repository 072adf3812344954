/**
 * Read-only operations. None of them can change the repository; all output is bounded
 * by the runner's cap, so a huge diff fails with OUTPUT_LIMIT rather than flooding a client.
 */
import { revPath, validateLimit, validatePath, validateRev } from './git-args.js';
import type { RepoContext } from './git-context.js';
import { GitError } from './git-errors.js';
import { LIST_BYTES, pathspecs, refuseDenied, shown } from './git-hide.js';
import { stripCredentials, redactCredentials } from './git-url.js';
import { LOG_FORMAT, parseLog, parseNumstat, parseRemotes, parseStatusV2, type LogEntry, type NumstatEntry, type RemoteEntry, type StatusResult } from './git-parse.js';

// Diff output must not run configured programs (diff.external, diff drivers, textconv),
// and must not start git in a submodule (whose own config is unchecked): `dirty` compares
// the submodule's commit only, read in-process.
const DIFF_FLAGS = ['--no-color', '--no-ext-diff', '--no-textconv', '--ignore-submodules=dirty'];

export async function status(ctx: RepoContext): Promise<StatusResult> {
  const r = await ctx.run(['status', '--porcelain=v2', '--branch', '-z', '--untracked-files=normal', '--ignore-submodules=dirty']);
  return parseStatusV2(r.stdout);
}

export interface DiffOptions {
  staged?: boolean;
  file?: string;
  /** A revision or a range (`a..b`) to diff against. */
  commit?: string;
}

export interface DiffResult {
  diff: string;
  files: NumstatEntry[];
  empty: boolean;
  /** Files the diff touches that the deny list hides, left out of `diff` and `files`. */
  hidden: number;
}

/**
 * git diff without the files the deny list hides (git-hide.ts): their names are listed
 * first (`--no-renames`: both sides of a rename), and when one is hidden the patch is held
 * to the others. A diff reading the work tree or the index is always held to the listed
 * paths: either may change between the listing and the patch (a branch switched meanwhile
 * would bring a changed `.env` into an unlimited diff); two commits never change.
 */
export async function diff(ctx: RepoContext, opts: DiffOptions = {}): Promise<DiffResult> {
  const file = opts.file === undefined ? undefined : validatePath('file', opts.file, ctx.toplevel);
  if (file !== undefined) refuseDenied(ctx, 'file', file, 'never shown');
  const range = opts.commit === undefined ? undefined : await objectNames(ctx, validateRev('commit', opts.commit, { allowRange: true }));
  const args = [...(opts.staged ? ['--cached'] : []), ...(range === undefined ? [] : ['--end-of-options', range])];
  const listing = await ctx.run(['diff', ...DIFF_FLAGS, '--name-only', '--no-renames', '-z', ...args, '--', ...(file === undefined ? [] : [file])], { maxOutputBytes: LIST_BYTES });
  const { paths, hidden } = await shown(ctx, listing.stdout);
  const fixed = range?.includes('..') === true && !opts.staged;
  let spec: string[];
  if (fixed && hidden === 0) spec = file === undefined ? [] : [file];
  else if (paths.length === 0) return { diff: '', files: [], empty: true, hidden };
  else spec = pathspecs(paths, 'name a "file" (a directory) to narrow the diff');
  const { patch, files } = splitPatch(ctx, (await ctx.run(['diff', ...DIFF_FLAGS, '--numstat', '--patch', '-z', ...args, '--', ...spec])).stdout);
  return { diff: patch, files, empty: patch.length === 0, hidden };
}

/**
 * The patch and its files, from one git run (`--numstat --patch -z`), and PATH_DENIED when
 * the deny list hides one of them. The listing and this run are two gits: the work tree
 * and the index may change between them, and a literal pathspec also names everything
 * under it, so `keys`, a file when listed, named `keys/deploy.pem` once another call had
 * switched to a branch where `keys` is a directory (review 26). What one run shows is what
 * it lists: its numstat (NUL-terminated entries, then a NUL), then its patch. Unmerged
 * files of the work tree come first, as combined diffs (`diff --cc <path>`) that the
 * numstat leaves out: their paths are read from those headers (unquoted as git quotes
 * them: core.quotePath), and one that cannot be read refuses the answer too.
 */
function splitPatch(ctx: RepoContext, out: string): { patch: string; files: NumstatEntry[] } {
  const start = /(?:^|\n)(?:\d+|-)\t(?:\d+|-)\t/.exec(out);
  const combined = start === null ? out : out.slice(0, start.index + (start[0].startsWith('\n') ? 1 : 0));
  const rest = out.slice(combined.length);
  const cut = rest.indexOf('\0\0');
  const files = parseNumstat(cut === -1 ? rest : rest.slice(0, cut + 1));
  const named: string[] = [];
  for (const f of files) named.push(f.path, ...(f.origPath === undefined ? [] : [f.origPath]));
  for (const m of combined.matchAll(/^diff --(?:cc|combined) (.*)$/gm)) named.push(m[1]);
  for (const path of named) {
    const name = path.startsWith('"') ? unquoteC(path) : path;
    const pattern = name === undefined ? 'a name it could not read' : ctx.denied?.(name);
    if (pattern !== undefined) {
      throw new GitError(
        'PATH_DENIED',
        `the diff changed while it was read (a branch switched, files staged) and now shows ${JSON.stringify(path)}, hidden by the deny list (${pattern}); try again`,
      );
    }
  }
  return { patch: combined + (cut === -1 ? '' : rest.slice(cut + 2)), files };
}

const C_ESCAPES: Record<string, number> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '"': 34, '\\': 92 };

/** A name git wrote quoted (quote.c quote_c_style: `"`, backslash escapes, octal bytes), or undefined. */
function unquoteC(quoted: string): string | undefined {
  if (quoted.length < 2 || !quoted.endsWith('"')) return undefined;
  const bytes: number[] = [];
  const body = Buffer.from(quoted.slice(1, -1));
  for (let i = 0; i < body.length; i++) {
    if (body[i] !== 92) {
      if (body[i] === 34) return undefined;
      bytes.push(body[i]);
      continue;
    }
    const next = String.fromCharCode(body[++i] ?? 0);
    if (/[0-3]/.test(next) && /^[0-7]{2}$/.test(body.subarray(i + 1, i + 3).toString('latin1'))) {
      bytes.push(Number.parseInt(body.subarray(i, i + 3).toString('latin1'), 8));
      i += 2;
    } else if (Object.hasOwn(C_ESCAPES, next)) bytes.push(C_ESCAPES[next]);
    else return undefined;
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * A revision, or each side of a range, as the object name git resolves it to. git diff
 * given exactly two arguments after its options, one of them a path outside the work tree,
 * compares them as two files, as `git diff --no-index` does (builtin/diff.c): `commit`
 * `/home/me/.ssh/id_rsa` before the `--` written above, beside a file or directory named
 * `--` that a client made with the editor, showed that file of the host (review 21). An
 * object name is never such a path.
 * Each side must be a commit (or a tag of one) or a commit's whole tree: the deny list is
 * matched against paths from the top of the work tree, which a blob's content
 * (`HEAD:.env..HEAD~1:.env`) or a subtree's paths (`HEAD:.ssh`, `id_ed25519`) would pass by.
 */
async function objectNames(ctx: RepoContext, rev: string): Promise<string> {
  const parts = rev.split(/(\.{2,3})/);
  const sides = parts.filter((_, i) => i % 2 === 0);
  for (let i = 0; i < parts.length; i += 2) parts[i] = (await ctx.run(['rev-parse', '--verify', '--end-of-options', parts[i]])).stdout.trim();
  const types = await objectTypes(
    ctx,
    parts.filter((_, i) => i % 2 === 0).map((sha) => `${sha}^{}`),
  );
  for (const [i, side] of sides.entries()) {
    const [type, sha] = types[i];
    if (type === 'commit' || (type === 'tree' && (await rootTree(ctx, side, sha)))) continue;
    throw new GitError(
      'ARG_REJECTED',
      `argument "commit" rejected: ${JSON.stringify(side)} names a ${type}, not a commit or a commit's whole tree (HEAD^{tree}); show a file's content with git_show "<rev>:<path>"`,
      { argument: 'commit' },
    );
  }
  return parts.join('');
}

/** Type and sha of each object (`<sha>`, or `<sha>^{}` once tags are peeled), in one git run. */
async function objectTypes(ctx: RepoContext, names: readonly string[]): Promise<[string, string][]> {
  const r = await ctx.run(['cat-file', '--batch-check=%(objecttype) %(objectname)'], { input: names.map((n) => `${n}\n`).join('') });
  const lines = r.stdout.split('\n');
  return names.map((_, i) => {
    const [type = '', sha = ''] = (lines[i] ?? '').split(' ');
    return [sha === 'missing' || sha === '' ? 'missing object' : type, sha];
  });
}

/** Whether `side`, written `<rev>:` or `<rev>^{tree}`, is the whole tree of the commit `<rev>` names. */
async function rootTree(ctx: RepoContext, side: string, tree: string): Promise<boolean> {
  const base = side.endsWith('^{tree}') ? side.slice(0, -'^{tree}'.length) : side.endsWith(':') ? side.slice(0, -1) : '';
  if (base === '') return false;
  const r = await ctx.run(['rev-parse', '--verify', '-q', '--end-of-options', `${base}^{commit}^{tree}`], { acceptExit: [0, 1, 128] });
  return r.code === 0 && r.stdout.trim() === tree;
}

/** Sha of HEAD, or null on an unborn branch (a fresh repository has no commits). */
export async function headSha(ctx: RepoContext): Promise<string | null> {
  const r = await ctx.run(['rev-parse', '--verify', '-q', 'HEAD'], { acceptExit: [0, 1] });
  return r.code === 0 ? r.stdout.trim() : null;
}

export async function log(ctx: RepoContext, opts: { limit?: number } = {}): Promise<LogEntry[]> {
  const limit = validateLimit('limit', opts.limit, 20, 1000);
  if ((await headSha(ctx)) === null) return [];
  const r = await ctx.run(['log', '--no-color', `--max-count=${limit}`, LOG_FORMAT, 'HEAD', '--']);
  return parseLog(r.stdout);
}

export interface ShowResult {
  sha: string;
  type: string;
  /** Metadata when the revision names a commit. */
  commit: (LogEntry & { body: string }) | null;
  /** git show's text: commit header and patch, a blob's content, or a tree listing. */
  text: string;
  /** Files of a commit's patch that the deny list hides, left out of `text`. */
  hidden: number;
}

export async function show(ctx: RepoContext, opts: { rev: string }): Promise<ShowResult> {
  const rev = validateRev('rev', opts.rev);
  const sha = (await ctx.run(['rev-parse', '--verify', '--end-of-options', rev])).stdout.trim();
  // From here on only the resolved hex sha is passed, never the client's text.
  const [[type], [target, peeled]] = await objectTypes(ctx, [sha, `${sha}^{}`]);
  if (target === 'blob') await blobNamedByPath(ctx, rev, type, sha);
  let commit: ShowResult['commit'] = null;
  if (type === 'commit') {
    const meta = await ctx.run(['show', '-s', '--format=%H%x1f%an%x1f%ae%x1f%aI%x1f%s%x1f%b', sha, '--']);
    const [hash, author, email, date, subject, ...body] = meta.stdout.split('\x1f');
    commit = { sha: hash, author, email, date, subject: subject ?? '', body: body.join('\x1f').trim() };
  }
  if (target !== 'commit') {
    const text = await ctx.run(['show', ...DIFF_FLAGS, sha]);
    return { sha, type, commit, text: text.stdout, hidden: 0 };
  }
  // A commit, or a tag of one: its patch without the files the deny list hides (a merge's
  // combined diff, in both runs).
  const listing = await ctx.run(['show', ...DIFF_FLAGS, '--name-only', '--no-renames', '-z', '--format=', peeled, '--'], { maxOutputBytes: LIST_BYTES });
  const { paths, hidden } = await shown(ctx, listing.stdout);
  let args = [sha, '--'];
  if (hidden > 0 && paths.length === 0) args = ['--no-patch', sha, '--'];
  else if (hidden > 0) args.push(...pathspecs(paths, `see the other files with git_diff, "commit" "${peeled}~1..${peeled}" and a "file"`));
  const text = await ctx.run(['show', ...DIFF_FLAGS, ...args]);
  return { sha, type, commit, text: text.stdout, hidden };
}

/**
 * A blob is shown only when named by its path, `<rev>:<path>`, `:<path>` or `:<n>:<path>`,
 * and the deny list does not hide the path (relative to the top of the work tree, where git
 * runs; `./` and `../` forms are resolved as git resolves them). Named any other way (a sha,
 * a tag of it) it could be any file's content. `<rev>` must name a commit (or a tag of one)
 * or a commit's whole tree (`<commit>^{tree}`): a subtree's paths are not paths from the top
 * (`<sha of HEAD:.aws>:credentials` is `.aws/credentials`, which `.aws/**` hides and
 * `credentials` does not: review 26). `sha` is what `rev` resolved to; the blob at the path
 * in that commit must still be it.
 */
async function blobNamedByPath(ctx: RepoContext, rev: string, type: string, sha: string): Promise<void> {
  const path = type === 'blob' ? revPath(rev) : undefined;
  if (path === undefined || path === '') {
    throw new GitError(
      'ARG_REJECTED',
      `argument "rev" rejected: ${JSON.stringify(rev)} names a file's content by object name, which the deny list cannot be checked against; name it by path: "<rev>:<path>" (HEAD:README.md), or ":<path>" for the staged copy`,
      { argument: 'rev' },
    );
  }
  refuseDenied(ctx, 'rev', path, 'never shown');
  refuseDenied(ctx, 'rev', path.replace(/^\/+/, ''), 'never shown');
  if (rev.startsWith(':')) return; // the index: paths from the top
  const base = rev.slice(0, rev.length - path.length - 1);
  const commitish = base.endsWith('^{tree}') ? base.slice(0, -'^{tree}'.length) : base;
  const verify = (name: string) => ctx.run(['rev-parse', '--verify', '-q', '--end-of-options', name], { acceptExit: [0, 1, 128] });
  const commit = await verify(`${commitish}^{commit}`);
  const again = commit.code === 0 ? await verify(`${commit.stdout.trim()}:${path}`) : undefined;
  if (again?.code !== 0 || again.stdout.trim() !== sha) {
    throw new GitError(
      'ARG_REJECTED',
      `argument "rev" rejected: ${JSON.stringify(base)} is not a commit or a commit's whole tree (a subtree's paths are not checked against the deny list from the top); name the file from a commit: "<commit>:<path>" (HEAD:README.md)`,
      { argument: 'rev' },
    );
  }
}

/** Remotes git can use, then the ones the plugin rejected (left out of git's config copy). */
export async function remoteInfo(ctx: RepoContext): Promise<RemoteEntry[]> {
  const usable = parseRemotes((await ctx.run(['remote', '-v'])).stdout);
  for (const v of ctx.remotes.values()) {
    if (!v.rejected) continue;
    const fetch = v.fetchUrls[0] === undefined ? null : stripCredentials(v.fetchUrls[0]);
    const push = (v.pushUrls[0] ?? v.fetchUrls[0]) === undefined ? null : stripCredentials(v.pushUrls[0] ?? v.fetchUrls[0]);
    usable.push({
      name: v.name,
      fetchUrl: fetch?.url ?? null,
      pushUrl: push?.url ?? null,
      credentialsStripped: !!(fetch?.stripped || push?.stripped),
      rejected: redactCredentials(v.rejected),
    });
  }
  return usable;
}

export interface RepoInfo {
  toplevel: string;
  branch: string | null;
  detached: boolean;
  head: string | null;
  remotes: number;
  dirty: boolean;
}

export async function repoInfo(ctx: RepoContext): Promise<RepoInfo> {
  const s = await status(ctx);
  // Every configured remote, the rejected ones included (remote_info says why).
  return { toplevel: ctx.toplevel, branch: s.branch, detached: s.detached, head: s.head, remotes: ctx.remotes.size, dirty: !s.clean };
}
