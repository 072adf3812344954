import { loadConfig } from '../config/load.js';
import { ConfigError } from '../errors/catalog.js';
import { loadPlugin } from '../plugins/loader.js';
import { EXIT, tryParse } from './common.js';

const USAGE = `Usage: mcpeg validate --config FILE
Checks a configuration file (YAML, \${VAR} expansion, MCPEG_ overrides, schema), loads each
enabled plugin module and checks its config against the plugin's schema, and prints each
problem with its key path. Exit 0 when valid, 3 when not.`;

export async function runValidate(argv: string[]): Promise<number> {
  const parsed = tryParse(argv, { config: { type: 'string', short: 'c' } }, USAGE);
  if (typeof parsed === 'number') return parsed;
  const file = (parsed.values.config as string | undefined) ?? process.env.MCPEG_CONFIG;
  if (!file) {
    process.stderr.write(`mcpeg: validate needs --config FILE (or MCPEG_CONFIG)\n${USAGE}\n`);
    return EXIT.USAGE;
  }
  let cfg;
  try {
    cfg = loadConfig({ file });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return EXIT.CONFIG;
    }
    throw err;
  }
  const problems: string[] = [];
  for (const [i, p] of cfg.plugins.entries()) {
    if (!p.enabled) continue;
    await loadPlugin(p, i, cfg.paths.base!).catch((err: unknown) => problems.push(`plugins.${i}: ${(err as Error).message}`));
  }
  if (problems.length) {
    process.stderr.write(`${file}: invalid configuration\n  - ${problems.join('\n  - ')}\n`);
    return EXIT.CONFIG;
  }
  const plugins = cfg.plugins.filter((p) => p.enabled).length;
  process.stdout.write(`${file}: valid (${Object.keys(cfg.backends).length} backend(s), ${plugins} plugin(s))\n`);
  return EXIT.OK;
}
