import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../errors/catalog.js';

/** docs/cli.md#exit-codes. RUNNING is not an exit code: the gateway is serving, main() must not exit. */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2, CONFIG: 3, NOT_RUNNING: 4, STALE_PID: 5, ALREADY_RUNNING: 6, KILLED: 7, RUNNING: -1 } as const;

export { VERSION } from '../version.js';

export function printUsage(): void {
  process.stderr.write(`Usage: mcpeg <command> [options]

Commands:
  gateway [--config FILE] [--host H] [--port N]   run the gateway over HTTP (also: mcpeg --config FILE ...)
          [--dev] [--daemon] [--pid-file F] [--log-file F]
  stop [--pid-file F] [--timeout 10s]             stop the running gateway (SIGTERM, then SIGKILL after the timeout)
  restart [--pid-file F]                          stop the daemon and start it again with the same arguments
  status [--verbose] [--json] [--pid-file F]      pid, uptime, version, addresses, backends; exit 0/4/5
  reload [--pid-file F]                           reload the configuration file (SIGHUP) and report the change
  log-rotate [--pid-file F]                       rotate the log file now (SIGUSR1)
  stdio [--config FILE]                           serve one client over stdin/stdout
  validate --config FILE                          check a config file; exit 3 on problems
  validate --openapi FILE                         check an OpenAPI document; problems at their JSON pointers
  codegen --openapi FILE [-o OUT.yaml]            write a rest backend generated from an OpenAPI document
  pin [status] [--config FILE] [--json]           pin tool definitions in the lock file; report drift (exit 1)
  pin approve <backend>/<tool>|<backend>|--all    approve what a backend serves now (the running gateway follows)
  authz explain [--config FILE | --admin URL]     what a principal may do and why (--principal ID, --tool NAME, ...)
  version                                         print the version

Without --config, the embedded default configuration is used.
Environment: MCPEG_CONFIG names the config file; MCPEG_<SECTION>__<KEY>=value overrides a key;
MCPEG_PID_FILE names the pid file (default ./mcpeg.pid).
Aliases: mcpeg --dev, --daemon (gateway), --stop, --restart, --status, --reload, --log-rotate.
Exit codes: 0 ok, 1 failure, 2 usage, 3 invalid config, 4 not running, 5 stale pid file,
6 already running, 7 stopped with SIGKILL. --help on any command prints its usage.
`);
}

export type Flags = ReturnType<typeof parse>;

export function parse(argv: string[], options: ParseArgsConfig['options']) {
  return parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' }, ...options }, allowPositionals: false, strict: true });
}

/** Parses flags, printing a usage error instead of throwing. */
export function tryParse(argv: string[], options: ParseArgsConfig['options'], usage: string): { values: Record<string, string | boolean | undefined> } | number {
  try {
    const { values } = parse(argv, options);
    if (values.help) {
      process.stdout.write(`${usage}\n`);
      return EXIT.OK;
    }
    return { values: values as Record<string, string | boolean | undefined> };
  } catch (err) {
    process.stderr.write(`mcpeg: ${(err as Error).message}\n${usage}\n`);
    return EXIT.USAGE;
  }
}

/** Loads config (file, env, CLI overrides) or prints the problems and returns an exit code. */
export function loadOrReport(file: string | undefined, overrides: Array<{ path: string[]; value: unknown }> = []): Readonly<Config> | number {
  try {
    return loadConfig({ file: file ?? process.env.MCPEG_CONFIG, overrides });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`mcpeg: ${err.message}\n`);
      return EXIT.CONFIG;
    }
    throw err;
  }
}
