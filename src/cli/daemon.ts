/**
 * `mcpeg gateway --daemon`: starts the gateway detached and returns once it listens.
 *
 * The daemon is this CLI again (`gateway ... --daemonized`), spawned detached — setsid(2):
 * a new session with no controlling terminal, so a closing terminal sends it no SIGHUP —
 * with stdin on /dev/null and stdout/stderr appended to the log file. It takes the pid
 * file lock itself; over an IPC channel it says when it listens, and the channel is then
 * dropped. If it exits instead, what it wrote to the log since it started is printed.
 * Paths are made absolute first, so the arguments it records for `mcpeg restart` mean
 * the same from any directory.
 */
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, openSync, readSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT } from './common.js';
import { defaultPidFile, inspectPidFile } from './pidfile.js';

/** This CLI's entry point (dist/src/cli/main.js), for re-running it. */
export const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

/** How long the daemon may take to start its backends and listen. */
const START_TIMEOUT_MS = 60_000;

/** The parsed `gateway` flags. */
export type DaemonFlags = Record<string, string | boolean | undefined>;

/** The daemon's `gateway` arguments: every flag explicit, every path absolute. */
export function daemonArgv(f: DaemonFlags, env: NodeJS.ProcessEnv = process.env): { argv: string[]; pidFile: string; logFile: string } {
  const str = (k: string) => (typeof f[k] === 'string' ? (f[k] as string) : undefined);
  const pidFile = str('pid-file') !== undefined ? resolve(str('pid-file')!) : defaultPidFile(env);
  const logFile = resolve(str('log-file') ?? 'mcpeg.log');
  const config = str('config') ?? env.MCPEG_CONFIG;
  const argv: string[] = [];
  if (config) argv.push('--config', resolve(config));
  for (const k of ['host', 'port']) if (str(k) !== undefined) argv.push(`--${k}`, str(k)!);
  if (f.dev === true) argv.push('--dev');
  argv.push('--pid-file', pidFile, '--log-file', logFile);
  for (const k of ['log-max-size', 'log-keep']) if (str(k) !== undefined) argv.push(`--${k}`, str(k)!);
  return { argv, pidFile, logFile };
}

export async function startDaemon(flags: DaemonFlags): Promise<number> {
  const { argv, pidFile, logFile } = daemonArgv(flags);
  // The daemon checks again under the lock; this answers early, without a new process.
  const s = inspectPidFile(pidFile);
  if (s.kind === 'running') {
    process.stderr.write(`mcpeg is already running (pid ${s.pid}, pid file ${pidFile})\n`);
    return EXIT.ALREADY_RUNNING;
  }
  let fd: number;
  try {
    mkdirSync(dirname(logFile), { recursive: true });
    fd = openSync(logFile, 'a', 0o640);
  } catch (err) {
    process.stderr.write(`mcpeg: cannot open the log file: ${(err as Error).message}\n`);
    return EXIT.FAILURE;
  }
  const offset = fstatSync(fd).size;
  const child = spawn(process.execPath, [...process.execArgv.filter((a) => !a.startsWith('--inspect')), MAIN, 'gateway', ...argv, '--daemonized'], {
    detached: true,
    stdio: ['ignore', fd, fd, 'ipc'],
  });
  closeSync(fd);
  const outcome = await new Promise<{ ready: string } | { exit: number | null; signal: string | null } | { timeout: true }>((done) => {
    const timer = setTimeout(() => done({ timeout: true }), START_TIMEOUT_MS);
    child.on('message', (m: { type?: string; url?: string }) => {
      if (m?.type !== 'ready') return;
      clearTimeout(timer);
      done({ ready: String(m.url) });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      done({ exit: code, signal });
    });
    child.once('error', () => {
      clearTimeout(timer);
      done({ exit: null, signal: null });
    });
  });
  if ('ready' in outcome) {
    child.removeAllListeners();
    child.disconnect();
    child.unref();
    process.stdout.write(`mcpeg started (pid ${child.pid}) on ${outcome.ready}\n`);
    return EXIT.OK;
  }
  if ('timeout' in outcome) {
    child.removeAllListeners();
    if (child.connected) child.disconnect();
    child.unref();
    process.stderr.write(`mcpeg: the daemon (pid ${child.pid}) did not report listening within ${START_TIMEOUT_MS / 1000} s; see ${logFile}\n`);
    return EXIT.FAILURE;
  }
  const how = outcome.signal ? `was killed by ${outcome.signal}` : `exited with code ${outcome.exit}`;
  process.stderr.write(`mcpeg: the daemon failed to start (it ${how}); ${logFile} says:\n${describeLog(logFile, offset)}`);
  // Keep the meaning of the daemon's own code where it has one (invalid config, already running).
  return outcome.exit === EXIT.CONFIG || outcome.exit === EXIT.ALREADY_RUNNING ? outcome.exit : EXIT.FAILURE;
}

/** What the daemon wrote from `offset` on: JSON log lines as "LEVEL msg (err)", other lines as they are. */
export function describeLog(file: string, offset: number, maxBytes = 64 * 1024): string {
  let text = '';
  try {
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      const from = Math.max(offset, size - maxBytes);
      const buf = Buffer.alloc(size - from);
      readSync(fd, buf, 0, buf.length, from);
      text = buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    return `  (cannot read it: ${(err as Error).message})\n`;
  }
  const names: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) return '  (nothing)\n';
  return lines
    .map((l) => {
      try {
        const o = JSON.parse(l) as { level?: number; msg?: string; err?: unknown };
        if (o && typeof o === 'object' && 'msg' in o)
          return `  ${names[o.level ?? 0] ?? 'log'}: ${o.msg}${o.err !== undefined ? `: ${typeof o.err === 'string' ? o.err : JSON.stringify(o.err)}` : ''}\n`;
      } catch {
        /* not JSON: as it is */
      }
      return `  ${l}\n`;
    })
    .join('');
}
