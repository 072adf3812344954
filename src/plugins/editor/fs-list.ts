/**
 * Directory listings and trees. Denied and protected entries are hidden (not even their names are shown)
 * and never descended into; symlinks are reported as such and never followed.
 */
import { lstat, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Sandbox } from './fs-contain.js';
import { SandboxError, shown } from './fs-errors.js';
import { changed } from './fs-handle.js';
import { entryType, type EntryType } from './fs-read.js';

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
}

const MAX_DEPTH = 32;
const DEFAULT_LIMIT = 1000;

export async function listDirectory(sb: Sandbox, userPath = '.', opts: Limits = {}): Promise<{ path: string; entries: ListEntry[]; truncated: boolean }> {
  const { depth, limit } = limits(opts, 1);
  const dir = await openDir(sb, userPath);
  const entries: ListEntry[] = [];
  let truncated = false;
  const visit = async (cur: string, level: number): Promise<void> => {
    for (const node of await children(sb, cur, userPath)) {
      if (entries.length >= limit) {
        truncated = true;
        return;
      }
      entries.push(node);
      if (node.type === 'directory' && level < depth) await visit(path.join(cur, node.name), level + 1);
    }
  };
  await visit(dir, 1);
  return { path: sb.display(dir), entries, truncated };
}

export async function fileTree(sb: Sandbox, userPath = '.', depth = 3, limit = DEFAULT_LIMIT): Promise<{ tree: TreeNode; truncated: boolean }> {
  const lim = limits({ depth, limit }, 3);
  const dir = await openDir(sb, userPath);
  let count = 0;
  let truncated = false;
  const build = async (cur: string, level: number): Promise<TreeNode[]> => {
    const out: TreeNode[] = [];
    for (const node of await children(sb, cur, userPath)) {
      if (count >= lim.limit) {
        truncated = true;
        break;
      }
      count++;
      if (node.type === 'directory' && level < lim.depth) node.children = await build(path.join(cur, node.name), level + 1);
      out.push(node);
    }
    return out;
  };
  const tree: TreeNode = { name: path.basename(dir), path: sb.display(dir), type: 'directory', children: await build(dir, 1) };
  return { tree, truncated };
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

/** Visible entries of one directory, sorted by name. */
async function children(sb: Sandbox, dir: string, userPath: string): Promise<TreeNode[]> {
  // readdir() follows symlinks: re-check that the directory is still the real one found by lstat.
  if ((await realpath(dir).catch(() => undefined)) !== dir) throw changed(userPath);
  const names = (await readdir(dir)).sort();
  const out: TreeNode[] = [];
  for (const name of names) {
    const abs = path.join(dir, name);
    if (sb.deniedBy(abs) || sb.protectedBy(abs)) continue;
    const st = await lstat(abs).catch(() => undefined);
    if (!st) continue; // removed meanwhile
    const type = entryType(st);
    out.push({ name, path: sb.display(abs), type, ...(type === 'file' ? { size: st.size } : {}) });
  }
  return out;
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
