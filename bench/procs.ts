/**
 * The processes under test: start them, wait until they are ready, read their CPU time
 * and RSS from /proc (proc(5)), and stop them and whatever they spawned, by pid.
 *
 * Each process writes stdout and stderr to its own file (opened O_APPEND), as a
 * `mcpeg gateway 2>>mcpeg.log` or a service manager's log would take them: never a pipe
 * the bench drains, which would make the bench's own event loop pace the gateway's log
 * writes. Readiness is a line in that file.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, statSync, truncateSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** The file its stdout and stderr go to. */
  readonly logFile: string;
  /** Bytes written to the log file since start (truncations included). */
  logBytes(): number;
  /** Empties the log file when it has grown past `maxBytes` (the bench writes a lot of access log). */
  trimLog(maxBytes: number): void;
  /** The last lines the process wrote, for error messages. */
  output(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Resolve once a line of stdout or stderr matches; its first group is returned. */
  readyLine?: RegExp;
  timeoutMs?: number;
}

const live = new Set<Proc>();
let logDir: string | undefined;
let logSeq = 0;

/** Where the processes' log files go (run.ts: inside its temporary directory). */
export function setLogDir(dir: string): void {
  logDir = dir;
}

function tailOf(file: string, bytes = 4000): string {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    const n = Math.min(size, bytes);
    const buf = Buffer.alloc(n);
    readSync(fd, buf, 0, n, size - n);
    return buf.toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

const fileSize = (file: string) => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};

export async function startProc(name: string, cmd: string, args: string[], opts: StartOptions): Promise<{ proc: Proc; match: string | undefined }> {
  logDir ??= mkdtempSync(join(tmpdir(), 'mcpeg-bench-logs-'));
  const logFile = join(logDir, `${String(++logSeq).padStart(3, '0')}-${name.replace(/[^a-zA-Z0-9_-]+/g, '_')}.log`);
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd); // the child has its own copy
  }
  let trimmed = 0;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopping: Promise<void> | undefined;
  const proc: Proc = {
    name,
    pid: child.pid!,
    child,
    logFile,
    logBytes: () => trimmed + fileSize(logFile),
    trimLog(maxBytes) {
      const size = fileSize(logFile);
      if (size <= maxBytes) return;
      trimmed += size;
      truncateSync(logFile, 0); // the child appends (O_APPEND): its next line starts the file again
    },
    output: () => tailOf(logFile),
    // Idempotent, and the process stays in `live` until it is gone, so stopAll() waits for it.
    stop: () =>
      (stopping ??= (async () => {
        const kids = descendants(child.pid!);
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(t);
        }
        for (const pid of kids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
        live.delete(proc);
      })()),
  };
  live.add(proc);
  if (!opts.readyLine) return { proc, match: undefined };
  const re = opts.readyLine;
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  // Polls the log file for the ready line: the process may write it in pieces.
  let seen = 0;
  let partial = '';
  for (;;) {
    const size = fileSize(logFile);
    if (size > seen) {
      const text = readFileSync(logFile).subarray(seen, size).toString('utf8');
      seen = size;
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const m = re.exec(line);
        if (m) return { proc, match: m[1] ?? m[0] };
      }
    }
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name}: exited with ${child.exitCode ?? child.signalCode} before it was ready\n${proc.output()}`);
    if (Date.now() > deadline) throw new Error(`${name}: not ready within ${timeoutMs} ms\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Stops every process still running (on the way out, also after a failure). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

let clkTck: number | undefined;
function ticksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

function statFields(pid: number): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds of a process, all its threads (proc(5) fields 14 and 15). */
export function cpuSeconds(pid: number): number {
  const f = statFields(pid);
  if (!f) return 0;
  return (Number(f[11]) + Number(f[12])) / ticksPerSecond();
}

export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Every live process below `pid` (children, their children, ...). */
export function descendants(pid: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const f = statFields(Number(d));
    if (!f) continue;
    const ppid = Number(f[1]);
    const list = byParent.get(ppid) ?? [];
    list.push(Number(d));
    byParent.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    for (const c of byParent.get(queue.shift()!) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

export const sumCpu = (pids: number[]) => pids.reduce((a, p) => a + cpuSeconds(p), 0);
export const sumRss = (pids: number[]) => pids.reduce((a, p) => a + rssBytes(p), 0);

export interface MachineCpu {
  /**
   * CPU seconds spent busy in processes (user, nice, system) or taken by the hypervisor
   * (steal), all CPUs together. Interrupt time is left out: loopback TCP runs there, and
   * it would count the bench's own traffic as other work.
   */
  busy: number;
  /** All CPU seconds, idle, iowait and interrupts included. */
  total: number;
}

/** The machine's CPU time so far (proc(5), the "cpu" line of /proc/stat). */
export function machineCpu(): MachineCpu {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const busy = user + nice + system + (steal || 0);
    const t = ticksPerSecond();
    return { busy: busy / t, total: (busy + idle + (iowait || 0) + (irq || 0) + (softirq || 0)) / t };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

/** Share of the whole machine's CPU used between two samples (0 to 1). */
export function busyShare(a: MachineCpu, b: MachineCpu): number {
  const total = b.total - a.total;
  return total > 0 ? (b.busy - a.busy) / total : NaN;
}
