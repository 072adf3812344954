/**
 * Directory listings and trees. Denied and protected entries are hidden (not even their names are shown)
 * and never descended into; symlinks are reported as such and never followed.
 *
 * A walk is bounded as a search is (fs-search.ts): by entries (`limit`), by the characters of
 * the paths it answers (MAX_LIST_CHARS), in time (`maxMillis`, shared with other requests in
 * slices) and by the call's signal. Each entry costs the deny list's match over its whole
 * path, ~3.5 ms for a path of 3,700 characters a client can make: before (review 27a), a
 * listing of 10,000 such files ran 16 s and answered 77 MB, and cancelling it (to send more
 * than `max_inflight_per_session`) stopped nothing.
 */
import { lstat, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Sandbox } from './fs-contain.js';
import { SandboxError, shown } from './fs-errors.js';
import { changed } from './fs-handle.js';
import { entryType, type EntryType } from './fs-read.js';
import { DEFAULT_MAX_MILLIS, Pacer } from './fs-search.js';

export interface ListEntry {
  path: string;
  name: string;
  type: EntryType;
  /** Bytes, for regular files only. */
  size?: number;
}

export interface TreeNode {
  name: string;
  path: string;
  type: EntryType;
  size?: number;
  children?: TreeNode[];
}

export interface Limits {
  depth?: number;
  limit?: number;
  /** How long the walk may take; past it the answer so far is given, `truncated`. */
  maxMillis?: number;
  /** The call's signal: once aborted the walk stops. */
  signal?: AbortSignal;
}

const MAX_DEPTH = 32;
const DEFAULT_LIMIT = 1000;
/** Characters of entry paths one listing answers at most (then `truncated`). */
export const MAX_LIST_CHARS = 4 * 1024 * 1024;

/** What one walk may still spend: entries, path characters, time. */
class Budget {
  private count = 0;
  private chars = 0;
  private readonly pacer: Pacer;
  truncated = false;

  constructor(
    private readonly limit: number,
    opts: Limits,
  ) {
    this.pacer = new Pacer(opts.maxMillis ?? DEFAULT_MAX_MILLIS, opts.signal);
  }

  /** Whether `node` may be answered; false once anything is used up (and from then on). */
  take(node: TreeNode): boolean {
    if (this.truncated || this.count >= this.limit || this.chars + node.path.length > MAX_LIST_CHARS || this.pacer.expired()) {
      this.truncated = true;
      return false;
    }
    this.count++;
    this.chars += node.path.length;
    return true;
  }

  /** Lets other requests run once a slice is used up; false when the time is. */
  async go(): Promise<boolean> {
    if (this.pacer.due()) await this.pacer.pause();
    if (this.pacer.expired()) this.truncated = true;
    return !this.truncated;
  }
}

export async function listDirectory(sb: Sandbox, userPath = '.', opts: Limits = {}): Promise<{ path: string; entries: ListEntry[]; truncated: boolean }> {
  const { depth, limit } = limits(opts, 1);
  const dir = await openDir(sb, userPath);
  const budget = new Budget(limit, opts);
  const entries: ListEntry[] = [];
  const visit = async (cur: string, level: number): Promise<void> => {
    for await (const node of children(sb, cur, userPath, budget)) {
      if (!budget.take(node)) return;
      entries.push(node);
      if (node.type === 'directory' && level < depth) await visit(path.join(cur, node.name), level + 1);
    }
  };
  await visit(dir, 1);
  return { path: sb.display(dir), entries, truncated: budget.truncated };
}

export async function fileTree(
  sb: Sandbox,
  userPath = '.',
  depth = 3,
  limit = DEFAULT_LIMIT,
  opts: Pick<Limits, 'maxMillis' | 'signal'> = {},
): Promise<{ tree: TreeNode; truncated: boolean }> {
  const lim = limits({ depth, limit }, 3);
  const dir = await openDir(sb, userPath);
  const budget = new Budget(lim.limit, opts);
  const build = async (cur: string, level: number): Promise<TreeNode[]> => {
    const out: TreeNode[] = [];
    for await (const node of children(sb, cur, userPath, budget)) {
      if (!budget.take(node)) break;
      if (node.type === 'directory' && level < lim.depth) node.children = await build(path.join(cur, node.name), level + 1);
      out.push(node);
    }
    return out;
  };
  const tree: TreeNode = { name: path.basename(dir), path: sb.display(dir), type: 'directory', children: await build(dir, 1) };
  return { tree, truncated: budget.truncated };
}

/** Plain-text rendering of a tree, one entry per line, directories ending in "/". */
export function renderTree(node: TreeNode, indent = ''): string {
  const lines = indent === '' ? [`${node.name}/`] : [];
  const kids = node.children ?? [];
  kids.forEach((kid, i) => {
    const lastKid = i === kids.length - 1;
    const suffix = kid.type === 'directory' ? '/' : kid.type === 'symlink' ? ' ->' : '';
    lines.push(`${indent}${lastKid ? '└── ' : '├── '}${kid.name}${suffix}`);
    if (kid.children?.length) lines.push(renderTree(kid, `${indent}${lastKid ? '    ' : '│   '}`));
  });
  return lines.join('\n');
}

async function openDir(sb: Sandbox, userPath: string): Promise<string> {
  const r = await sb.resolve(userPath, 'list');
  if (!(await lstat(r.abs)).isDirectory()) {
    throw new SandboxError('NOT_A_DIRECTORY', `path ${shown(userPath)} is not a directory`, userPath);
  }
  return r.abs;
}

/**
 * Visible entries of one directory, sorted by name, made as the walk takes them: a directory
 * of a million names costs what the walk answers from it, not a million deny-list matches.
 */
async function* children(sb: Sandbox, dir: string, userPath: string, budget: Budget): AsyncGenerator<TreeNode> {
  // readdir() follows symlinks: re-check that the directory is still the real one found by lstat.
  if ((await realpath(dir).catch(() => undefined)) !== dir) throw changed(userPath);
  const names = (await readdir(dir)).sort();
  for (const name of names) {
    if (!(await budget.go())) return;
    const abs = path.join(dir, name);
    if (sb.deniedBy(abs) || sb.protectedBy(abs)) continue;
    const st = await lstat(abs).catch(() => undefined);
    if (!st) continue; // removed meanwhile
    const type = entryType(st);
    yield { name, path: sb.display(abs), type, ...(type === 'file' ? { size: st.size } : {}) };
  }
}

function limits(opts: Limits, defaultDepth: number): { depth: number; limit: number } {
  const depth = opts.depth ?? defaultDepth;
  const limit = opts.limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(depth) || depth < 1 || depth > MAX_DEPTH) {
    throw new SandboxError('INVALID_ARGUMENT', `depth must be an integer from 1 to ${MAX_DEPTH}`);
  }
  if (!Number.isInteger(limit) || limit < 1) throw new SandboxError('INVALID_ARGUMENT', 'limit must be a positive integer');
  return { depth, limit };
}
