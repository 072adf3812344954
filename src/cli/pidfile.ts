/**
 * The PID file of a running gateway and the state file beside it (`<pid file>.json`).
 *
 * Node has no flock(2): the lock is the file's exclusive creation. The PID file is written
 * under a temporary name and hard-linked into place — link(2) fails with EEXIST, so only one
 * process can create it, and nobody ever reads it half-written. A PID file whose process
 * is gone is stale and is replaced; so is one whose pid now belongs to another program
 * (on Linux the state file records the process's start time from /proc/<pid>/stat, which
 * tells a reused pid apart, as after a reboot).
 */
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export const PID_FILE_ENV = 'MCPEG_PID_FILE';

/** $MCPEG_PID_FILE, else ./mcpeg.pid (absolute). */
export const defaultPidFile = (env: NodeJS.ProcessEnv = process.env): string => resolve(env[PID_FILE_ENV] || 'mcpeg.pid');

export const stateFileOf = (pidFile: string): string => `${pidFile}.json`;

/** What a running gateway tells `status`, `restart`, `reload` and `log-rotate` about itself. */
export interface DaemonState {
  pid: number;
  version: string;
  startedAt: string;
  /** /proc/<pid>/stat starttime (Linux only). */
  procStart?: string;
  cwd: string;
  /** `mcpeg gateway` arguments (paths absolute), without --daemon: what `restart` runs again. */
  argv: string[];
  daemon: boolean;
  configFile?: string;
  logFile?: string;
  /** Set once the listener is up. */
  listening?: { url: string; base: string; host: string; port: number; adminUrl?: string };
  /** Counters let a CLI that sent a signal wait for its effect. */
  reloads: { count: number; at?: string; ok?: boolean; added?: string[]; removed?: string[]; changed?: string[]; restartRequired?: string[]; error?: string };
  logRotations: { count: number; at?: string; action?: 'rotated' | 'reopened' | 'none'; archive?: string; error?: string };
}

/** The pid in a PID file: undefined when there is no file, NaN when it holds no pid. */
export function readPid(file: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const t = text.trim();
  return /^\d+$/.test(t) && Number(t) > 0 ? Number(t) : NaN;
}

export function readState(pidFile: string): DaemonState | undefined {
  try {
    return JSON.parse(readFileSync(stateFileOf(pidFile), 'utf8')) as DaemonState;
  } catch {
    return undefined;
  }
}

/** Atomic: written to a temporary file, then renamed over the old one. Throws when it cannot be (nothing left behind). */
export function writeState(pidFile: string, state: DaemonState): void {
  const file = stateFileOf(pidFile);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeNew(tmp, `${JSON.stringify(state, null, 2)}\n`);
    renameSync(tmp, file);
  } catch (err) {
    // A part-written copy (a full disk) goes; a directory in its place (not ours) stays.
    try {
      rmSync(tmp, { force: true });
    } catch {
      /* not a file */
    }
    throw err;
  }
}

/**
 * Writes a temporary file of ours: what is at its name (left by a crash, or a symbolic link someone
 * planted there) is removed first, and the file is created, never opened through a link (O_EXCL).
 */
function writeNew(path: string, data: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    /* a directory: the exclusive create below fails on it */
  }
  writeFileSync(path, data, { flag: 'wx' });
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks after boot); undefined off Linux. */
export function procStartOf(pid: number): string | undefined {
  const f = procStat(pid);
  return f?.[19];
}

/** The fields of /proc/<pid>/stat after "(comm)": [0] is the state (R, S, Z, ...). */
function procStat(pid: number): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Whether a process exists (EPERM: it does, owned by someone else). A zombie counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return procStat(pid)?.[0] !== 'Z';
}

export type PidStatus = { kind: 'none' } | { kind: 'stale'; pid: number; reason: string } | { kind: 'running'; pid: number; state?: DaemonState };

/** Reads a PID file and says whether its process is running. */
export function inspectPidFile(file: string): PidStatus {
  const pid = readPid(file);
  if (pid === undefined) return { kind: 'none' };
  if (Number.isNaN(pid)) return { kind: 'stale', pid: 0, reason: 'it holds no pid' };
  if (!isAlive(pid)) return { kind: 'stale', pid, reason: `process ${pid} is not running` };
  const state = readState(file);
  const mine = state?.pid === pid ? state : undefined;
  const now = mine?.procStart !== undefined ? procStartOf(pid) : undefined;
  if (now !== undefined && now !== mine!.procStart) return { kind: 'stale', pid, reason: `pid ${pid} now belongs to another process` };
  return { kind: 'running', pid, state: mine };
}

export type AcquireResult = { ok: true; replaced?: { pid: number; reason: string } } | { ok: false; pid: number };

/**
 * Creates the PID file for `pid`, or reports the live process that holds it. A stale file
 * is moved aside before it is replaced, and put back if, in between, another starter had
 * replaced it first, so two starters racing over a stale file cannot both win.
 */
export function acquirePidFile(file: string, pid: number = process.pid): AcquireResult {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${pid}.tmp`;
  writeNew(tmp, `${pid}\n`);
  let replaced: { pid: number; reason: string } | undefined;
  try {
    for (let attempt = 0; attempt < 10; attempt++) {
      if (createExclusive(tmp, file, pid)) return { ok: true, ...(replaced ? { replaced } : {}) };
      const s = inspectPidFile(file);
      if (s.kind === 'running') return s.pid === pid ? { ok: true } : { ok: false, pid: s.pid };
      if (s.kind === 'none') continue;
      const aside = `${file}.${pid}.stale`;
      try {
        renameSync(file, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      const moved = readPid(aside);
      if (moved !== s.pid && !(Number.isNaN(moved) && s.pid === 0)) {
        // Someone took the lock between our read and the rename: give it back.
        try {
          linkSync(aside, file);
        } catch {
          /* a third starter got there; the next round sees it */
        }
        rmSync(aside, { force: true });
        continue;
      }
      rmSync(aside, { force: true });
      if (readState(file)?.pid === s.pid) rmSync(stateFileOf(file), { force: true });
      replaced = { pid: s.pid, reason: s.reason };
    }
    throw new Error(`cannot create the pid file ${file}: it keeps changing under us`);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** link(2) where the file system has it, else O_CREAT|O_EXCL; false when the file exists. */
function createExclusive(tmp: string, file: string, pid: number): boolean {
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
  }
  let fd: number;
  try {
    fd = openSync(file, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  writeSync(fd, `${pid}\n`);
  closeSync(fd);
  return true;
}

/** Removes the PID file and the state file if they are still `pid`'s (synchronous: runs on 'exit'). */
export function releasePidFile(file: string, pid: number = process.pid): void {
  try {
    if (readState(file)?.pid === pid) rmSync(stateFileOf(file), { force: true });
    if (readPid(file) === pid) rmSync(file, { force: true });
  } catch {
    /* nothing more to do while exiting */
  }
}

/** Removes a stale PID file (and its state file) found by inspectPidFile. */
export function removeStale(file: string, pid: number): void {
  if (readState(file)?.pid === pid) rmSync(stateFileOf(file), { force: true });
  const now = readPid(file);
  if (now === pid || (Number.isNaN(now) && pid === 0)) rmSync(file, { force: true });
}
