/**
 * A commit message suggestion built only from the staged diff: which files, how many
 * lines, and a conventional-commit-style subject (https://www.conventionalcommits.org)
 * whose type and scope are guessed from the paths. Deterministic: same index, same text.
 */
import { posix } from 'node:path';
import type { RepoContext } from './git-context.js';
import { GitError } from './git-errors.js';
import { parseNameStatus, parseNumstat } from './git-parse.js';

export interface SuggestedFile {
  path: string;
  origPath?: string;
  /** A added, M modified, D deleted, R renamed, C copied, T type changed. */
  status: string;
  insertions: number;
  deletions: number;
  binary: boolean;
}

export interface CommitSuggestion {
  subject: string;
  body: string;
  /** subject, blank line, body: ready for `git_commit`. */
  message: string;
  type: string;
  scope: string | null;
  files: SuggestedFile[];
  insertions: number;
  deletions: number;
}

const isTest = (p: string): boolean => /(^|\/)(test|tests|__tests__|spec)\//.test(p) || /\.(test|spec)\.[a-z]+$/.test(p);
const isDoc = (p: string): boolean => /(^|\/)docs?\//.test(p) || /\.(md|mdx|rst|txt|adoc)$/i.test(p) || /(^|\/)(README|CHANGELOG|LICENSE)[^/]*$/i.test(p);
const isCi = (p: string): boolean => /^\.github\/|^\.gitlab-ci|^\.circleci\//.test(p);
const isBuild = (p: string): boolean =>
  /(^|\/)(package(-lock)?\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|tsconfig[^/]*\.json|Makefile|Dockerfile|go\.(mod|sum)|Cargo\.(toml|lock))$/.test(p);

function guessType(files: SuggestedFile[]): string {
  const paths = files.map((f) => f.path);
  if (paths.every(isTest)) return 'test';
  if (paths.every(isDoc)) return 'docs';
  if (paths.every(isCi)) return 'ci';
  if (paths.every(isBuild)) return 'build';
  if (files.some((f) => f.status === 'A' && !isTest(f.path) && !isDoc(f.path))) return 'feat';
  return 'chore';
}

/** Scope: the deepest directory shared by every file, named by its last component. */
function guessScope(files: SuggestedFile[]): string | null {
  const dirs = files.map((f) =>
    posix
      .dirname(f.path)
      .split('/')
      .filter((d) => d !== '.'),
  );
  const common: string[] = [];
  for (let i = 0; dirs.every((d) => i < d.length && d[i] === dirs[0][i]); i++) common.push(dirs[0][i]);
  const last = common[common.length - 1];
  // "src" or "test" alone say nothing a type does not already say.
  return last && !['src', 'lib', 'test', 'tests'].includes(last) ? last : null;
}

const VERB: Record<string, string> = { A: 'add', D: 'remove', R: 'rename', C: 'copy' };

function describe(files: SuggestedFile[]): string {
  if (files.length === 1) {
    const f = files[0];
    const name = posix.basename(f.path);
    if (f.status === 'R' && f.origPath) return `rename ${posix.basename(f.origPath)} to ${name}`;
    return `${VERB[f.status] ?? 'update'} ${name}`;
  }
  const statuses = new Set(files.map((f) => f.status));
  const verb = statuses.size === 1 ? (VERB[files[0].status] ?? 'update') : 'update';
  return `${verb} ${files.length} files`;
}

export async function commitMessageSuggestion(ctx: RepoContext): Promise<CommitSuggestion> {
  const flags = ['diff', '--cached', '-M', '--no-color', '--no-ext-diff', '--no-textconv', '-z'];
  const numstat = parseNumstat((await ctx.run([...flags, '--numstat'])).stdout);
  if (numstat.length === 0) throw new GitError('NOTHING_STAGED', 'nothing is staged; a suggestion is built from the staged diff');
  const statuses = parseNameStatus((await ctx.run([...flags, '--name-status'])).stdout);
  const files: SuggestedFile[] = numstat.map((n) => ({ ...n, status: statuses.get(n.path) ?? 'M' })).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

  const insertions = files.reduce((s, f) => s + f.insertions, 0);
  const deletions = files.reduce((s, f) => s + f.deletions, 0);
  const type = guessType(files);
  const scope = guessScope(files);
  const subject = `${type}${scope ? `(${scope})` : ''}: ${describe(files)}`;
  const lines = files.map((f) => {
    const what = f.binary ? 'binary' : `+${f.insertions} -${f.deletions}`;
    const name = f.origPath ? `${f.origPath} -> ${f.path}` : f.path;
    return `- ${f.status} ${name} (${what})`;
  });
  const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;
  const summary = `${plural(files.length, 'file')} changed, ${plural(insertions, 'insertion')}(+), ${plural(deletions, 'deletion')}(-)`;
  const body = [...lines, '', summary].join('\n');
  return { subject, body, message: `${subject}\n\n${body}\n`, type, scope, files, insertions, deletions };
}
