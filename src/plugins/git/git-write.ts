/**
 * Operations that change the repository or a remote. Safe mode (on by default) refuses
 * what cannot be undone locally: any push, force, history rewrites (amend), merges on
 * pull (fast-forward only) and deleting unmerged branches (`-d`, never `-D`).
 */
import { validateBranch, validateMessage, validatePaths, validateRemote } from './git-args.js';
import type { RepoContext } from './git-context.js';
import { GitError } from './git-errors.js';
import { LIST_BYTES, refuseDenied, visible } from './git-hide.js';
import { excerpt } from './git-run.js';
import { redactCredentials } from './git-url.js';
import { headSha, status } from './git-read.js';

function refuse(what: string): never {
  throw new GitError('SAFE_MODE', `${what} is refused in safe mode`);
}

/**
 * Stages what `git add` would, except files the deny list hides (by default the editor's:
 * `.env`, keys, `.ssh/`...). Once staged, git_show `:<path>` and git_diff read such a file
 * back to a client the editor refuses it to, and `.gitignore` is the client's to empty
 * (review 21; git-hide.ts). A path named that the list hides is refused; hidden files under
 * a directory named, or found by `all`, are left out. git is handed the listed files alone,
 * as literal paths, so a file that became addable after the listing (`.gitignore` rewritten
 * meanwhile) is not staged.
 */
export async function add(ctx: RepoContext, opts: { files?: string[]; all?: boolean }): Promise<{ staged: string[] }> {
  if (opts.all === true && opts.files !== undefined) {
    throw new GitError('ARG_REJECTED', 'pass either "files" or "all", not both', { argument: 'files' });
  }
  const named = opts.all === true ? [] : validatePaths('files', opts.files, ctx.toplevel);
  for (const p of named) refuseDenied(ctx, 'files', p, 'never staged');
  // What `git add --all` would stage: changed and deleted tracked files, untracked ones not ignored.
  const listed = await ctx.run(['ls-files', '-z', '--modified', '--deleted', '--others', '--exclude-standard', '--', ...named], { maxOutputBytes: LIST_BYTES });
  const paths = await visible(ctx, new Set(listed.stdout.split('\0')));
  if (paths.length > 0) await ctx.run(['add', '--all', '--pathspec-from-file=-', '--pathspec-file-nul'], { input: paths.join('\0') });
  return { staged: (await status(ctx)).staged.map((c) => c.path) };
}

/**
 * Commits need an identity. The operator's own user.name/user.email win; only when git
 * has none do we supply one, so a fresh machine can still commit.
 */
async function identityDefaults(ctx: RepoContext): Promise<Record<string, string>> {
  const defaults: Record<string, string> = {};
  const fallback: Record<string, string> = { 'user.name': 'MCpeg', 'user.email': 'mcpeg@localhost' };
  for (const key of Object.keys(fallback)) {
    const r = await ctx.run(['config', '--get', key], { acceptExit: [0, 1] });
    if (r.code !== 0 || r.stdout.trim() === '') defaults[key] = fallback[key];
  }
  return defaults;
}

export interface CommitResult {
  sha: string;
  branch: string | null;
  subject: string;
  amended: boolean;
}

export async function commit(ctx: RepoContext, opts: { message: string; amend?: boolean }): Promise<CommitResult> {
  const message = validateMessage('message', opts.message);
  const amend = opts.amend === true;
  if (amend && ctx.safeMode) refuse('amend (a history rewrite)');
  if (!amend) {
    const staged = await ctx.run(['diff', '--cached', '--quiet', '--no-ext-diff'], { acceptExit: [0, 1] });
    if (staged.code === 0) throw new GitError('NOTHING_STAGED', 'nothing is staged to commit; add files first');
  }
  // The message goes on stdin: it is never part of the argument vector.
  const args = ['commit', '--file=-', ...(amend ? ['--amend'] : [])];
  await ctx.run(args, { input: message, config: await identityDefaults(ctx) });
  const s = await status(ctx);
  const subject = (await ctx.run(['log', '-1', '--format=%s', 'HEAD', '--'])).stdout.trim();
  return { sha: s.head ?? '', branch: s.branch, subject, amended: amend };
}

/**
 * A remote the plugin will use. Its URL decides which program git starts (git-remote.ts);
 * a rejected one is not even in git's copy of the config, so this check is for a clear
 * error, not the protection itself.
 */
function usableRemote(ctx: RepoContext, remote: string, given: boolean): string {
  const v = ctx.remotes.get(remote); // a Map: no inherited keys
  if (v === undefined) {
    if (!given) return remote; // no such remote configured: git says so in its own words
    throw new GitError('ARG_REJECTED', `argument "remote" rejected: no remote named ${JSON.stringify(remote)}`, { argument: 'remote' });
  }
  if (v.rejected) throw new GitError('REMOTE_REJECTED', `remote ${JSON.stringify(remote)} is not used by the git plugin: ${redactCredentials(v.rejected)}`);
  return remote;
}

/** The branch HEAD names, or '' when detached (the full ref: `--short` may add `heads/`). */
async function currentBranch(ctx: RepoContext): Promise<string> {
  const head = await ctx.run(['symbolic-ref', '-q', 'HEAD'], { acceptExit: [0, 1] });
  const ref = head.code === 0 ? head.stdout.trim() : '';
  return ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : '';
}

/** The remote git would pick by itself (git-push(1), git-pull(1)), so it can be checked too. */
async function defaultRemote(ctx: RepoContext, forPush: boolean): Promise<string> {
  const branch = await currentBranch(ctx);
  const names = branch ? [...(forPush ? ['pushremote'] : []), 'remote'] : [];
  for (const name of names) {
    // git takes a branch's remote that names no usable remote for a URL or a path
    // (remote.c: an explicit name becomes a URL alias), past every check of git-remote.ts:
    // `branch.main.remote = /elsewhere/repo` would fetch from outside the roots. Such a
    // setting is not in git's copy of the config; a call that would have used it is refused.
    const refused = ctx.refusedUpstreams?.get(`${branch}\0${name}`);
    if (refused !== undefined) {
      throw new GitError(
        'REMOTE_REJECTED',
        `branch.${branch}.${name} is ${JSON.stringify(redactCredentials(refused))}, which is not a remote the git plugin uses; git would take it for a URL or path, past the remote checks (set it to the name of a configured remote, or pass "remote")`,
      );
    }
    const r = await ctx.run(['config', '--get', `branch.${branch}.${name}`], { acceptExit: [0, 1] });
    if (r.code === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return 'origin';
}

/** Remote and branch for push/pull; a branch alone goes to `origin`. */
async function target(ctx: RepoContext, opts: { remote?: string; branch?: string }, forPush: boolean): Promise<string[]> {
  const branch = opts.branch === undefined ? undefined : validateBranch('branch', opts.branch);
  if (opts.remote === undefined && !branch) {
    usableRemote(ctx, await defaultRemote(ctx, forPush), false);
    return [];
  }
  const remoteName = opts.remote === undefined ? 'origin' : validateRemote('remote', opts.remote);
  usableRemote(ctx, remoteName, true);
  return ['--end-of-options', remoteName, ...(branch ? [branch] : [])];
}

export interface PushResult {
  output: string;
  head: string | null;
}

export async function push(ctx: RepoContext, opts: { remote?: string; branch?: string; force?: boolean } = {}): Promise<PushResult> {
  if (opts.force === true && ctx.safeMode) refuse('force push');
  if (ctx.safeMode) refuse('push');
  const where = await target(ctx, opts, true);
  // Outside safe mode, "force" is --force-with-lease: it still refuses to overwrite
  // remote work this repository has not seen.
  const r = await ctx.run(['push', ...(opts.force === true ? ['--force-with-lease'] : []), ...where]);
  return { output: excerpt(`${r.stdout}\n${r.stderr}`), head: await headSha(ctx) };
}

export interface PullResult {
  output: string;
  before: string | null;
  after: string | null;
}

export async function pull(ctx: RepoContext, opts: { remote?: string; branch?: string } = {}): Promise<PullResult> {
  const where = await target(ctx, opts, false);
  const before = await headSha(ctx);
  const mode = ctx.safeMode ? ['--ff-only'] : ['--no-rebase', '--no-edit'];
  const r = await ctx.run(['pull', ...mode, '--no-stat', '--no-recurse-submodules', ...where], { config: await identityDefaults(ctx) });
  return { output: excerpt(`${r.stdout}\n${r.stderr}`), before, after: await headSha(ctx) };
}

export interface BranchInfo {
  name: string;
  sha: string;
  current: boolean;
  upstream: string | null;
}

export interface BranchResult {
  action: 'list' | 'create' | 'delete' | 'switch';
  current: string | null;
  branches: BranchInfo[];
}

async function listBranches(ctx: RepoContext): Promise<BranchInfo[]> {
  const fmt = '--format=%(refname:short)%00%(objectname)%00%(HEAD)%00%(upstream:short)';
  const r = await ctx.run(['for-each-ref', fmt, 'refs/heads/']);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name, sha, head, upstream] = line.split('\0');
      return { name, sha, current: head === '*', upstream: upstream || null };
    });
}

export async function branch(ctx: RepoContext, opts: { action: BranchResult['action']; name?: string }): Promise<BranchResult> {
  const action = opts.action;
  if (!['list', 'create', 'delete', 'switch'].includes(action)) {
    throw new GitError('ARG_REJECTED', 'argument "action" must be list, create, delete or switch', { argument: 'action' });
  }
  if (action !== 'list') {
    const name = validateBranch('name', opts.name);
    if (action === 'create') await ctx.run(['branch', '--end-of-options', name]);
    // Safe mode: -d refuses to delete a branch whose commits are not merged anywhere.
    else if (action === 'delete') await ctx.run(['branch', ctx.safeMode ? '-d' : '-D', '--end-of-options', name]);
    // --no-guess: no branch is created (and no upstream written to config) from a remote one.
    else await ctx.run(['switch', '--no-guess', '--no-recurse-submodules', '--end-of-options', name]);
  }
  const branches = await listBranches(ctx);
  const current = branches.find((b) => b.current)?.name ?? (await status(ctx)).branch;
  return { action, current, branches };
}
