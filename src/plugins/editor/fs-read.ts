/** Reading text and describing files, through the sandbox and a verified descriptor. */
import { lstat } from 'node:fs/promises';
import type { Sandbox } from './fs-contain.js';
import { SandboxError, shown } from './fs-errors.js';
import { openForRead, readCapped } from './fs-handle.js';

export interface ReadOptions {
  /** 1-based, inclusive; the end is clamped to the last line. */
  lines?: [number, number];
}

export interface ReadResult {
  path: string;
  content: string;
  /** Size of the whole file in bytes. */
  size: number;
  totalLines: number;
  /** The lines actually returned, when a range was asked for. */
  range?: [number, number];
}

export type EntryType = 'file' | 'directory' | 'symlink' | 'other';

export interface FileStats {
  path: string;
  type: EntryType;
  size: number;
  /** Permission bits in octal, e.g. "0644". */
  mode: string;
  modified: string;
  created: string;
}

/** NUL in the first 8 KiB is how git and grep tell binary files apart; invalid UTF-8 counts too. */
const SNIFF_BYTES = 8192;

export async function readText(sb: Sandbox, userPath: string, opts: ReadOptions = {}): Promise<ReadResult> {
  const range = opts.lines === undefined ? undefined : checkRange(opts.lines);
  const { abs, text, size } = await readWhole(sb, userPath, sb.maxReadBytes);
  const lines = splitLines(text);
  if (!range) return { path: sb.display(abs), content: text, size, totalLines: lines.length };
  const [start, end] = range;
  if (start > lines.length) {
    throw new SandboxError('INVALID_ARGUMENT', `line ${start} is past the end of ${shown(userPath)}, which has ${lines.length} lines`, userPath);
  }
  const last = Math.min(end, lines.length);
  return { path: sb.display(abs), content: lines.slice(start - 1, last).join(''), size, totalLines: lines.length, range: [start, last] };
}

/** Resolve, open with the TOCTOU checks, read under `limit` and decode as UTF-8 text. */
export async function readWhole(sb: Sandbox, userPath: string, limit: number): Promise<{ abs: string; text: string; size: number }> {
  const r = await sb.resolve(userPath, 'read');
  const fh = await openForRead(sb, r.abs, userPath);
  try {
    const st = await fh.stat();
    if (st.size > limit) {
      throw new SandboxError('TOO_LARGE', `file ${shown(userPath)} is ${st.size} bytes; the read limit is ${limit}`, userPath);
    }
    const buf = await readCapped(fh, limit, userPath);
    return { abs: r.abs, text: decodeText(buf, userPath), size: buf.length };
  } finally {
    await fh.close();
  }
}

export function decodeText(buf: Buffer, userPath: string): string {
  if (buf.subarray(0, SNIFF_BYTES).includes(0)) {
    throw new SandboxError('BINARY_FILE', `file ${shown(userPath)} looks binary (contains NUL bytes)`, userPath);
  }
  try {
    // ignoreBOM keeps a byte-order mark in the text, so an edit writes it back unchanged.
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buf);
  } catch {
    throw new SandboxError('BINARY_FILE', `file ${shown(userPath)} is not valid UTF-8 text`, userPath);
  }
}

/** Lines with their terminators, so slices join back to the exact original text. */
export function splitLines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

export async function fileStats(sb: Sandbox, userPath: string): Promise<FileStats> {
  const r = await sb.resolve(userPath, 'list');
  // r.abs is a real path, so lstat describes the entry itself.
  const st = await lstat(r.abs);
  return {
    path: sb.display(r.abs),
    type: entryType(st),
    size: st.size,
    mode: (st.mode & 0o7777).toString(8).padStart(4, '0'),
    modified: st.mtime.toISOString(),
    created: st.birthtime.toISOString(),
  };
}

export function entryType(st: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): EntryType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  return 'other';
}

function checkRange(lines: unknown): [number, number] {
  if (!Array.isArray(lines) || lines.length !== 2 || !lines.every((n) => Number.isInteger(n))) {
    throw new SandboxError('INVALID_ARGUMENT', 'lines must be [start, end], two integers');
  }
  const [start, end] = lines as [number, number];
  if (start < 1 || end < start) throw new SandboxError('INVALID_ARGUMENT', `line range [${start}, ${end}] is invalid: lines start at 1 and end must not be before start`);
  return [start, end];
}
