/**
 * What an operation needs from a resolved repository: where it is, whether safe mode is
 * on, its remotes as judged, and a runner already bound to the repository's pinned git
 * directory, snapshot config, limits and environment.
 */
import type { RemoteVerdict } from './git-remote.js';
import type { GitResult } from './git-run.js';

export interface RunOptions {
  input?: string;
  acceptExit?: readonly number[];
  config?: Readonly<Record<string, string | readonly string[]>>;
  /** Raises the output cap for output the plugin reads itself (a listing), never an answer. */
  maxOutputBytes?: number;
}

export interface RepoContext {
  readonly toplevel: string;
  readonly safeMode: boolean;
  /** Every remote of the repository's config, and whether the plugin will use it. */
  readonly remotes: ReadonlyMap<string, RemoteVerdict>;
  /** Upstream settings naming no usable remote, left out of git's config (git-snapshot.ts). */
  readonly refusedUpstreams?: ReadonlyMap<string, string>;
  /** The deny pattern hiding a path (relative to the work tree, or absolute), or undefined. */
  readonly denied?: (path: string) => string | undefined;
  run(args: string[], opts?: RunOptions): Promise<GitResult>;
}
