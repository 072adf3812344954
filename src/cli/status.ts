/**
 * `mcpeg status`: is the gateway running, since when, on which addresses, and how are its
 * backends (from GET <base>/health, when it answers).
 */
import { EXIT, tryParse } from './common.js';
import { pidFileOf, PID_FILE_OPTION } from './control.js';
import { inspectPidFile } from './pidfile.js';

const USAGE = `Usage: mcpeg status [--verbose] [--json] [--pid-file FILE]
Reports the gateway named by the pid file (default: $MCPEG_PID_FILE, else ./mcpeg.pid): pid,
uptime, version, listening address, config and log files, and a backend summary from its
/health endpoint when that answers. --verbose adds each backend, the arguments, the last
reload and log rotation; --json prints all of it as one JSON object.
Exit 0 running, 4 not running, 5 stale pid file (its process is gone).`;

interface HealthBody {
  status?: string;
  sessions?: number;
  backends?: Array<{ name: string; state: string; transport?: string; tools?: number; error?: string; healthy?: boolean }>;
}

export async function runStatus(argv: string[]): Promise<number> {
  const parsed = tryParse(argv, { ...PID_FILE_OPTION, verbose: { type: 'boolean', short: 'v' }, json: { type: 'boolean' } }, USAGE);
  if (typeof parsed === 'number') return parsed;
  const { verbose, json } = parsed.values;
  const pidFile = pidFileOf(parsed.values);
  const s = inspectPidFile(pidFile);
  if (s.kind !== 'running') {
    const code = s.kind === 'none' ? EXIT.NOT_RUNNING : EXIT.STALE_PID;
    const why = s.kind === 'none' ? `no pid file ${pidFile}` : `stale pid file ${pidFile}: ${s.reason}`;
    if (json) process.stdout.write(`${JSON.stringify({ running: false, pidFile, ...(s.kind === 'stale' ? { stale: true, pid: s.pid, reason: s.reason } : {}) })}\n`);
    else process.stdout.write(`mcpeg is not running (${why})\n`);
    return code;
  }
  const st = s.state;
  const health = st?.listening ? await fetchHealth(st.listening.base) : undefined;
  const uptimeS = st ? Math.max(0, Math.round((Date.now() - Date.parse(st.startedAt)) / 1000)) : undefined;
  if (json) {
    const h = health === undefined ? {} : 'body' in health ? { health: health.body } : { healthError: health.error };
    process.stdout.write(`${JSON.stringify({ running: true, pidFile, pid: s.pid, uptimeSeconds: uptimeS, ...(st ?? {}), ...h })}\n`);
    return EXIT.OK;
  }
  const out: string[] = [`mcpeg is running (pid ${s.pid})`];
  const row = (k: string, v: string) => out.push(`  ${k.padEnd(10)}${v}`);
  if (!st) {
    row('state', `no state file (${pidFile}.json)`);
  } else {
    row('version', st.version);
    row('uptime', `${formatUptime(uptimeS!)} (since ${st.startedAt})`);
    row('listening', st.listening ? st.listening.url : 'not yet (starting)');
    if (st.listening?.adminUrl) row('admin', st.listening.adminUrl);
    row('config', st.configFile ?? '(embedded default)');
    row('log', st.logFile ?? 'stderr');
    row('mode', st.daemon ? 'daemon' : 'foreground');
  }
  if (health && 'body' in health && health.body.backends === undefined) {
    // With auth configured, /health gives an unauthenticated caller its status alone.
    row('backends', `not shown (health ${health.body.status ?? '?'}; with auth configured /health details them to an authenticated caller only)`);
  } else if (health && 'body' in health) {
    const bs = health.body.backends ?? [];
    const up = bs.filter((b) => b.state === 'up').length;
    row('backends', `${bs.length} (${up} up${bs.length > up ? `, ${bs.length - up} not up` : ''}); health ${health.body.status ?? '?'}, ${health.body.sessions ?? 0} session(s)`);
    if (verbose)
      for (const b of bs)
        out.push(
          `    ${b.name.padEnd(20)} ${b.state.padEnd(9)} ${(b.transport ?? '').padEnd(16)} ${b.tools ?? 0} tool(s)${b.healthy === false ? ' unhealthy' : ''}${b.error ? `  ${b.error}` : ''}`,
        );
  } else if (health) {
    row('backends', `unknown (${health.error})`);
  }
  if (verbose && st) {
    row('pid file', pidFile);
    row('cwd', st.cwd);
    row('arguments', st.argv.join(' '));
    const r = st.reloads;
    row('reloads', r.count === 0 ? '0' : `${r.count}, last at ${r.at}: ${r.ok ? 'applied' : `refused: ${(r.error ?? '').split('\n')[0]}`}`);
    const l = st.logRotations;
    row('rotations', l.count === 0 ? '0' : `${l.count}, last at ${l.at}: ${l.error ? `failed: ${l.error}` : (l.action ?? '')}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return EXIT.OK;
}

/** GET <base>/health: the body even when 503 (degraded), or why it did not answer. */
async function fetchHealth(base: string): Promise<{ body: HealthBody } | { error: string }> {
  // A wildcard bind address is not one to connect to.
  const url = base.replace('//0.0.0.0:', '//127.0.0.1:').replace('//[::]:', '//[::1]:');
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(3000) });
    return { body: (await res.json()) as HealthBody };
  } catch (err) {
    return { error: `${url}/health did not answer: ${(err as Error).message}` };
  }
}

export function formatUptime(s: number): string {
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const parts = [d && `${d}d`, (d || h) && `${h}h`, (d || h || m) && `${m}m`, `${s % 60}s`].filter(Boolean);
  return parts.join(' ');
}
