/** `mcpeg reload`: SIGHUP to the running gateway, then what the reload changed (or why not). */
import { EXIT, tryParse } from './common.js';
import { badTimeout, pidFileOf, PID_FILE_OPTION, runningOrReport, signalAndWait, TIMEOUT_OPTION, timeoutOf } from './control.js';

const USAGE = `Usage: mcpeg reload [--pid-file FILE] [--timeout 30s]
Sends SIGHUP to the gateway named by the pid file: it loads its configuration file again,
validates it and applies it without dropping sessions (a bad file changes nothing). Waits up
to --timeout for the outcome and prints it. Exit 0 applied, 3 refused (the running
configuration keeps serving), 4 not running, 5 stale pid file, 1 no answer in time.`;

const list = (xs: readonly string[] | undefined) => (xs?.length ? xs.join(', ') : 'none');

export async function runReload(argv: string[]): Promise<number> {
  const parsed = tryParse(argv, { ...PID_FILE_OPTION, ...TIMEOUT_OPTION }, USAGE);
  if (typeof parsed === 'number') return parsed;
  const timeoutMs = timeoutOf(parsed.values, '30s');
  if (timeoutMs === undefined) return badTimeout(parsed.values);
  const pidFile = pidFileOf(parsed.values);
  const running = runningOrReport(pidFile);
  if (typeof running === 'number') return running;
  const r = await signalAndWait(pidFile, running, 'SIGHUP', (s) => s.reloads.count, timeoutMs);
  if (typeof r === 'number') return r;
  if (r === 'unconfirmed') {
    process.stdout.write(`mcpeg: sent SIGHUP to pid ${running.pid}\n`);
    return EXIT.OK;
  }
  if (r === 'timeout') {
    process.stderr.write(`mcpeg: sent SIGHUP to pid ${running.pid}; no outcome within ${timeoutMs / 1000} s (see the log)\n`);
    return EXIT.FAILURE;
  }
  const { reloads } = r;
  if (!reloads.ok) {
    process.stderr.write(`mcpeg: the reload was refused; the running configuration keeps serving:\n${reloads.error ?? ''}\n`);
    return EXIT.CONFIG;
  }
  process.stdout.write(`mcpeg reloaded ${r.configFile ?? 'its configuration'} (pid ${r.pid}): added ${list(reloads.added)}; removed ${list(reloads.removed)}; changed ${list(reloads.changed)}\n`);
  if (reloads.restartRequired?.length) process.stdout.write(`restart needed for: ${reloads.restartRequired.join(', ')} (mcpeg restart)\n`);
  return EXIT.OK;
}
