/**
 * The editor's filesystem operations, each one contained by a Sandbox. The editor plugin's
 * tools and resources call these; every path argument may be relative to the first root or
 * absolute inside any root, and every path in a result is given in that same form.
 */
import { Sandbox, type SandboxOptions } from './fs-contain.js';
import { createFile, writeAtomic, type WriteOptions, type WriteResult } from './fs-atomic.js';
import { deleteFile, move, type DeleteResult, type MoveOptions } from './fs-mutate.js';
import { editFile, type EditRequest, type EditResult } from './fs-edit.js';
import { fileTree, listDirectory, type Limits, type ListEntry, type TreeNode } from './fs-list.js';
import { fileStats, readText, type FileStats, type ReadOptions, type ReadResult } from './fs-read.js';
import { search, type SearchOptions, type SearchResult } from './fs-search.js';

export class FileOps {
  readonly sandbox: Sandbox;

  constructor(sandbox: Sandbox | SandboxOptions) {
    this.sandbox = sandbox instanceof Sandbox ? sandbox : new Sandbox(sandbox);
  }

  readText(path: string, opts?: ReadOptions): Promise<ReadResult> {
    return readText(this.sandbox, path, opts);
  }

  writeAtomic(path: string, content: string | Uint8Array, opts?: WriteOptions): Promise<WriteResult> {
    return writeAtomic(this.sandbox, path, content, opts);
  }

  createFile(path: string, content?: string | Uint8Array, opts?: { createDirs?: boolean }): Promise<WriteResult> {
    return createFile(this.sandbox, path, content, opts);
  }

  deleteFile(path: string, opts?: { recursive?: boolean; signal?: AbortSignal }): Promise<DeleteResult> {
    return deleteFile(this.sandbox, path, opts);
  }

  move(from: string, to: string, opts?: MoveOptions): Promise<{ from: string; to: string }> {
    return move(this.sandbox, from, to, opts);
  }

  listDirectory(path?: string, opts?: Limits): Promise<{ path: string; entries: ListEntry[]; truncated: boolean }> {
    return listDirectory(this.sandbox, path, opts);
  }

  search(opts: SearchOptions): Promise<SearchResult> {
    return search(this.sandbox, opts);
  }

  editFile(req: EditRequest): Promise<EditResult> {
    return editFile(this.sandbox, req);
  }

  fileTree(path?: string, depth?: number, limit?: number, opts?: Pick<Limits, 'maxMillis' | 'signal'>): Promise<{ tree: TreeNode; truncated: boolean }> {
    return fileTree(this.sandbox, path, depth, limit, opts);
  }

  fileStats(path: string): Promise<FileStats> {
    return fileStats(this.sandbox, path);
  }
}

export { DEFAULT_DENY, Sandbox, type Intent, type Resolved, type SandboxOptions } from './fs-contain.js';
export { SandboxError, type SandboxErrorCode } from './fs-errors.js';
export { renderTree } from './fs-list.js';
export { unifiedDiff } from './fs-diff.js';
export type {
  DeleteResult,
  EditRequest,
  EditResult,
  FileStats,
  Limits,
  ListEntry,
  MoveOptions,
  ReadOptions,
  ReadResult,
  SearchOptions,
  SearchResult,
  TreeNode,
  WriteOptions,
  WriteResult,
};
