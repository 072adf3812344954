/**
 * Where a repository is, found on disk without asking git. git's own discovery accepts a
 * bare repository, a `.git` file pointing anywhere and a `core.worktree` redirect — layouts
 * a client can write with any file-writing tool (issue #14). The plugin serves one shape:
 * a work tree whose git directory is the real directory `<toplevel>/.git`, inside a root.
 * Every later git call names that directory explicitly (GIT_DIR, GIT_WORK_TREE), so git
 * never discovers anything itself.
 */
import { lstat, readFile, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { GitError } from './git-errors.js';

export interface Layout {
  /** The work tree, by real path. */
  toplevel: string;
  /** `<toplevel>/.git`, a real directory. */
  gitDir: string;
}

export function inside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

async function lstatOrNull(p: string) {
  try {
    return await lstat(p);
  } catch {
    return null;
  }
}

/** git's own test for a git directory (setup.c is_git_directory): HEAD, objects/, refs/. */
export async function looksLikeGitDir(p: string): Promise<boolean> {
  try {
    const [head, objects, refs] = await Promise.all([lstat(join(p, 'HEAD')), stat(join(p, 'objects')), stat(join(p, 'refs'))]);
    return !head.isDirectory() && objects.isDirectory() && refs.isDirectory();
  } catch {
    return false;
  }
}

/**
 * Walks from `real` (a directory inside `root`, by real path) up to `root` and returns the
 * first work tree. Refuses, rather than skips, anything git would have taken for a
 * repository on the way: the caller asked for that directory, and serving an enclosing
 * repository instead would surprise them.
 */
export async function findLayout(real: string, root: string): Promise<Layout> {
  if (relative(root, real).split(sep).includes('.git')) {
    throw new GitError('NOT_A_REPO', `${real} is inside a git directory, not a work tree`);
  }
  for (let d = real; ; d = dirname(d)) {
    const dotGit = join(d, '.git');
    const st = await lstatOrNull(dotGit);
    if (st?.isSymbolicLink()) throw new GitError('REPO_REJECTED', `${dotGit} is a symbolic link; only a real .git directory is served`);
    if (st?.isFile()) {
      throw new GitError('REPO_REJECTED', `${dotGit} is a file (a gitfile: linked worktree or submodule); only a work tree with a real .git directory is served`);
    }
    if (st?.isDirectory()) {
      if (!(await looksLikeGitDir(dotGit))) throw new GitError('NOT_A_REPO', `${dotGit} is not a git directory`);
      return { toplevel: d, gitDir: dotGit };
    }
    if (st) throw new GitError('REPO_REJECTED', `${dotGit} is neither a directory nor a file`);
    if (await looksLikeGitDir(d)) {
      throw new GitError('REPO_REJECTED', `${d} is a bare repository or git directory; only a work tree whose git directory is <toplevel>/.git is served`);
    }
    if (d === root || dirname(d) === d) break;
  }
  throw new GitError('NOT_A_REPO', `${real} is not inside a git work tree`);
}

/**
 * Entries of the git directory that git reads or writes by name. A symbolic link there
 * would make git write through it (the index, reflogs, COMMIT_EDITMSG and FETCH_HEAD are
 * written by following links), so a client could aim the gateway's writes anywhere.
 * `commondir` would make this a linked worktree's directory whose real config is elsewhere.
 */
const NO_LINKS = [
  'HEAD',
  'index',
  'config',
  'objects',
  'refs',
  'logs',
  'logs/HEAD',
  'info',
  'packed-refs',
  'shallow',
  'worktrees',
  'COMMIT_EDITMSG',
  'FETCH_HEAD',
  'ORIG_HEAD',
  'MERGE_HEAD',
  'MERGE_MSG',
  'MERGE_MODE',
  'AUTO_MERGE',
  'index.lock',
  'objects/info',
  'objects/info/alternates',
];

export async function checkGitDir(gitDir: string, roots: readonly string[]): Promise<void> {
  for (const name of NO_LINKS) {
    const st = await lstatOrNull(join(gitDir, name));
    if (st?.isSymbolicLink()) throw new GitError('REPO_REJECTED', `${join(gitDir, name)} is a symbolic link; git would read or write through it`);
  }
  if (await lstatOrNull(join(gitDir, 'commondir'))) {
    throw new GitError('REPO_REJECTED', `${gitDir} has a commondir file (a linked worktree's git directory); only a main work tree is served`);
  }
  // Alternates make git read objects from other directories; they must be inside a root too.
  let alternates = '';
  try {
    alternates = await readFile(join(gitDir, 'objects', 'info', 'alternates'), 'utf8');
  } catch {
    return;
  }
  for (const line of alternates
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))) {
    const target = await realpath(resolve(join(gitDir, 'objects'), line)).catch(() => null);
    if (target === null || !roots.some((r) => inside(r, target))) {
      throw new GitError('REPO_REJECTED', `${gitDir}/objects/info/alternates names ${line}, outside the configured git roots`);
    }
  }
}
