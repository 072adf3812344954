import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../errors/catalog.js';

export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2, CONFIG: 3, RUNNING: -1 } as const;

export { VERSION } from '../version.js';

export function printUsage(): void {
  process.stderr.write(`Usage: mcpeg <command> [options]

Commands:
  gateway [--config FILE] [--host H] [--port N]   run the gateway over HTTP (also: mcpeg --config FILE ...)
  stdio [--config FILE]                           serve one client over stdin/stdout
  validate --config FILE                          check a config file; exit 3 on problems
  validate --openapi FILE                         check an OpenAPI document; problems at their JSON pointers
  codegen --openapi FILE [-o OUT.yaml]            write a rest backend generated from an OpenAPI document
  version                                         print the version

Without --config, the embedded default configuration is used.
Environment: MCPEG_CONFIG names the config file; MCPEG_<SECTION>__<KEY>=value overrides a key.
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
