/**
 * Read-only operations. None of them can change the repository; all output is bounded
 * by the runner's cap, so a huge diff fails with OUTPUT_LIMIT rather than flooding a client.
 */
import { validateLimit, validatePath, validateRev } from './git-args.js';
import type { RepoContext } from './git-context.js';
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
}

export async function diff(ctx: RepoContext, opts: DiffOptions = {}): Promise<DiffResult> {
  const args = [...(opts.staged ? ['--cached'] : [])];
  if (opts.commit !== undefined) args.push('--end-of-options', await objectNames(ctx, validateRev('commit', opts.commit, { allowRange: true })));
  args.push('--');
  if (opts.file !== undefined) args.push(validatePath('file', opts.file, ctx.toplevel));
  const patch = await ctx.run(['diff', ...DIFF_FLAGS, ...args]);
  const stat = await ctx.run(['diff', ...DIFF_FLAGS, '--numstat', '-z', ...args]);
  return { diff: patch.stdout, files: parseNumstat(stat.stdout), empty: patch.stdout.length === 0 };
}

/**
 * A revision, or each side of a range, as the object name git resolves it to. git diff
 * given exactly two arguments after its options, one of them a path outside the work tree,
 * compares them as two files, as `git diff --no-index` does (builtin/diff.c): `commit`
 * `/home/me/.ssh/id_rsa` before the `--` written above, beside a file or directory named
 * `--` that a client made with the editor, showed that file of the host (review 21). An
 * object name is never such a path.
 */
async function objectNames(ctx: RepoContext, rev: string): Promise<string> {
  const parts = rev.split(/(\.{2,3})/);
  for (let i = 0; i < parts.length; i += 2) parts[i] = (await ctx.run(['rev-parse', '--verify', '--end-of-options', parts[i]])).stdout.trim();
  return parts.join('');
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
}

export async function show(ctx: RepoContext, opts: { rev: string }): Promise<ShowResult> {
  const rev = validateRev('rev', opts.rev);
  const sha = (await ctx.run(['rev-parse', '--verify', '--end-of-options', rev])).stdout.trim();
  // From here on only the resolved hex sha is passed, never the client's text.
  const type = (await ctx.run(['cat-file', '-t', sha])).stdout.trim();
  let commit: ShowResult['commit'] = null;
  if (type === 'commit') {
    const meta = await ctx.run(['show', '-s', '--format=%H%x1f%an%x1f%ae%x1f%aI%x1f%s%x1f%b', sha, '--']);
    const [hash, author, email, date, subject, ...body] = meta.stdout.split('\x1f');
    commit = { sha: hash, author, email, date, subject: subject ?? '', body: body.join('\x1f').trim() };
  }
  const text = await ctx.run(['show', ...DIFF_FLAGS, sha, ...(type === 'commit' ? ['--'] : [])]);
  return { sha, type, commit, text: text.stdout };
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
