/**
 * The processes under test: start them, wait until they are ready, read their CPU time
 * and RSS from /proc (proc(5)), and stop them and whatever they spawned, by pid.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
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

export async function startProc(name: string, cmd: string, args: string[], opts: StartOptions): Promise<{ proc: Proc; match: string | undefined }> {
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  let onLine: ((line: string) => void) | undefined;
  const feed = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    tail = (tail + text).slice(-4000);
    if (!onLine) return;
    for (const line of text.split('\n')) (onLine as ((l: string) => void) | undefined)?.(line);
  };
  child.stdout!.on('data', feed);
  child.stderr!.on('data', feed);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopping: Promise<void> | undefined;
  const proc: Proc = {
    name,
    pid: child.pid!,
    child,
    output: () => tail,
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
  const match = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: not ready within ${opts.timeoutMs ?? 20_000} ms\n${tail}`)), opts.timeoutMs ?? 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name}: exited with ${code} before it was ready\n${tail}`));
    });
    const check = (line: string) => {
      const m = re.exec(line);
      if (m) {
        clearTimeout(timer);
        onLine = undefined;
        resolve(m[1] ?? m[0]);
      }
    };
    onLine = check;
    for (const line of tail.split('\n')) check(line);
  });
  return { proc, match };
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
