/**
 * Parsers for git's machine-readable outputs. Each reads a NUL- or separator-delimited
 * format chosen so that paths and subjects with spaces or newlines cannot break fields.
 */
import { stripCredentials } from './git-url.js';

export interface FileChange {
  path: string;
  /** git's status letter: M, T, A, D, R, C or U. */
  code: string;
  origPath?: string;
}

export interface StatusResult {
  branch: string | null;
  detached: boolean;
  head: string | null;
  upstream: string | null;
  ahead: number;
  behind: number;
  staged: FileChange[];
  unstaged: FileChange[];
  untracked: string[];
  conflicted: string[];
  clean: boolean;
}

/** Parses `git status --porcelain=v2 --branch -z` (git-status(1), "Porcelain Format Version 2"). */
export function parseStatusV2(out: string): StatusResult {
  const r: StatusResult = {
    branch: null,
    detached: false,
    head: null,
    upstream: null,
    ahead: 0,
    behind: 0,
    staged: [],
    unstaged: [],
    untracked: [],
    conflicted: [],
    clean: true,
  };
  const fields = out.split('\0');
  for (let i = 0; i < fields.length; i++) {
    const line = fields[i];
    if (line === '') continue;
    if (line.startsWith('# ')) {
      const [key, ...rest] = line.slice(2).split(' ');
      const val = rest.join(' ');
      if (key === 'branch.oid') r.head = val === '(initial)' ? null : val;
      else if (key === 'branch.head') {
        r.detached = val === '(detached)';
        r.branch = r.detached ? null : val;
      } else if (key === 'branch.upstream') r.upstream = val;
      else if (key === 'branch.ab') {
        const m = /^\+(\d+) -(\d+)$/.exec(val);
        if (m) {
          r.ahead = Number(m[1]);
          r.behind = Number(m[2]);
        }
      }
      continue;
    }
    const kind = line[0];
    if (kind === '?') {
      r.untracked.push(line.slice(2));
      continue;
    }
    if (kind === '!') continue;
    // Fixed field counts before the path: 1 → 8, 2 → 9 (plus origPath as the next NUL
    // field), u → 10. The path is the remainder, spaces included.
    const before = kind === '1' ? 8 : kind === '2' ? 9 : kind === 'u' ? 10 : -1;
    if (before < 0) continue;
    const parts = line.split(' ');
    const xy = parts[1] ?? '..';
    const path = parts.slice(before).join(' ');
    if (kind === 'u') {
      r.conflicted.push(path);
      continue;
    }
    const origPath = kind === '2' ? fields[++i] : undefined;
    const entry = (code: string): FileChange => (origPath !== undefined ? { path, code, origPath } : { path, code });
    if (xy[0] !== '.') r.staged.push(entry(xy[0]));
    if (xy[1] !== '.') r.unstaged.push(entry(xy[1]));
  }
  r.clean = !r.staged.length && !r.unstaged.length && !r.untracked.length && !r.conflicted.length;
  return r;
}

export interface LogEntry {
  sha: string;
  author: string;
  email: string;
  date: string;
  subject: string;
}

/** The `--format` that parseLog reads: unit separator between fields, record separator after. */
export const LOG_FORMAT = '--format=%H%x1f%an%x1f%ae%x1f%aI%x1f%s%x1e';

export function parseLog(out: string): LogEntry[] {
  const entries: LogEntry[] = [];
  for (const rec of out.split('\x1e')) {
    const t = rec.replace(/^\n/, '');
    if (!t) continue;
    const [sha, author, email, date, subject] = t.split('\x1f');
    entries.push({ sha, author, email, date, subject: subject ?? '' });
  }
  return entries;
}

export interface RemoteEntry {
  name: string;
  fetchUrl: string | null;
  pushUrl: string | null;
  /** True when credentials were removed from one of the URLs. */
  credentialsStripped: boolean;
  /** Why the plugin will not use this remote (git-remote.ts); absent when it will. */
  rejected?: string;
}

/** Parses `git remote -v` ("name\turl (fetch|push)"), stripping credentials from URLs. */
export function parseRemotes(out: string): RemoteEntry[] {
  const byName = new Map<string, RemoteEntry>();
  for (const line of out.split('\n')) {
    const m = /^(\S+)\t(.*) \((fetch|push)\)$/.exec(line);
    if (!m) continue;
    const e = byName.get(m[1]) ?? { name: m[1], fetchUrl: null, pushUrl: null, credentialsStripped: false };
    const s = stripCredentials(m[2]);
    e.credentialsStripped ||= s.stripped;
    if (m[3] === 'fetch') e.fetchUrl = s.url;
    else e.pushUrl = s.url;
    byName.set(m[1], e);
  }
  return [...byName.values()];
}

export interface NumstatEntry {
  path: string;
  origPath?: string;
  insertions: number;
  deletions: number;
  binary: boolean;
}

/** Parses `git diff --numstat -z` (renames: "ins\tdel\t\0old\0new\0"). */
export function parseNumstat(out: string): NumstatEntry[] {
  const fields = out.split('\0');
  const entries: NumstatEntry[] = [];
  for (let i = 0; i < fields.length; i++) {
    const m = /^(-|\d+)\t(-|\d+)\t(.*)$/s.exec(fields[i]);
    if (!m) continue;
    const binary = m[1] === '-';
    const counts = { insertions: binary ? 0 : Number(m[1]), deletions: binary ? 0 : Number(m[2]), binary };
    if (m[3] === '') {
      const origPath = fields[++i];
      const path = fields[++i];
      entries.push({ path, origPath, ...counts });
    } else {
      entries.push({ path: m[3], ...counts });
    }
  }
  return entries;
}

/** Parses `git diff --name-status -z` into path → status letter (R100 → R). */
export function parseNameStatus(out: string): Map<string, string> {
  const fields = out.split('\0');
  const map = new Map<string, string>();
  for (let i = 0; i < fields.length; i++) {
    const code = fields[i];
    if (!/^[A-Z]\d*$/.test(code)) continue;
    if (code[0] === 'R' || code[0] === 'C') i++; // skip the source path
    const path = fields[++i];
    if (path !== undefined) map.set(path, code[0]);
  }
  return map;
}
