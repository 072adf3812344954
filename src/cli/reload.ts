/** `mcpeg reload`: SIGHUP to the running gateway, then what the reload changed (or why not). */
import { EXIT } from './common.js';
import { signalVerb } from './control.js';

const USAGE = `Usage: mcpeg reload [--pid-file FILE] [--timeout 30s]
Sends SIGHUP to the gateway named by the pid file: it loads its configuration file again,
validates it and applies it without dropping sessions (a bad file changes nothing). Waits up
to --timeout for the outcome and prints it. Exit 0 applied, 3 refused (the running
configuration keeps serving), 4 not running, 5 stale pid file, 1 no answer in time.`;

const list = (xs: readonly string[] | undefined) => (xs?.length ? xs.join(', ') : 'none');

export async function runReload(argv: string[]): Promise<number> {
  const r = await signalVerb(argv, USAGE, 'SIGHUP', (s) => s.reloads.count);
  if (typeof r === 'number') return r;
  const { reloads } = r;
  if (!reloads.ok) {
    process.stderr.write(`mcpeg: the reload was refused; the running configuration keeps serving:\n${reloads.error ?? ''}\n`);
    return EXIT.CONFIG;
  }
  process.stdout.write(
    `mcpeg reloaded ${r.configFile ?? 'its configuration'} (pid ${r.pid}): added ${list(reloads.added)}; removed ${list(reloads.removed)}; changed ${list(reloads.changed)}\n`,
  );
  if (reloads.restartRequired?.length) process.stdout.write(`restart needed for: ${reloads.restartRequired.join(', ')} (mcpeg restart)\n`);
  return EXIT.OK;
}
