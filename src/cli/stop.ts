/** `mcpeg stop`: SIGTERM, wait for the drain and the exit, SIGKILL after the timeout. */
import { EXIT, tryParse } from './common.js';
import { badTimeout, pidFileOf, PID_FILE_OPTION, runningOrReport, sendSignal, TIMEOUT_OPTION, timeoutOf, waitUntil } from './control.js';
import { inspectPidFile, isAlive, readPid, releasePidFile, removeStale } from './pidfile.js';

const USAGE = `Usage: mcpeg stop [--pid-file FILE] [--timeout 10s]
Stops the gateway named by the pid file (default: $MCPEG_PID_FILE, else ./mcpeg.pid): sends
SIGTERM (the gateway drains in-flight requests, then exits) and waits up to --timeout
(a bare number is seconds) for the process to exit and remove its pid file; after that,
SIGKILL. Exit 0 stopped, 4 not running, 5 stale pid file (removed), 7 killed with SIGKILL,
1 failure (the signal could not be sent).`;

export async function runStop(argv: string[]): Promise<number> {
  const parsed = tryParse(argv, { ...PID_FILE_OPTION, ...TIMEOUT_OPTION }, USAGE);
  if (typeof parsed === 'number') return parsed;
  const timeoutMs = timeoutOf(parsed.values, '10s');
  if (timeoutMs === undefined) return badTimeout(parsed.values);
  return stopGateway(pidFileOf(parsed.values), timeoutMs);
}

export async function stopGateway(pidFile: string, timeoutMs: number): Promise<number> {
  const s = inspectPidFile(pidFile);
  if (s.kind === 'stale') {
    removeStale(pidFile, s.pid);
    process.stderr.write(`mcpeg is not running: removed the stale pid file ${pidFile} (${s.reason})\n`);
    return EXIT.STALE_PID;
  }
  const running = runningOrReport(pidFile);
  if (typeof running === 'number') return running;
  const { pid } = running;
  const failed = sendSignal(pid, 'SIGTERM');
  if (failed !== undefined) return failed;
  if (await waitUntil(() => !isAlive(pid), timeoutMs)) {
    // The gateway removes its pid file as it exits; one left behind means that failed.
    if (readPid(pidFile) === pid) releasePidFile(pidFile, pid);
    process.stdout.write(`mcpeg stopped (pid ${pid})\n`);
    return EXIT.OK;
  }
  sendSignal(pid, 'SIGKILL');
  const dead = await waitUntil(() => !isAlive(pid), 5000);
  if (!dead) {
    process.stderr.write(`mcpeg: pid ${pid} did not exit after SIGKILL\n`);
    return EXIT.FAILURE;
  }
  releasePidFile(pidFile, pid);
  process.stderr.write(`mcpeg did not stop within ${timeoutMs / 1000} s; killed it with SIGKILL (pid ${pid})\n`);
  return EXIT.KILLED;
}
