import { loadConfig } from '../config/load.js';
import { ConfigError } from '../errors/catalog.js';
import { EXIT, tryParse } from './common.js';

const USAGE = `Usage: mcpeg validate --config FILE
Checks a configuration file (YAML, \${VAR} expansion, MCPEG_ overrides, schema) and prints
each problem with its key path. Exit 0 when valid, 3 when not.`;

export async function runValidate(argv: string[]): Promise<number> {
  const parsed = tryParse(argv, { config: { type: 'string', short: 'c' } }, USAGE);
  if (typeof parsed === 'number') return parsed;
  const file = (parsed.values.config as string | undefined) ?? process.env.MCPEG_CONFIG;
  if (!file) {
    process.stderr.write(`mcpeg: validate needs --config FILE (or MCPEG_CONFIG)\n${USAGE}\n`);
    return EXIT.USAGE;
  }
  try {
    const cfg = loadConfig({ file });
    process.stdout.write(`${file}: valid (${Object.keys(cfg.backends).length} backend(s))\n`);
    return EXIT.OK;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return EXIT.CONFIG;
    }
    throw err;
  }
}
