/**
 * Repository confinement and the operation surface of the git plugin. `GitRepos` holds
 * the configured roots and limits; `resolveRepo` turns a client's path into a `GitRepo`
 * only if its real path, its work tree and its git directories all lie inside a root.
 */
import { realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import type { RepoContext, RunOptions } from './git-context.js';
import { GitError } from './git-errors.js';
import type { LogEntry, RemoteEntry, StatusResult } from './git-parse.js';
import { diff, log, remoteInfo, repoInfo, show, status, type DiffOptions, type DiffResult, type RepoInfo, type ShowResult } from './git-read.js';
import { runGit, type GitResult } from './git-run.js';
import { commitMessageSuggestion, type CommitSuggestion } from './git-suggest.js';
import { add, branch, commit, pull, push, type BranchResult, type CommitResult, type PullResult, type PushResult } from './git-write.js';

export interface GitReposOptions {
  roots: string[];
  /** Refuses push, force, amend, non-fast-forward pulls and `branch -D`. */
  safeMode: boolean;
  timeoutMs: number;
  maxOutputBytes: number;
  /** Run repository hooks (off by default; see git-run.ts). */
  allowHooks?: boolean;
}

function inside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === '' || (rel !== '..' && !rel.startsWith('../') && !isAbsolute(rel));
}

export class GitRepos {
  readonly options: Readonly<GitReposOptions>;

  constructor(options: GitReposOptions) {
    if (!Array.isArray(options.roots) || options.roots.length === 0) throw new Error('git: at least one root is required');
    for (const r of options.roots) if (!isAbsolute(r)) throw new Error(`git: root must be an absolute path: ${r}`);
    if (!(options.timeoutMs > 0) || !(options.maxOutputBytes > 0)) throw new Error('git: timeoutMs and maxOutputBytes must be positive');
    this.options = Object.freeze({ ...options, roots: Object.freeze([...options.roots]) as string[] });
  }

  /** Roots by real path, resolved per call: a root may be created after start-up. */
  private async realRoots(): Promise<string[]> {
    const out: string[] = [];
    for (const r of this.options.roots) {
      try {
        out.push(await realpath(r));
      } catch {
        // a missing root contains nothing
      }
    }
    return out;
  }

  /**
   * `path` is absolute, or relative to the first root; omitted means the first root.
   * Symlinks are resolved before the containment check, so a link leading out is refused.
   */
  async resolveRepo(path?: string): Promise<GitRepo> {
    if (path !== undefined && (typeof path !== 'string' || path === '' || /[\u0000-\u001f]/.test(path))) {
      throw new GitError('ARG_REJECTED', 'argument "repo" must be a path without control characters', { argument: 'repo' });
    }
    const requested = resolve(this.options.roots[0], path ?? '.');
    const roots = await this.realRoots();
    let real: string;
    try {
      real = await realpath(requested);
    } catch {
      throw new GitError('NOT_A_REPO', `no such directory: ${requested}`);
    }
    const root = roots.filter((r) => inside(r, real)).sort((a, b) => b.length - a.length)[0];
    if (root === undefined) throw new GitError('REPO_OUTSIDE_ROOTS', `${requested} is outside the configured git roots`);
    if (!(await stat(real)).isDirectory()) throw new GitError('NOT_A_REPO', `${requested} is not a directory`);

    // The ceiling stops git's upward search at the root: a folder inside a root is never
    // taken for part of a repository that encloses the root.
    const env = { GIT_CEILING_DIRECTORIES: dirname(root) };
    const limits = { timeoutMs: this.options.timeoutMs, maxOutputBytes: this.options.maxOutputBytes, allowHooks: this.options.allowHooks };
    let found: GitResult;
    try {
      found = await runGit(['rev-parse', '--show-toplevel', '--absolute-git-dir', '--git-common-dir'], { cwd: real, env, ...limits });
    } catch (e) {
      if (e instanceof GitError && e.code === 'GIT_FAILED') {
        // git's own reason matters here ("dubious ownership", "must be run in a work tree").
        throw new GitError('NOT_A_REPO', `${requested} is not inside a git work tree${e.stderr ? `: ${e.stderr}` : ''}`);
      }
      throw e;
    }
    const [top, gitDir, commonDir] = found.stdout.split('\n');
    // The work tree, and the git directories a `.git` file or worktree link may point at,
    // must all be inside a root: otherwise git would read config and objects from outside.
    for (const p of [top, gitDir, resolve(real, commonDir ?? '.')]) {
      const rp = await realpath(p).catch(() => p);
      if (!roots.some((r) => inside(r, rp))) throw new GitError('REPO_OUTSIDE_ROOTS', `${requested} uses a repository outside the configured git roots`);
    }
    const toplevel = await realpath(top);
    return new GitRepo({
      toplevel,
      safeMode: this.options.safeMode,
      run: (args: string[], opts: RunOptions = {}) => runGit(args, { cwd: toplevel, env, ...limits, ...opts }),
    });
  }
}

/** One resolved repository. Every method validates its own arguments. */
export class GitRepo {
  readonly toplevel: string;
  constructor(private readonly ctx: RepoContext) {
    this.toplevel = ctx.toplevel;
  }
  status(): Promise<StatusResult> { return status(this.ctx); }
  diff(opts: DiffOptions = {}): Promise<DiffResult> { return diff(this.ctx, opts); }
  add(opts: { files?: string[]; all?: boolean }): Promise<{ staged: string[] }> { return add(this.ctx, opts); }
  commit(opts: { message: string; amend?: boolean }): Promise<CommitResult> { return commit(this.ctx, opts); }
  push(opts: { remote?: string; branch?: string; force?: boolean } = {}): Promise<PushResult> { return push(this.ctx, opts); }
  pull(opts: { remote?: string; branch?: string } = {}): Promise<PullResult> { return pull(this.ctx, opts); }
  branch(opts: { action: BranchResult['action']; name?: string }): Promise<BranchResult> { return branch(this.ctx, opts); }
  log(opts: { limit?: number } = {}): Promise<LogEntry[]> { return log(this.ctx, opts); }
  show(opts: { rev: string }): Promise<ShowResult> { return show(this.ctx, opts); }
  repoInfo(): Promise<RepoInfo> { return repoInfo(this.ctx); }
  remoteInfo(): Promise<RemoteEntry[]> { return remoteInfo(this.ctx); }
  commitMessageSuggestion(): Promise<CommitSuggestion> { return commitMessageSuggestion(this.ctx); }
}
