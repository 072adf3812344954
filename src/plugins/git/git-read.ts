/**
 * Read-only operations. None of them can change the repository; all output is bounded
 * by the runner's cap, so a huge diff fails with OUTPUT_LIMIT rather than flooding a client.
 */
import { validateLimit, validatePath, validateRev } from './git-args.js';
import type { RepoContext } from './git-context.js';
import {
  LOG_FORMAT, parseLog, parseNumstat, parseRemotes, parseStatusV2,
  type LogEntry, type NumstatEntry, type RemoteEntry, type StatusResult,
} from './git-parse.js';

// Diff output must not run repository-configured programs (diff.external, textconv).
const DIFF_FLAGS = ['--no-color', '--no-ext-diff', '--no-textconv'];

export async function status(ctx: RepoContext): Promise<StatusResult> {
  const r = await ctx.run(['status', '--porcelain=v2', '--branch', '-z', '--untracked-files=normal']);
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
  if (opts.commit !== undefined) args.push('--end-of-options', validateRev('commit', opts.commit, { allowRange: true }));
  args.push('--');
  if (opts.file !== undefined) args.push(validatePath('file', opts.file, ctx.toplevel));
  const patch = await ctx.run(['diff', ...DIFF_FLAGS, ...args]);
  const stat = await ctx.run(['diff', ...DIFF_FLAGS, '--numstat', '-z', ...args]);
  return { diff: patch.stdout, files: parseNumstat(stat.stdout), empty: patch.stdout.length === 0 };
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

export async function remoteInfo(ctx: RepoContext): Promise<RemoteEntry[]> {
  return parseRemotes((await ctx.run(['remote', '-v'])).stdout);
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
  const remotes = (await ctx.run(['remote'])).stdout.split('\n').filter(Boolean).length;
  return { toplevel: ctx.toplevel, branch: s.branch, detached: s.detached, head: s.head, remotes, dirty: !s.clean };
}
