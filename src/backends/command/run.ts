/**
 * Runs one program for the command backend: an argument vector (never a shell), the exact
 * environment the caller built, a timeout, client cancellation and an output cap. The
 * program leads its own process group so that everything it starts can be killed with it.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import type { Readable } from 'node:stream';

export interface RunSpec {
  /** Absolute path, or a bare name looked up on `env.PATH`. */
  file: string;
  /** Passed literally (no shell). */
  argv: string[];
  /** Written then closed; when absent the program's stdin is /dev/null. */
  stdin?: string | Buffer;
  /** The complete child environment; process.env is not merged in. */
  env: Record<string, string>;
  cwd: string;
  timeoutMs: number;
  /** Cap for stdout and (separately) stderr. */
  maxOutputBytes: number;
  /** Client cancellation: kills the process tree like a timeout. */
  signal?: AbortSignal;
  /** SIGTERM → wait this long → SIGKILL (default 1000). */
  killGraceMs?: number;
}

export interface RunResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  stdoutBytes: number;
  stderrBytes: number;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  timedOut: boolean;
  aborted: boolean;
  durationMs: number;
}

export class ProgramNotFoundError extends Error {
  override readonly name = 'ProgramNotFoundError';
  constructor(
    readonly file: string,
    detail = 'not found or not executable',
  ) {
    super(`program ${JSON.stringify(file)}: ${detail}`);
  }
}

export const TRUNCATION_MARKER = (cap: number, total: number): string => `\n[output truncated: ${total} bytes, showing the first ${cap}]`;

/** After the program exits, how long its pipes may stay open (held by a background child). */
const DRAIN_MS = 100;

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

export function resolveExecutable(file: string, pathEnv: string | undefined): string {
  if (file === '' || file.includes('\0')) throw new ProgramNotFoundError(file, 'invalid program name');
  if (file.includes('/')) {
    // A relative path would be resolved against whatever cwd the check and the exec see.
    if (!isAbsolute(file)) throw new ProgramNotFoundError(file, 'must be an absolute path or a bare name');
    if (isExecutableFile(file)) return file;
    throw new ProgramNotFoundError(file);
  }
  for (const dir of (pathEnv ?? '').split(delimiter)) {
    // Empty and relative entries mean "the current directory" to execvp; never search there.
    if (!isAbsolute(dir)) continue;
    const candidate = join(dir, file);
    if (isExecutableFile(candidate)) return candidate;
  }
  throw new ProgramNotFoundError(file, 'not found on PATH');
}

/** Keeps the first `cap` bytes of a stream and counts the rest. */
class Capture {
  private chunks: Buffer[] = [];
  private kept = 0;
  total = 0;
  constructor(private readonly cap: number) {}
  push(chunk: Buffer): void {
    this.total += chunk.length;
    const room = this.cap - this.kept;
    if (room <= 0) return;
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(part);
    this.kept += part.length;
  }
  get truncated(): boolean {
    return this.total > this.cap;
  }
  text(): string {
    let buf = Buffer.concat(this.chunks);
    if (this.truncated) buf = buf.subarray(0, utf8Boundary(buf));
    const s = buf.toString('utf8');
    return this.truncated ? s + TRUNCATION_MARKER(this.cap, this.total) : s;
  }
}

/** Length of `buf` without a trailing incomplete UTF-8 sequence (the cut went through it). */
function utf8Boundary(buf: Buffer): number {
  let i = buf.length - 1;
  while (i >= 0 && buf.length - i < 4 && (buf[i]! & 0xc0) === 0x80) i--; // continuation bytes
  if (i < 0) return buf.length;
  const lead = buf[i]!;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return i + need > buf.length ? i : buf.length;
}

/** Signals the program's whole process group. ESRCH means everyone is gone; EPERM could
 * only mean the id now names someone else's group. Neither may throw from a timer. */
function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // nothing left of ours to signal
  }
}

export async function runProgram(spec: RunSpec): Promise<RunResult> {
  const file = resolveExecutable(spec.file, spec.env.PATH);
  const started = performance.now();
  const out = new Capture(spec.maxOutputBytes);
  const err = new Capture(spec.maxOutputBytes);
  const result = (exitCode: number | null, signal: NodeJS.Signals | null, timedOut: boolean, aborted: boolean): RunResult => ({
    exitCode,
    signal,
    timedOut,
    aborted,
    stdout: out.text(),
    stderr: err.text(),
    stdoutBytes: out.total,
    stderrBytes: err.total,
    stdoutTruncated: out.truncated,
    stderrTruncated: err.truncated,
    durationMs: Math.round(performance.now() - started),
  });
  // Cancelled before it started: do not run the program at all.
  if (spec.signal?.aborted) return result(null, null, false, true);

  return new Promise<RunResult>((resolve, reject) => {
    // detached: the child calls setsid(), so it leads a new session and process group
    // (pgid = its pid). kill(-pid) then reaches every descendant that did not leave the
    // group itself, and the program cannot reach our controlling terminal.
    const child = spawn(file, spec.argv, {
      shell: false,
      detached: true,
      cwd: spec.cwd,
      env: spec.env,
      stdio: [spec.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      windowsHide: true,
    });
    const pid = child.pid;
    const pipes = [child.stdout, child.stderr].filter((p): p is Readable => p !== null);
    let settled = false;
    let timedOut = false;
    let aborted = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let openPipes = pipes.length;
    const timers: NodeJS.Timeout[] = [];

    const finish = (): void => {
      if (settled || !exit) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      spec.signal?.removeEventListener('abort', onAbort);
      // Anything still in the group (background jobs) would outlive the call: kill it. A
      // pgid stays reserved while a member lives; if the group is already empty, its id
      // could only be reused after the kernel's pid counter wrapped within these few ms.
      if (pid !== undefined) killGroup(pid, 'SIGKILL');
      for (const p of pipes) p.destroy();
      resolve(result(exit.code, exit.signal, timedOut, aborted));
    };
    const terminate = (why: 'timeout' | 'abort'): void => {
      if (settled || pid === undefined || timedOut || aborted) return;
      if (why === 'timeout') timedOut = true;
      else aborted = true;
      killGroup(pid, 'SIGTERM');
      timers.push(
        setTimeout(() => {
          killGroup(pid, 'SIGKILL');
          // A grandchild in another group could still hold the pipes; stop waiting for them.
          for (const p of pipes) p.destroy();
        }, spec.killGraceMs ?? 1000),
      );
    };
    const onAbort = (): void => terminate('abort');

    child.on('error', (e: NodeJS.ErrnoException) => {
      if (settled || pid !== undefined) return; // only spawn failures end the run here
      settled = true;
      spec.signal?.removeEventListener('abort', onAbort);
      // A missing cwd also surfaces as ENOENT from spawn; do not blame the program for it.
      let cwdOk = false;
      try {
        cwdOk = statSync(spec.cwd).isDirectory();
      } catch {
        /* missing */
      }
      if (!cwdOk) reject(new Error(`working directory ${JSON.stringify(spec.cwd)} does not exist`));
      else if (e.code === 'ENOENT' || e.code === 'EACCES') reject(new ProgramNotFoundError(spec.file, e.code));
      else reject(e);
    });
    if (pid === undefined) return; // the 'error' event follows

    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr?.on('data', (c: Buffer) => err.push(c));
    for (const p of pipes) {
      p.on('close', () => {
        if (--openPipes === 0) finish();
      });
    }
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      if (openPipes === 0) finish();
      else timers.push(setTimeout(finish, DRAIN_MS)); // a background child holds the pipes
    });
    // setTimeout treats delays above 2^31-1 ms as 1 ms.
    timers.push(setTimeout(() => terminate('timeout'), Math.min(spec.timeoutMs, 2 ** 31 - 1)));
    spec.signal?.addEventListener('abort', onAbort, { once: true });
    if (child.stdin) {
      child.stdin.on('error', () => {}); // EPIPE: the program exited without reading
      child.stdin.end(spec.stdin);
    }
  });
}
