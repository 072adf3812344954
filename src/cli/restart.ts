/**
 * `mcpeg restart`: stops the daemon, then starts it again as a daemon with the arguments
 * and working directory it recorded in its state file (paths there are absolute).
 */
import { spawn } from 'node:child_process';
import { EXIT, tryParse } from './common.js';
import { badTimeout, pidFileOf, PID_FILE_OPTION, TIMEOUT_OPTION, timeoutOf } from './control.js';
import { MAIN } from './daemon.js';
import { inspectPidFile, readState, removeStale } from './pidfile.js';
import { stopGateway } from './stop.js';

const USAGE = `Usage: mcpeg restart [--pid-file FILE] [--timeout 10s]
Stops the daemon named by the pid file (as mcpeg stop, with the same --timeout), then starts
it again with mcpeg gateway --daemon and the arguments and working directory it was started
with (recorded in FILE.json), in the environment of this command; prints the new pid.
A daemon that is not running but left its files behind (killed) is started again.
Exit codes as mcpeg stop and mcpeg gateway --daemon; 4 when there is nothing to restart.`;

export async function runRestart(argv: string[]): Promise<number> {
  const parsed = tryParse(argv, { ...PID_FILE_OPTION, ...TIMEOUT_OPTION }, USAGE);
  if (typeof parsed === 'number') return parsed;
  const timeoutMs = timeoutOf(parsed.values, '10s');
  if (timeoutMs === undefined) return badTimeout(parsed.values);
  const pidFile = pidFileOf(parsed.values);
  const s = inspectPidFile(pidFile);
  const state = readState(pidFile);
  if (s.kind === 'none' || !state || (s.kind === 'running' && state.pid !== s.pid)) {
    process.stderr.write(
      s.kind === 'none'
        ? `mcpeg is not running (no pid file ${pidFile}); start it with mcpeg gateway --daemon\n`
        : `mcpeg: ${pidFile}.json does not describe pid ${s.pid}; cannot tell how to start it again\n`,
    );
    return s.kind === 'none' ? EXIT.NOT_RUNNING : EXIT.FAILURE;
  }
  if (!state.daemon) {
    process.stderr.write(`mcpeg: pid ${state.pid} runs in the foreground (not started with --daemon); restart it the way it was started\n`);
    return EXIT.FAILURE;
  }
  if (s.kind === 'stale') {
    removeStale(pidFile, s.pid);
    process.stderr.write(`mcpeg was not running (${s.reason}); starting it again\n`);
  } else {
    const stopped = await stopGateway(pidFile, timeoutMs);
    if (stopped !== EXIT.OK && stopped !== EXIT.KILLED) return stopped;
  }
  const child = spawn(process.execPath, [MAIN, 'gateway', '--daemon', ...state.argv], { cwd: state.cwd, stdio: 'inherit' });
  return new Promise<number>((resolve) => {
    child.once('error', (err) => {
      process.stderr.write(`mcpeg: cannot start: ${err.message}\n`);
      resolve(EXIT.FAILURE);
    });
    child.once('exit', (code) => resolve(code ?? EXIT.FAILURE));
  });
}
