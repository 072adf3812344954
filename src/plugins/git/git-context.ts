/**
 * What an operation needs from a resolved repository: where it is, whether safe mode is
 * on, and a runner already bound to the repository's cwd, limits and environment.
 */
import type { GitResult } from './git-run.js';

export interface RunOptions {
  input?: string;
  acceptExit?: readonly number[];
  config?: Readonly<Record<string, string>>;
}

export interface RepoContext {
  readonly toplevel: string;
  readonly safeMode: boolean;
  run(args: string[], opts?: RunOptions): Promise<GitResult>;
}
