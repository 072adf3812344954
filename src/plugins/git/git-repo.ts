/**
 * Repository confinement and the operation surface of the git plugin. `GitRepos` holds the
 * configured roots and limits; `resolveRepo` turns a client's path into a `GitRepo` only if
 * its real path lies inside a root and its layout is a plain work tree (git-layout.ts), and
 * then pins every git call of that `GitRepo` to it: GIT_DIR, GIT_WORK_TREE and a private
 * GIT_COMMON_DIR holding a checked copy of the repository's config (git-snapshot.ts).
 * Nothing a client can write — a bare repository, a `.git` file, `core.worktree`,
 * `.git/config`, `~/.gitconfig` under a root — changes which repository git opens or which
 * program it runs.
 */
import { mkdir, mkdtemp, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { ProtectedPath } from '../api.js';
import { ProtectedMatcher } from '../../config/protected.js';
import { DEFAULT_DENY } from '../editor/fs-contain.js';
import { DenyList } from '../editor/fs-deny.js';
import type { RepoContext, RunOptions } from './git-context.js';
import { safePath, sshCommand } from './git-env.js';
import { GitError } from './git-errors.js';
import { findLayout, inside } from './git-layout.js';
import type { LogEntry, RemoteEntry, StatusResult } from './git-parse.js';
import { diff, log, remoteInfo, repoInfo, show, status, type DiffOptions, type DiffResult, type RepoInfo, type ShowResult } from './git-read.js';
import type { RemoteVerdict } from './git-remote.js';
import { runGit, type GitResult, type RunGitOptions } from './git-run.js';
import { ProcessSlots } from './git-slots.js';
import { takeSnapshot } from './git-snapshot.js';
import { commitMessageSuggestion, type CommitSuggestion } from './git-suggest.js';
import { add, branch, commit, pull, push, type BranchResult, type CommitResult, type PullResult, type PushResult } from './git-write.js';

export type GitSettings = Readonly<Record<string, string | readonly string[]>>;

export interface GitReposOptions {
  roots: string[];
  /** Refuses push, force, amend, non-fast-forward pulls and `branch -D`. */
  safeMode: boolean;
  timeoutMs: number;
  maxOutputBytes: number;
  /** Run repository hooks (off by default; config-file only, never from a client). */
  allowHooks?: boolean;
  /**
   * Where the per-call config copies live: a directory no client can write (never inside a
   * root). Default: a fresh directory under the OS temporary directory.
   */
  scratchDir?: string;
  /** git settings from the operator (mcpeg.yaml), passed as `-c` after the hardening. */
  config?: GitSettings;
  /** Paths the gateway executes or trusts (PluginContext.protectedPaths), asked at each call. */
  protectedPaths?: () => readonly ProtectedPath[];
  /** git processes run at once by this plugin; more wait their turn (git-slots.ts). Default 16. */
  maxProcesses?: number;
  /**
   * Files git_add never stages and git_diff/git_show never show: globs matched as the
   * editor's deny list is, relative to each root (git-hide.ts). Default: the editor's default list.
   */
  deny?: readonly string[];
}

// `section[.subsection].name`: what `git -c` accepts; `=` would split the pair early.
const SETTING_KEY = /^[A-Za-z][A-Za-z0-9-]*(\.[^=\n\u0000]+)?\.[A-Za-z][A-Za-z0-9-]*$/;

function checkSettings(config: GitSettings): void {
  for (const [key, value] of Object.entries(config)) {
    if (!SETTING_KEY.test(key)) throw new Error(`git: config key ${JSON.stringify(key)} is not a git setting name (section.name or section.subsection.name)`);
    for (const v of typeof value === 'string' ? [value] : value) {
      if (typeof v !== 'string' || v.includes('\u0000')) throw new Error(`git: config ${key} must be a string (or a list of strings) without NUL`);
    }
  }
}

/**
 * git-run.ts pins ssh, askpass and the git:// proxy through the environment, which outranks
 * config. When the operator names one of them in the plugin's config, the variable is
 * dropped so that git uses the operator's setting.
 */
const PROGRAM_ENV: Readonly<Record<string, string>> = { 'core.sshcommand': 'GIT_SSH_COMMAND', 'core.askpass': 'GIT_ASKPASS', 'core.gitproxy': 'GIT_PROXY_COMMAND' };

function operatorPrograms(settings: GitSettings): Record<string, undefined> {
  const out: Record<string, undefined> = {};
  for (const key of Object.keys(settings)) {
    const v = Object.hasOwn(PROGRAM_ENV, key.toLowerCase()) ? PROGRAM_ENV[key.toLowerCase()] : undefined;
    if (v !== undefined) out[v] = undefined;
  }
  return out;
}

export class GitRepos {
  readonly options: Readonly<GitReposOptions>;
  private tmpScratch: Promise<string> | undefined;
  private readonly slots: ProcessSlots;
  private readonly deny: DenyList;

  constructor(options: GitReposOptions) {
    if (!Array.isArray(options.roots) || options.roots.length === 0) throw new Error('git: at least one root is required');
    for (const r of options.roots) if (!isAbsolute(r)) throw new Error(`git: root must be an absolute path: ${r}`);
    if (!(options.timeoutMs > 0) || !(options.maxOutputBytes > 0)) throw new Error('git: timeoutMs and maxOutputBytes must be positive');
    checkSettings(options.config ?? {});
    this.slots = new ProcessSlots(options.maxProcesses ?? 16);
    try {
      this.deny = new DenyList(options.deny ?? DEFAULT_DENY);
    } catch (err) {
      throw new Error(`git: invalid deny pattern ${(err as Error).message}`);
    }
    this.options = Object.freeze({ ...options, roots: Object.freeze([...options.roots]) as string[], config: Object.freeze({ ...(options.config ?? {}) }) });
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
   * The scratch directory, by real path, made again if something removed it. One inside a
   * root is not used (a client could rewrite the copies): the OS temporary directory is.
   */
  private async scratchDir(roots: readonly string[]): Promise<string> {
    const wanted = this.options.scratchDir;
    if (wanted !== undefined) {
      await mkdir(wanted, { recursive: true, mode: 0o700 });
      const real = await realpath(wanted);
      if (!roots.some((r) => inside(r, real))) return real;
    }
    this.tmpScratch ??= mkdtemp(join(tmpdir(), 'mcpeg-git-'));
    const dir = await this.tmpScratch;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (roots.some((r) => inside(r, dir)))
      throw new GitError('REPO_REJECTED', `the git plugin's scratch directory ${dir} lies inside a git root; configure roots that do not contain it`);
    return dir;
  }

  /** Every git process of the plugin starts here, holding one of its slots. */
  private git(args: string[], opts: RunGitOptions): Promise<GitResult> {
    return this.slots.run(opts.timeoutMs, args[0] ?? '', () => runGit(args, opts), opts.signal);
  }

  /** Removes the temporary scratch directory, if one was made (plugin stop). Copies in the
   * configured scratch directory are removed by their own calls. */
  async close(): Promise<void> {
    const dir = await this.tmpScratch?.catch(() => undefined);
    this.tmpScratch = undefined;
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }

  /**
   * Resolves, runs `fn`, and always removes the repository's config copy afterwards. Every
   * git of the call waits for a slot, and runs, only while `signal` (the call's) stands.
   */
  async withRepo<T>(path: string | undefined, fn: (repo: GitRepo) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const repo = await this.resolveRepo(path, signal);
    try {
      return await fn(repo);
    } finally {
      await repo.dispose();
    }
  }

  /**
   * `path` is absolute, or relative to the first root; omitted means the first root.
   * Symlinks are resolved before the containment check, so a link leading out is refused.
   * The caller must `dispose()` the result (or use `withRepo`).
   */
  async resolveRepo(path?: string, signal?: AbortSignal): Promise<GitRepo> {
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

    const layout = await findLayout(real, root);
    this.checkProtected(layout.toplevel);
    const limits = { timeoutMs: this.options.timeoutMs, maxOutputBytes: this.options.maxOutputBytes, ...(signal ? { signal } : {}) };
    const PATH = safePath(roots);
    const snap = await takeSnapshot({
      layout,
      scratch: await this.scratchDir(roots),
      roots,
      allowHooks: this.options.allowHooks === true,
      guard: (dir) => this.protectedReason(dir),
      // Outside any repository: the ceiling keeps git from discovering one above the copy.
      readConfig: async (file, cwd) =>
        (await this.git(['config', '--file', file, '--no-includes', '--list', '-z'], { cwd, env: { PATH, GIT_CEILING_DIRECTORIES: dirname(cwd) }, ...limits })).stdout,
    });
    const settings = this.options.config ?? {};
    const env = { PATH, GIT_SSH_COMMAND: sshCommand(roots), ...operatorPrograms(settings), GIT_DIR: layout.gitDir, GIT_WORK_TREE: layout.toplevel, GIT_COMMON_DIR: snap.commonDir };
    // git names the main worktree after its common directory ("checked out at ..."):
    // messages show the work tree, not the private copy.
    const own = (text: string) => text.split(snap.commonDir).join(layout.toplevel);
    return new GitRepo(
      {
        toplevel: layout.toplevel,
        safeMode: this.options.safeMode,
        remotes: snap.remotes,
        refusedUpstreams: snap.refusedUpstreams,
        denied: (p: string) => this.deniedBy(roots, resolve(layout.toplevel, p)),
        run: (args: string[], opts: RunOptions = {}) =>
          this.git(args, {
            cwd: layout.toplevel,
            env,
            ...limits,
            allowHooks: this.options.allowHooks,
            ...opts,
            maxOutputBytes: Math.max(limits.maxOutputBytes, opts.maxOutputBytes ?? 0),
            config: { ...settings, ...opts.config },
          }).catch((e: unknown) => {
            if (!(e instanceof GitError)) throw e;
            throw new GitError(e.code, own(e.message), { exitCode: e.exitCode, stderr: e.stderr === undefined ? undefined : own(e.stderr), argument: e.argument, key: e.key });
          }),
      },
      snap.dispose,
    );
  }

  /**
   * A work tree holding a path the gateway trusts is refused whole: checkout, pull, a branch
   * switch or reset would rewrite it, and diff, show or log would disclose it (the config
   * file holds secrets). One inside a protected directory likewise.
   */
  private checkProtected(toplevel: string): void {
    const why = this.protectedReason(toplevel);
    if (why) throw new GitError('REPO_PROTECTED', `the repository at ${toplevel} is refused: ${why}`);
  }

  /** The deny pattern hiding `abs`, matched relative to each root holding it (as the editor matches it). */
  private deniedBy(roots: readonly string[], abs: string): string | undefined {
    for (const r of roots) {
      const hit = inside(r, abs) ? this.deny.matches(relative(r, abs).split(sep).join('/')) : undefined;
      if (hit !== undefined) return hit;
    }
    return undefined;
  }

  /** Why a repository directory (a work tree, or a local remote) holds or lies in a protected path. */
  private protectedReason(dir: string): string | null {
    const guard = new ProtectedMatcher(this.options.protectedPaths?.() ?? []);
    const held = guard.inside(dir);
    if (held)
      return `its work tree holds ${relative(dir, held.path)}, ${held.reason}, which a checkout, pull or branch switch could rewrite and a fetch, diff or show disclose; keep it out of the git roots`;
    const around = guard.covering(dir);
    return around ? `it lies inside ${around.reason} (${around.path})` : null;
  }

  /**
   * Refuses a git too old for the hardening: GIT_CONFIG_GLOBAL (2.32) is what keeps a
   * `~/.gitconfig` inside a root from being read; older gits silently ignore it.
   */
  async checkGit(): Promise<string> {
    const roots = await this.realRoots();
    const out = (await this.git(['--version'], { cwd: tmpdir(), env: { PATH: safePath(roots) }, timeoutMs: this.options.timeoutMs, maxOutputBytes: 4096 })).stdout.trim();
    const m = /(\d+)\.(\d+)/.exec(out);
    if (!m || Number(m[1]) < 2 || (Number(m[1]) === 2 && Number(m[2]) < 32))
      throw new Error(`git: the git plugin needs git 2.32 or newer (GIT_CONFIG_GLOBAL); found ${out || 'no version'}`);
    return out;
  }

  /** `git init` of a new directory (the workspace on first start), with the same hardening. */
  async init(dir: string): Promise<void> {
    const roots = await this.realRoots();
    await this.git(['init', '--quiet', '--', dir], { cwd: dir, env: { PATH: safePath(roots) }, timeoutMs: this.options.timeoutMs, maxOutputBytes: 65536 });
  }
}

/** One resolved repository. Every method validates its own arguments. */
export class GitRepo {
  readonly toplevel: string;
  constructor(
    private readonly ctx: RepoContext,
    private readonly release: () => Promise<void> = async () => {},
  ) {
    this.toplevel = ctx.toplevel;
  }
  /** Removes the private config copy; the repository itself is untouched. */
  dispose(): Promise<void> {
    return this.release();
  }
  get remotes(): ReadonlyMap<string, RemoteVerdict> {
    return this.ctx.remotes;
  }
  status(): Promise<StatusResult> {
    return status(this.ctx);
  }
  diff(opts: DiffOptions = {}): Promise<DiffResult> {
    return diff(this.ctx, opts);
  }
  add(opts: { files?: string[]; all?: boolean }): Promise<{ staged: string[] }> {
    return add(this.ctx, opts);
  }
  commit(opts: { message: string; amend?: boolean }): Promise<CommitResult> {
    return commit(this.ctx, opts);
  }
  push(opts: { remote?: string; branch?: string; force?: boolean } = {}): Promise<PushResult> {
    return push(this.ctx, opts);
  }
  pull(opts: { remote?: string; branch?: string } = {}): Promise<PullResult> {
    return pull(this.ctx, opts);
  }
  branch(opts: { action: BranchResult['action']; name?: string }): Promise<BranchResult> {
    return branch(this.ctx, opts);
  }
  log(opts: { limit?: number } = {}): Promise<LogEntry[]> {
    return log(this.ctx, opts);
  }
  show(opts: { rev: string }): Promise<ShowResult> {
    return show(this.ctx, opts);
  }
  repoInfo(): Promise<RepoInfo> {
    return repoInfo(this.ctx);
  }
  remoteInfo(): Promise<RemoteEntry[]> {
    return remoteInfo(this.ctx);
  }
  commitMessageSuggestion(): Promise<CommitSuggestion> {
    return commitMessageSuggestion(this.ctx);
  }
}
