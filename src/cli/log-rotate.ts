/** `mcpeg log-rotate`: SIGUSR1 to the running gateway, which rotates its log file now. */
import { EXIT } from './common.js';
import { signalVerb } from './control.js';

const USAGE = `Usage: mcpeg log-rotate [--pid-file FILE] [--timeout 30s]
Sends SIGUSR1 to the gateway named by the pid file. It rotates its log file now: FILE is
gzipped to FILE.1.gz (older archives move up to .2.gz ... and beyond --log-keep are
deleted) and a fresh FILE is opened. If FILE had been moved away (by logrotate), the
gateway only opens a new FILE. Waits for the archive to be written and prints it.
Exit 0 done, 4 not running, 5 stale pid file, 1 failure or no answer in time.`;

export async function runLogRotate(argv: string[]): Promise<number> {
  const r = await signalVerb(argv, USAGE, 'SIGUSR1', (s) => s.logRotations.count);
  if (typeof r === 'number') return r;
  const done = r.logRotations;
  if (done.error) {
    process.stderr.write(`mcpeg: the log rotation failed: ${done.error}\n`);
    return EXIT.FAILURE;
  }
  if (done.action === 'none') process.stdout.write(`mcpeg (pid ${r.pid}) logs to stderr: no log file to rotate\n`);
  else if (done.action === 'reopened') process.stdout.write(`mcpeg reopened its log file ${r.logFile} (the old one had been moved away)\n`);
  else process.stdout.write(`mcpeg rotated its log file: ${r.logFile} -> ${done.archive ?? '(not kept: --log-keep 0)'}\n`);
  return EXIT.OK;
}
