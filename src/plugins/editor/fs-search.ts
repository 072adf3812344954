/**
 * Text search over the files under a contained path. JavaScript regular expressions can
 * backtrack exponentially and the editor runs inside the gateway's event loop, so patterns
 * are bounded (length, nested quantifiers refused) and only the first MAX_LINE_SCAN
 * characters of a line are scanned. Symlinks are skipped rather than followed: a bulk scan
 * must not wander out of the roots, and each file is still opened with the TOCTOU checks.
 */
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Sandbox } from './fs-contain.js';
import { SandboxError } from './fs-errors.js';
import { globToRegExp } from './fs-glob.js';
import { openForRead, readCapped } from './fs-handle.js';
import { decodeText } from './fs-read.js';

export interface SearchOptions {
  pattern: string;
  /** Treat `pattern` as a JavaScript regular expression; otherwise it is literal text. */
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

export const MAX_REGEX_CHARS = 500;
export const MAX_LINE_SCAN = 2000;
const MAX_SHOWN_LINE = 300;
// A quantified group that itself contains a quantifier, e.g. (a+)+ or (\w*x)*: the classic ReDoS shape.
const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)(?:[+*]|\{\d+,\d*\})/;

export async function search(sb: Sandbox, opts: SearchOptions): Promise<SearchResult> {
  const re = compile(opts);
  const fileRe = opts.filePattern === undefined ? undefined : compileGlob(opts.filePattern);
  const maxMatches = positive(opts.maxMatches, 100, 'maxMatches');
  const maxFileBytes = Math.min(positive(opts.maxFileBytes, sb.maxReadBytes, 'maxFileBytes'), sb.maxReadBytes);
  const maxFiles = positive(opts.maxFiles, 5000, 'maxFiles');
  const base = await sb.resolve(opts.path ?? '.', 'list');
  const res: SearchResult = {
    files: [], matches: [], totalMatches: 0, truncated: false, filesScanned: 0, filesTruncated: false,
    skipped: { tooLarge: 0, binary: 0, unreadable: 0 },
  };

  const scanFile = async (abs: string, size: number): Promise<void> => {
    const shown = sb.display(abs);
    if (fileRe && !fileRe.test(opts.filePattern?.includes('/') ? (sb.locate(abs)?.rel ?? '') : path.basename(abs))) return;
    if (res.filesScanned >= maxFiles) {
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
    const count = scanText(text, re, (line, column, lineText) => {
      if (res.matches.length < maxMatches) res.matches.push({ path: shown, line, column, text: lineText.slice(0, MAX_SHOWN_LINE) });
    });
    if (count > 0) res.files.push({ path: shown, matches: count });
    res.totalMatches += count;
  };

  const walk = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir).catch(() => [] as string[])).sort()) {
      if (res.filesTruncated) return;
      const abs = path.join(dir, name);
      if (sb.deniedBy(abs)) continue;
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

/** Count matches line by line, reporting each with its 1-based line and column. */
export function scanText(text: string, re: RegExp, onMatch: (line: number, column: number, lineText: string) => void): number {
  let count = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const full = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
    if (full === '' && i === lines.length - 1) break; // the empty "line" after a final newline
    const scanned = full.length > MAX_LINE_SCAN ? full.slice(0, MAX_LINE_SCAN) : full;
    re.lastIndex = 0;
    for (const m of scanned.matchAll(re)) {
      count++;
      onMatch(i + 1, (m.index ?? 0) + 1, full);
    }
  }
  return count;
}

export function compile(opts: { pattern: string; regex?: boolean; ignoreCase?: boolean }): RegExp {
  const { pattern } = opts;
  if (typeof pattern !== 'string' || pattern === '') throw new SandboxError('INVALID_ARGUMENT', 'pattern must be a non-empty string');
  const flags = opts.ignoreCase ? 'gi' : 'g';
  if (!opts.regex) return new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), flags);
  if (pattern.length > MAX_REGEX_CHARS) {
    throw new SandboxError('INVALID_ARGUMENT', `regular expression is ${pattern.length} characters; the limit is ${MAX_REGEX_CHARS}`);
  }
  if (NESTED_QUANTIFIER.test(pattern)) {
    throw new SandboxError('INVALID_ARGUMENT', 'regular expression has a repeated group containing a repetition (like "(a+)+"), which can take exponential time; simplify it');
  }
  try {
    return new RegExp(pattern, flags);
  } catch (err) {
    throw new SandboxError('INVALID_ARGUMENT', `invalid regular expression: ${(err as Error).message}`);
  }
}

function compileGlob(glob: string): RegExp {
  try {
    return globToRegExp(glob.replace(/^\/+/, ''));
  } catch (err) {
    throw new SandboxError('INVALID_ARGUMENT', `invalid filePattern: ${(err as Error).message}`);
  }
}

function positive(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 1) throw new SandboxError('INVALID_ARGUMENT', `${name} must be a positive integer`);
  return v;
}
