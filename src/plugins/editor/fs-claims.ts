/**
 * The paths the editor's writes, moves and deletes are working on, so that they do not run
 * through each other. Moving or deleting a directory checks every entry under it first
 * (fs-mutate.ts), over many event-loop turns (up to 10 s since review 27a), then renames or
 * removes it: a file written into the directory after the check had read that directory
 * was moved along unchecked. Moving `evil/` (of many long-named files) to `tools/` and
 * writing `evil/run.js` meanwhile created `tools/run.js`, the protected script the gateway
 * runs (review 28ab). Now a directory's move or delete holds its tree, a write or a file's
 * move holds its path, and a call whose path is inside a held tree (or holds a tree
 * around a held path) is refused with PATH_CHANGED at once; it may be tried again.
 */
import path from 'node:path';
import { SandboxError, shown } from './fs-errors.js';

interface Claim {
  abs: string;
  /** The whole tree under `abs` (a directory moved or deleted), not only the name. */
  tree: boolean;
}

export class PathClaims {
  private readonly held = new Set<Claim>();

  /**
   * Holds `abs` (with its tree when `tree`) until the returned release is called; throws
   * PATH_CHANGED when it overlaps a held tree, or is a tree overlapping any held path.
   */
  claim(abs: string, tree: boolean, userPath: string): () => void {
    for (const c of this.held) {
      if ((c.tree || tree) && (within(c.abs, abs) || within(abs, c.abs))) {
        throw new SandboxError('PATH_CHANGED', `path ${shown(userPath)} is being moved, deleted or written by another call; try again`, userPath);
      }
    }
    const c = { abs, tree };
    this.held.add(c);
    return () => {
      this.held.delete(c);
    };
  }
}

function within(base: string, p: string): boolean {
  return p === base || p.startsWith(base.endsWith(path.sep) ? base : base + path.sep);
}
