/**
 * `mcpeg gateway`: runs the gateway in the foreground, or with --daemon starts it in the
 * background (daemon.ts) and returns once it listens. Signals: SIGTERM and SIGINT drain
 * then exit, SIGHUP reloads the config file, SIGUSR1 rotates the log file.
 */
import { watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import { ConfigError } from '../errors/catalog.js';
import type { Gateway } from '../gateway.js';
import { serve as serveGateway, type Served } from '../serve.js';
import { logArchives, RotatingFile, parseSize } from '../observability/log-file.js';
import { LineBatcher } from '../observability/log-sink.js';
import { createLogger, flushLogSync, type Logger, writeStderrAfterLogs } from '../observability/logger.js';
import { prettyDestination } from '../observability/pretty.js';
import { configSecrets } from '../observability/secrets.js';
import { EXIT, loadOrReport, tryParse, VERSION } from './common.js';
import { startDaemon } from './daemon.js';
import { acquirePidFile, defaultPidFile, PID_FILE_ENV, procStartOf, releasePidFile, stateFileOf, writeState, type DaemonState } from './pidfile.js';

const USAGE = `Usage: mcpeg gateway [--config FILE] [--host HOST] [--port PORT] [--dev]
                     [--daemon] [--pid-file FILE] [--log-file FILE] [--log-max-size SIZE] [--log-keep N]
Runs the gateway: Streamable HTTP at /mcp, legacy SSE at /sse, per-backend endpoints at /servers/<name>/mcp.
  --dev                debug logs (one readable line each on a terminal), the admin API on
                       127.0.0.1 without a key, and the config file reloaded when it changes
  --daemon             run in the background (new session, output to the log file); prints
                       "mcpeg started (pid N) on URL" once it listens
  --pid-file FILE      write FILE and hold it against a second instance (default: $MCPEG_PID_FILE,
                       else ./mcpeg.pid; in the foreground only when given or $MCPEG_PID_FILE is set)
  --log-file FILE      log to FILE instead of stderr (default with --daemon: ./mcpeg.log)
  --log-max-size SIZE  rotate the log file when it reaches SIZE (default 10MB; 0: only on SIGUSR1)
  --log-keep N         gzipped rotated log files kept (default 5)`;

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  host: { type: 'string' },
  port: { type: 'string', short: 'p' },
  dev: { type: 'boolean' },
  daemon: { type: 'boolean' },
  /** Internal: this process is the daemon that `--daemon` started. */
  daemonized: { type: 'boolean' },
  'pid-file': { type: 'string' },
  'log-file': { type: 'string' },
  'log-max-size': { type: 'string' },
  'log-keep': { type: 'string' },
} as const;

type Values = Record<string, string | boolean | undefined>;
type Overrides = Array<{ path: string[]; value: unknown }>;

export async function runGateway(argv: string[]): Promise<number> {
  const parsed = tryParse(argv, OPTIONS, USAGE);
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const usage = (msg: string) => {
    process.stderr.write(`mcpeg: ${msg}\n`);
    return EXIT.USAGE;
  };
  const overrides: Overrides = [];
  if (values.host !== undefined) overrides.push({ path: ['server', 'host'], value: values.host });
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) return usage(`--port must be an integer from 0 to 65535, got "${String(values.port)}"`);
    overrides.push({ path: ['server', 'port'], value: port });
  }
  const maxBytes = parseSize(String(values['log-max-size'] ?? '10MB'));
  if (maxBytes === undefined) return usage(`--log-max-size must be a size such as 10MB, 512KiB or 1048576, got "${String(values['log-max-size'])}"`);
  const keep = Number(values['log-keep'] ?? 5);
  if (!Number.isInteger(keep) || keep < 0) return usage(`--log-keep must be a whole number, got "${String(values['log-keep'])}"`);
  if (values.dev) {
    // Dev mode: the admin API on loopback without a key (src/config/admin.ts), debug logs.
    overrides.push(
      { path: ['logging', 'level'], value: 'debug' },
      { path: ['admin', 'enabled'], value: true },
      { path: ['admin', 'insecure_no_auth'], value: true },
      { path: ['admin', 'host'], value: '127.0.0.1' },
    );
  }
  if (values.daemon && !values.daemonized) return startDaemon(values);
  return serve(values, argv, overrides, { maxBytes, keep });
}

async function serve(values: Values, argv: string[], overrides: Overrides, rotation: { maxBytes: number; keep: number }): Promise<number> {
  const daemonized = values.daemonized === true;
  const configFile = (values.config as string | undefined) ?? process.env.MCPEG_CONFIG;
  const config = loadOrReport(configFile, overrides);
  if (typeof config === 'number') return config;

  const logPath = (values['log-file'] as string | undefined) ?? (daemonized ? 'mcpeg.log' : undefined);
  let file: RotatingFile | undefined;
  try {
    if (logPath) file = new RotatingFile(resolve(logPath), rotation);
  } catch (err) {
    process.stderr.write(`mcpeg: cannot open the log file: ${(err as Error).message}\n`);
    return EXIT.FAILURE;
  }
  // A log file gets its lines in batches, like stderr (observability/log-sink.ts).
  const dest = file ? new LineBatcher(file) : values.dev && process.stderr.isTTY ? prettyDestination(process.stderr) : 2;
  const log = createLogger(config.logging.level, dest, { secrets: configSecrets(config) });
  if (daemonized && file) daemonOutput(file, log);

  const pidArg = values['pid-file'] as string | undefined;
  const pidFile = pidArg !== undefined ? resolve(pidArg) : daemonized || process.env[PID_FILE_ENV] ? defaultPidFile() : undefined;
  let state: DaemonState | undefined;
  let saveFailed = false;
  let started = false;
  const save = () => {
    if (!pidFile || !state) return;
    try {
      writeState(pidFile, state);
      saveFailed = false;
    } catch (err) {
      // Once it runs, a state file that cannot be written (a full disk: clients write files through the editor) is
      // logged, not thrown: thrown from the SIGUSR1 or SIGHUP handler it ended the gateway (review 24). At start it
      // still fails the start. The CLI verbs waiting on it then say so ("no outcome ... see the log").
      if (!started) throw err;
      if (!saveFailed)
        log.warn({ stateFile: stateFileOf(pidFile), err: (err as Error).message }, 'cannot write the state file: mcpeg status/reload/log-rotate will not see this change');
      saveFailed = true;
    }
  };
  if (pidFile) {
    const lock = acquirePidFile(pidFile);
    if (!lock.ok) {
      const msg = `mcpeg is already running (pid ${lock.pid}, pid file ${pidFile})`;
      log.error({ pidFile, pid: lock.pid }, msg);
      process.stderr.write(`${msg}\n`);
      return EXIT.ALREADY_RUNNING;
    }
    if (lock.replaced) log.warn({ pidFile, stalePid: lock.replaced.pid, reason: lock.replaced.reason }, 'replaced a stale pid file');
    const procStart = procStartOf(process.pid);
    state = {
      pid: process.pid,
      version: VERSION,
      startedAt: new Date().toISOString(),
      ...(procStart ? { procStart } : {}),
      cwd: process.cwd(),
      argv: argv.filter((a) => a !== '--daemonized' && a !== '--daemon'),
      daemon: daemonized,
      ...(configFile ? { configFile: resolve(configFile) } : {}),
      ...(file ? { logFile: file.path } : {}),
      reloads: { count: 0 },
      logRotations: { count: 0 },
    };
    save();
  }
  // Runs on every exit but SIGKILL: process.exit() after the drain, the deadline, a failed start.
  process.on('exit', (code) => {
    log.info({ code }, 'mcpeg exited');
    flushLogSync(log);
    if (pidFile) releasePidFile(pidFile);
  });

  // What the CLI writes, protected from file plugins: with the log file its archives (a client deleted or moved
  // them, rotated audit lines with them, where a root held the log; review 24) and the temporary names beside them.
  const stateFiles = [
    ...(pidFile ? [pidFile, stateFileOf(pidFile), `${pidFile}.${process.pid}.tmp`, `${pidFile}.${process.pid}.stale`, `${stateFileOf(pidFile)}.${process.pid}.tmp`] : []),
    ...(file ? [file.path, ...logArchives(file.path, rotation.keep)] : []),
  ];
  let served: Served;
  try {
    // The gateway, and the admin API beside it when admin.enabled; both closed again if either fails.
    served = await serveGateway(config, { logger: log, ...(configFile ? { configFile: resolve(configFile) } : {}), configOverrides: overrides, stateFiles });
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'cannot start');
    process.stderr.write(`mcpeg: cannot start: ${(err as Error).message}\n`);
    return EXIT.FAILURE;
  }
  started = true;
  const gw = served.gateway;
  const url = served.url;
  if (state)
    state.listening = {
      url,
      base: url.slice(0, url.length - config.server.path.length),
      host: served.host,
      port: served.port,
      ...(served.adminUrl ? { adminUrl: served.adminUrl } : {}),
    };
  save();
  // The launcher may be gone (it gave up waiting): a closed channel is not an error here.
  // What was logged while starting is on disk before the launcher says "started": the lines
  // of this turn would otherwise wait for setImmediate, and 'listening' comes on a nextTick.
  if (daemonized && process.connected) {
    flushLogSync(log);
    process.send?.({ type: 'ready', url, pid: process.pid }, undefined, {}, () => {});
  }
  // What was logged while starting (a plugin that failed to load) comes before this line.
  else writeStderrAfterLogs(log, `mcpeg listening on ${url}\n`);

  let stopping = false;
  let unwatch: (() => void) | undefined;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    unwatch?.();
    log.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => process.exit(EXIT.FAILURE), config.server.shutdown_timeout);
    deadline.unref();
    void served
      .close()
      .then(() => file?.drain())
      .then(
        () => process.exit(EXIT.OK),
        () => process.exit(EXIT.FAILURE),
      );
  };
  // SIGHUP (and in dev mode a change of the file) reloads it: load → validate → build → swap;
  // a bad file changes nothing.
  const reload = (trigger: string) =>
    reloadConfig(gw, log, trigger, configFile, overrides).then((r) => {
      if (!state) return;
      state.reloads = { count: state.reloads.count + 1, at: new Date().toISOString(), ...r };
      save();
    });
  process.on('SIGHUP', () => void reload('SIGHUP'));
  process.on('SIGUSR1', () => {
    // Installing a listener also keeps Node from starting its inspector on SIGUSR1.
    const record = (r: Omit<DaemonState['logRotations'], 'count' | 'at'>) => {
      if (!state) return;
      state.logRotations = { count: state.logRotations.count + 1, at: new Date().toISOString(), ...r };
      save();
    };
    if (!file) {
      log.info({ signal: 'SIGUSR1' }, 'logging to stderr: no log file to rotate');
      return record({ action: 'none' });
    }
    // What this turn gathered belongs to the file being rotated.
    flushLogSync(log);
    file.rotateOrReopen().then(
      (r) => {
        log.info({ signal: 'SIGUSR1', ...r }, r.action === 'rotated' ? 'log file rotated' : 'log file reopened');
        record(r);
      },
      (err: unknown) => {
        log.error({ signal: 'SIGUSR1', err: (err as Error).message }, 'log rotation failed');
        record({ error: (err as Error).message });
      },
    );
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (values.dev) {
    if (configFile) unwatch = watchConfig(resolve(configFile), () => void reload('config file change'), log);
    log.info({ configFile: configFile ?? null }, configFile ? 'dev mode: reloading the config file when it changes' : 'dev mode: no config file to watch');
  }
  return EXIT.RUNNING;
}

type ReloadOutcome = Omit<DaemonState['reloads'], 'count' | 'at'>;

async function reloadConfig(gw: Gateway, log: Logger, trigger: string, file: string | undefined, overrides: Overrides): Promise<ReloadOutcome> {
  let next: ReturnType<typeof loadConfig>;
  try {
    next = loadConfig({ file, overrides });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    log.error({ trigger, file, err: err.message }, `${trigger}: the configuration is invalid; the running one keeps serving`);
    return { ok: false, error: err.message };
  }
  try {
    const r = await gw.reload(next);
    log.info({ trigger, ...r }, 'reloaded');
    return { ok: true, ...r };
  } catch (err) {
    // gw.reload has logged why; the previous snapshot keeps serving.
    return { ok: false, error: (err as Error).message };
  }
}

/**
 * Watches the directory rather than the file: editors save by writing a new file and
 * renaming it over the old one, which ends a watch on the old inode. Debounced, since one
 * save is several events.
 */
function watchConfig(file: string, onChange: () => void, log: Logger): () => void {
  const name = basename(file);
  let timer: NodeJS.Timeout | undefined;
  try {
    const w = watch(dirname(file), (_event, changed) => {
      if (changed && changed !== name) return;
      clearTimeout(timer);
      timer = setTimeout(onChange, 200);
    });
    w.on('error', (err) => log.warn({ err: err.message }, 'config file watch failed'));
    return () => {
      clearTimeout(timer);
      w.close();
    };
  } catch (err) {
    log.warn({ file, err: (err as Error).message }, 'cannot watch the config file');
    return () => {};
  }
}

/**
 * The daemon's stdout and stderr are the log file as it was opened at start; after a
 * rotation that file is gone. Stray writes (warnings, a library printing) go through the
 * rotating file instead, and an uncaught exception is logged there before exiting.
 */
function daemonOutput(file: RotatingFile, log: Logger): void {
  const write = (chunk: string | Uint8Array, enc?: unknown, cb?: unknown) => {
    file.write(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    const done = typeof enc === 'function' ? enc : cb;
    if (typeof done === 'function') process.nextTick(done as () => void);
    return true;
  };
  process.stdout.write = write as typeof process.stdout.write;
  process.stderr.write = write as typeof process.stderr.write;
  process.on('uncaughtException', (err) => {
    log.fatal({ err: err.stack ?? String(err) }, 'uncaught exception');
    process.exit(EXIT.FAILURE);
  });
}
