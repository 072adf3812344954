/**
 * edit_file: replace one exact, unique occurrence of `old` with `new`. Uniqueness counts
 * overlapping occurrences too ("aa" occurs twice in "aaa"), so the edit never lands on a spot
 * the caller did not mean. The result carries a unified diff; a dry run only computes it.
 */
import type { Sandbox } from './fs-contain.js';
import { SandboxError, shown } from './fs-errors.js';
import { writeAtomic } from './fs-atomic.js';
import { unifiedDiff } from './fs-diff.js';
import { readWhole } from './fs-read.js';
import { changed } from './fs-handle.js';
import { TextFinder } from '../../util/find-text.js';

export interface EditRequest {
  path: string;
  old: string;
  new: string;
  dryRun?: boolean;
  backup?: boolean | 'timestamp';
}

export interface EditResult {
  path: string;
  diff: string;
  applied: boolean;
  /** 1-based line where the replaced text started. */
  line: number;
  backup?: string;
}

export async function editFile(sb: Sandbox, req: EditRequest): Promise<EditResult> {
  if (typeof req.old !== 'string' || req.old === '') throw new SandboxError('INVALID_ARGUMENT', '"old" must be a non-empty string');
  if (typeof req.new !== 'string') throw new SandboxError('INVALID_ARGUMENT', '"new" must be a string');
  const { abs, text } = await readWhole(sb, req.path, sb.maxReadBytes);
  // Linear in the file whatever `old` is: a long `old` that almost matches everywhere made
  // the native search (and counting overlaps with it) quadratic, on the event loop.
  const finder = new TextFinder(req.old);
  const at = finder.indexOf(text);
  const count = at === -1 ? 0 : finder.count(text);
  if (count === 0) {
    throw new SandboxError('NO_MATCH', `the text to replace occurs 0 times in ${shown(req.path)}; it must occur exactly once`, req.path);
  }
  if (count > 1) {
    throw new SandboxError(
      'AMBIGUOUS_MATCH',
      `the text to replace occurs ${count} times in ${shown(req.path)}; it must occur exactly once (include more surrounding text)`,
      req.path,
    );
  }
  const updated = text.slice(0, at) + req.new + text.slice(at + req.old.length);
  const name = sb.display(abs);
  const diff = unifiedDiff(text, updated, { fromFile: `a/${name}`, toFile: `b/${name}` });
  const line = text.slice(0, at).split('\n').length;
  if (req.dryRun) return { path: name, diff, applied: false, line };
  // Another writer may have changed the file since it was read: do not overwrite their change.
  if ((await readWhole(sb, req.path, sb.maxReadBytes)).text !== text) throw changed(req.path);
  const written = await writeAtomic(sb, req.path, updated, { backup: req.backup });
  return { path: name, diff, applied: true, line, ...(written.backup ? { backup: written.backup } : {}) };
}
