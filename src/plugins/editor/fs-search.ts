/**
 * Text search over the files under a contained path. The editor runs inside the gateway's
 * event loop, so the work is bounded and shared: patterns and globs run in linear time on
 * RE2 (fs-regex.ts, util/glob.ts), only the first MAX_LINE_SCAN characters of a line are
 * scanned, the scan yields to other requests every SLICE_MS, and a search stops after
 * maxMillis (`filesTruncated` then says the walk stopped early). Symlinks are skipped rather
 * than followed: a bulk scan must not wander out of the roots, and each file is still opened
 * with the TOCTOU checks.
 */
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Sandbox } from './fs-contain.js';
import { SandboxError } from './fs-errors.js';
import { compileGlob } from '../../util/glob.js';
import { openForRead, readCapped } from './fs-handle.js';
import { decodeText } from './fs-read.js';
import { compilePattern, type LineMatcher } from './fs-regex.js';

export interface SearchOptions {
  pattern: string;
  /** Treat `pattern` as a regular expression in RE2 syntax; otherwise it is literal text. */
  regex?: boolean;
  ignoreCase?: boolean;
  /** File or directory to search; defaults to the first root. */
  path?: string;
  /** Glob on the file name (no "/") or on the root-relative path (with "/"). */
  filePattern?: string;
  /** How many matches to return; counting goes on past it and sets `truncated`. */
  maxMatches?: number;
  /** Larger files are skipped (and counted in `skipped.tooLarge`). */
  maxFileBytes?: number;
  /** How many files to scan at most; `filesTruncated` says the walk stopped early. */
  maxFiles?: number;
  /** How long the search may take in all; past it the walk stops and sets `filesTruncated`. */
  maxMillis?: number;
  /** The call's signal: once aborted (the client cancelled, or the call timed out) the walk stops. */
  signal?: AbortSignal;
}

export interface SearchMatch {
  path: string;
  line: number;
  column: number;
  text: string;
}

export interface SearchResult {
  files: { path: string; matches: number }[];
  matches: SearchMatch[];
  totalMatches: number;
  truncated: boolean;
  filesScanned: number;
  filesTruncated: boolean;
  skipped: { tooLarge: number; binary: number; unreadable: number };
}

export const MAX_LINE_SCAN = 2000;
const MAX_SHOWN_LINE = 300;
/** Longest stretch of scanning before other requests get their turn. */
const SLICE_MS = 10;
/** How long a walk (a search, a listing) may take in all. */
export const DEFAULT_MAX_MILLIS = 10_000;

export async function search(sb: Sandbox, opts: SearchOptions): Promise<SearchResult> {
  const matcher = compilePattern(opts);
  const fileMatch = opts.filePattern === undefined ? undefined : compileFilePattern(opts.filePattern);
  const maxMatches = positive(opts.maxMatches, 100, 'maxMatches');
  const maxFileBytes = Math.min(positive(opts.maxFileBytes, sb.maxReadBytes, 'maxFileBytes'), sb.maxReadBytes);
  const maxFiles = positive(opts.maxFiles, 5000, 'maxFiles');
  const pacer = new Pacer(positive(opts.maxMillis, DEFAULT_MAX_MILLIS, 'maxMillis'), opts.signal);
  const base = await sb.resolve(opts.path ?? '.', 'list');
  const res: SearchResult = {
    files: [],
    matches: [],
    totalMatches: 0,
    truncated: false,
    filesScanned: 0,
    filesTruncated: false,
    skipped: { tooLarge: 0, binary: 0, unreadable: 0 },
  };

  const scanFile = async (abs: string, size: number): Promise<void> => {
    const shown = sb.display(abs);
    if (fileMatch && !fileMatch(opts.filePattern?.includes('/') ? (sb.locate(abs)?.rel ?? '') : path.basename(abs))) return;
    if (res.filesScanned >= maxFiles || pacer.expired()) {
      res.filesTruncated = true;
      return;
    }
    res.filesScanned++;
    if (size > maxFileBytes) {
      res.skipped.tooLarge++;
      return;
    }
    let text: string;
    try {
      const fh = await openForRead(sb, abs, shown);
      try {
        text = decodeText(await readCapped(fh, maxFileBytes, shown), shown);
      } finally {
        await fh.close();
      }
    } catch (err) {
      if (err instanceof SandboxError && err.code === 'BINARY_FILE') res.skipped.binary++;
      else if (err instanceof SandboxError && err.code === 'TOO_LARGE') res.skipped.tooLarge++;
      else res.skipped.unreadable++;
      return;
    }
    const count = await scanText(text, matcher, pacer, (line, column, lineText) => {
      if (res.matches.length < maxMatches) res.matches.push({ path: shown, line, column, text: lineText.slice(0, MAX_SHOWN_LINE) });
    });
    if (pacer.expired()) res.filesTruncated = true;
    if (count > 0) res.files.push({ path: shown, matches: count });
    res.totalMatches += count;
  };

  const walk = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir).catch(() => [] as string[])).sort()) {
      if (pacer.expired()) res.filesTruncated = true;
      if (res.filesTruncated) return;
      const abs = path.join(dir, name);
      if (sb.deniedBy(abs) || sb.protectedBy(abs)) continue;
      const st = await lstat(abs).catch(() => undefined);
      if (st?.isDirectory()) await walk(abs);
      else if (st?.isFile()) await scanFile(abs, st.size);
    }
  };

  const st = await lstat(base.abs);
  if (st.isDirectory()) await walk(base.abs);
  else if (st.isFile()) await scanFile(base.abs, st.size);
  else throw new SandboxError('NOT_A_REGULAR_FILE', `path ${JSON.stringify(opts.path)} is not a file or directory`, opts.path);
  res.truncated = res.totalMatches > res.matches.length;
  return res;
}

/**
 * Count matches line by line, reporting each with its 1-based line and column (in UTF-16 code
 * units, as JavaScript strings and LSP count). Stops early when the pacer's time is up.
 */
export async function scanText(text: string, matcher: LineMatcher, pacer: Pacer, onMatch: (line: number, column: number, lineText: string) => void): Promise<number> {
  let count = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const full = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
    if (full === '' && i === lines.length - 1) break; // the empty "line" after a final newline
    const scanned = full.length > MAX_LINE_SCAN ? full.slice(0, MAX_LINE_SCAN) : full;
    for (const index of matcher(scanned)) {
      count++;
      onMatch(i + 1, index + 1, full);
    }
    if (pacer.due()) {
      await pacer.pause();
      if (pacer.expired()) break;
    }
  }
  return count;
}

/**
 * Shares the event loop: says when a slice is used up, and when the whole budget is. An
 * aborted `signal` (the call cancelled or timed out) uses the budget up at once: nobody reads
 * the answer, and a client cancelling in a loop would otherwise run any number of walks at
 * once past `max_inflight_per_session` (review 27a).
 */
export class Pacer {
  private readonly deadline: number;
  private sliceEnd: number;

  constructor(
    budgetMs: number,
    private readonly signal?: AbortSignal,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.deadline = now() + budgetMs;
    this.sliceEnd = now() + SLICE_MS;
  }

  due(): boolean {
    return this.now() >= this.sliceEnd;
  }

  expired(): boolean {
    return this.signal?.aborted === true || this.now() >= this.deadline;
  }

  /** Lets pending I/O and timers run (setImmediate runs after them), then starts a new slice. */
  async pause(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.sliceEnd = this.now() + SLICE_MS;
  }
}

function compileFilePattern(glob: string): (text: string) => boolean {
  try {
    return compileGlob(glob.replace(/^\/+/, ''));
  } catch (err) {
    throw new SandboxError('INVALID_ARGUMENT', `invalid file_pattern: ${(err as Error).message}`);
  }
}

function positive(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 1) throw new SandboxError('INVALID_ARGUMENT', `${name} must be a positive integer`);
  return v;
}
