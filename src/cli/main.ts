#!/usr/bin/env node
/**
 * The `mcpeg` command: one verb per file. Exit codes (docs/cli.md):
 * 0 ok, 1 runtime failure, 2 usage error, 3 invalid configuration.
 */
import { runGateway } from './gateway.js';
import { runStdio } from './stdio.js';
import { runValidate } from './validate.js';
import { runCodegen } from './codegen.js';
import { EXIT, printUsage, VERSION } from './common.js';

const VERBS: Record<string, (argv: string[]) => Promise<number>> = {
  gateway: runGateway,
  stdio: runStdio,
  validate: runValidate,
  codegen: runCodegen,
  version: async () => {
    process.stdout.write(`mcpeg ${VERSION}\n`);
    return EXIT.OK;
  },
};

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
    printUsage();
    return verb === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (verb === '--version' || verb === '-v') return VERBS.version([]);
  // The original's top-level form: `mcpeg --dev`, `mcpeg --config x.yaml` run the gateway.
  if (verb.startsWith('-')) return runGateway(argv);
  const run = VERBS[verb];
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
