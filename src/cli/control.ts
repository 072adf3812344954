/**
 * What `stop`, `restart`, `status`, `reload` and `log-rotate` share: find the running
 * gateway from its pid file, signal it, and wait for the effect it records in its state
 * file (pidfile.ts).
 */
import { resolve } from 'node:path';
import { EXIT, tryParse } from './common.js';
import { defaultPidFile, inspectPidFile, readState, type DaemonState } from './pidfile.js';

export const PID_FILE_OPTION = { 'pid-file': { type: 'string' } } as const;
export const TIMEOUT_OPTION = { timeout: { type: 'string' } } as const;

export const pidFileOf = (values: Record<string, unknown>): string => (typeof values['pid-file'] === 'string' ? resolve(values['pid-file']) : defaultPidFile());

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `--timeout`: `10s`, `500ms`, `2m`, `1h`; a bare number is seconds. Undefined when invalid. */
export function timeoutOf(values: Record<string, unknown>, def: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(typeof values.timeout === 'string' ? values.timeout.trim() : def);
  return m ? Math.round(Number(m[1]) * UNITS[m[2] ?? 's']) : undefined;
}

export function badTimeout(values: Record<string, unknown>): number {
  process.stderr.write(`mcpeg: --timeout must be a duration such as 10s, 500ms or 2m, got "${String(values.timeout)}"\n`);
  return EXIT.USAGE;
}

/** The running gateway, or the exit code after saying why there is none: 4 no pid file, 5 stale. */
export function runningOrReport(pidFile: string): { pid: number; state?: DaemonState } | number {
  const s = inspectPidFile(pidFile);
  if (s.kind === 'none') {
    process.stderr.write(`mcpeg is not running (no pid file ${pidFile})\n`);
    return EXIT.NOT_RUNNING;
  }
  if (s.kind === 'stale') {
    process.stderr.write(`mcpeg is not running: stale pid file ${pidFile} (${s.reason})\n`);
    return EXIT.STALE_PID;
  }
  return s;
}

/** process.kill that reports instead of throwing: undefined when sent, else an exit code. */
export function sendSignal(pid: number, signal: NodeJS.Signals): number | undefined {
  try {
    process.kill(pid, signal);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') {
      process.stderr.write(`mcpeg is not running (pid ${pid} exited)\n`);
      return EXIT.NOT_RUNNING;
    }
    process.stderr.write(`mcpeg: cannot send ${signal} to pid ${pid}: ${code === 'EPERM' ? "not permitted (another user's process?)" : (err as Error).message}\n`);
    return EXIT.FAILURE;
  }
}

export async function waitUntil(done: () => boolean, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (done()) return true;
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Sends `signal` and waits until the counter the gateway keeps for it in the state file
 * moves on. Resolves with the new state, 'unconfirmed' when the gateway keeps no state
 * file (a foreground gateway without a pid file cannot be found anyway), 'timeout', or an
 * exit code when the signal could not be sent.
 */
export async function signalAndWait(
  pidFile: string,
  running: { pid: number; state?: DaemonState },
  signal: NodeJS.Signals,
  counter: (s: DaemonState) => number,
  timeoutMs: number,
): Promise<DaemonState | 'unconfirmed' | 'timeout' | number> {
  const before = running.state ? counter(running.state) : undefined;
  const failed = sendSignal(running.pid, signal);
  if (failed !== undefined) return failed;
  if (before === undefined) return 'unconfirmed';
  let now: DaemonState | undefined;
  const ok = await waitUntil(() => {
    now = readState(pidFile);
    return now !== undefined && now.pid === running.pid && counter(now) > before;
  }, timeoutMs);
  return ok ? now! : 'timeout';
}

/**
 * The shape of `reload` and `log-rotate`: parse --pid-file/--timeout, find the gateway,
 * signal it and wait for the outcome it records. Returns its state once the outcome is
 * recorded, or the exit code to end with (usage, not running, unconfirmed, no answer).
 */
export async function signalVerb(argv: string[], usage: string, signal: NodeJS.Signals, counter: (s: DaemonState) => number): Promise<DaemonState | number> {
  const parsed = tryParse(argv, { ...PID_FILE_OPTION, ...TIMEOUT_OPTION }, usage);
  if (typeof parsed === 'number') return parsed;
  const timeoutMs = timeoutOf(parsed.values, '30s');
  if (timeoutMs === undefined) return badTimeout(parsed.values);
  const pidFile = pidFileOf(parsed.values);
  const running = runningOrReport(pidFile);
  if (typeof running === 'number') return running;
  const r = await signalAndWait(pidFile, running, signal, counter, timeoutMs);
  if (r === 'unconfirmed') {
    process.stdout.write(`mcpeg: sent ${signal} to pid ${running.pid}\n`);
    return EXIT.OK;
  }
  if (r === 'timeout') {
    process.stderr.write(`mcpeg: sent ${signal} to pid ${running.pid}; no outcome within ${timeoutMs / 1000} s (see the log)\n`);
    return EXIT.FAILURE;
  }
  return r;
}
