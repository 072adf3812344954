#!/usr/bin/env node
/**
 * The `mcpeg` command: one verb per file. Exit codes (docs/cli.md#exit-codes):
 * 0 ok, 1 runtime failure, 2 usage error, 3 invalid configuration, 4 not running,
 * 5 stale pid file, 6 already running, 7 stopped with SIGKILL.
 */
import { EXIT, printUsage, tryParse, VERSION } from './common.js';
import { own } from '../util/own.js';

// Loaded on use: `mcpeg status` need not load the gateway, the MCP SDK and undici.
const VERBS: Record<string, (argv: string[]) => Promise<number>> = {
  gateway: async (argv) => (await import('./gateway.js')).runGateway(argv),
  stdio: async (argv) => (await import('./stdio.js')).runStdio(argv),
  validate: async (argv) => (await import('./validate.js')).runValidate(argv),
  codegen: async (argv) => (await import('./codegen.js')).runCodegen(argv),
  pin: async (argv) => (await import('./pin.js')).runPin(argv),
  stop: async (argv) => (await import('./stop.js')).runStop(argv),
  restart: async (argv) => (await import('./restart.js')).runRestart(argv),
  status: async (argv) => (await import('./status.js')).runStatus(argv),
  reload: async (argv) => (await import('./reload.js')).runReload(argv),
  'log-rotate': async (argv) => (await import('./log-rotate.js')).runLogRotate(argv),
  authz: async (argv) => (await import('./authz.js')).runAuthz(argv),
  version: async (argv) => {
    const parsed = tryParse(argv, {}, 'Usage: mcpeg version\nPrints "mcpeg <version>".');
    if (typeof parsed === 'number') return parsed;
    process.stdout.write(`mcpeg ${VERSION}\n`);
    return EXIT.OK;
  },
};

/** The original README's top-level forms: `mcpeg --status --verbose` is `mcpeg status --verbose`. */
const ALIASES: Record<string, string> = { '--stop': 'stop', '--restart': 'restart', '--status': 'status', '--reload': 'reload', '--log-rotate': 'log-rotate' };

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
    printUsage();
    return verb === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (verb === '--version' || verb === '-v') return VERBS.version([]);
  if (verb.startsWith('-')) {
    const aliases = argv.filter((a) => Object.hasOwn(ALIASES, a));
    if (aliases.length > 1) {
      process.stderr.write(`mcpeg: ${aliases.join(' and ')} cannot be combined\n`);
      return EXIT.USAGE;
    }
    if (aliases.length === 1) return VERBS[ALIASES[aliases[0]]](argv.filter((a) => a !== aliases[0]));
    // `mcpeg --dev`, `mcpeg --daemon`, `mcpeg --config x.yaml` run the gateway.
    return VERBS.gateway(argv);
  }
  const run = own(VERBS, verb);
  if (!run) {
    process.stderr.write(`mcpeg: unknown command "${verb}"\n`);
    printUsage();
    return EXIT.USAGE;
  }
  return run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== EXIT.RUNNING) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`mcpeg: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = EXIT.FAILURE;
  },
);
