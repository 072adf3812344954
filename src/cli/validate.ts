import { readFileSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import { ConfigError } from '../errors/catalog.js';
import { checkBackend } from '../backends/factory.js';
import { convertSpec } from '../backends/openapi/convert.js';
import { parseSpecText, SpecLoadError } from '../backends/openapi/load.js';
import { formatProblems, validateSpec } from '../backends/openapi/validate.js';
import { loadPlugin } from '../plugins/loader.js';
import { probeSources } from '../discovery/probe.js';
import { EXIT, tryParse } from './common.js';

const USAGE = `Usage: mcpeg validate --config FILE [--no-discovery]
       mcpeg validate --openapi FILE
--config checks a configuration file (YAML, \${VAR} expansion, MCPEG_ overrides, schema),
then what the schema cannot: each enabled plugin module loads and accepts its config,
auth secrets of rest/openapi backends are set, command programs exist, and file OpenAPI
documents load and convert. Each problem names its key path. Each discovery source (DNS
SRV, Consul, Kubernetes, MCP registries) is then asked once and what it answers is
printed; a source that cannot be read now is a warning (--no-discovery skips them).
--openapi checks an OpenAPI 3.0/3.1 document (JSON or YAML) and prints each problem at
its JSON pointer (FILE#/paths/~1users/get: ...), then how many tools it yields.
Exit 0 when valid, 3 when not (warnings alone do not fail).`;

export async function runValidate(argv: string[]): Promise<number> {
  const parsed = tryParse(argv, { config: { type: 'string', short: 'c' }, openapi: { type: 'string' }, 'no-discovery': { type: 'boolean' } }, USAGE);
  if (typeof parsed === 'number') return parsed;
  if (typeof parsed.values.openapi === 'string') return validateOpenApi(parsed.values.openapi);
  const file = (parsed.values.config as string | undefined) ?? process.env.MCPEG_CONFIG;
  if (!file) {
    process.stderr.write(`mcpeg: validate needs --config FILE (or MCPEG_CONFIG) or --openapi FILE\n${USAGE}\n`);
    return EXIT.USAGE;
  }
  let cfg: ReturnType<typeof loadConfig>;
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
  for (const [name, b] of Object.entries(cfg.backends)) {
    if (b.enabled)
      problems.push(...(await checkBackend(name, b, { base: cfg.paths.base!, workspace: cfg.paths.workspace }, process.env, (w) => process.stderr.write(`warning: ${w}\n`))));
  }
  if (problems.length) {
    process.stderr.write(`${file}: invalid configuration\n  - ${problems.join('\n  - ')}\n`);
    return EXIT.CONFIG;
  }
  if (parsed.values['no-discovery'] !== true) {
    for (const r of await probeSources(cfg, { maxBytes: cfg.discovery.max_document_bytes, env: process.env, base: cfg.paths.base ?? process.cwd() })) {
      if (r.ok) process.stdout.write(`discovery ${r.id} (${r.source}): ${r.items.length} found${r.items.length ? `\n    ${r.items.join('\n    ')}` : ''}\n`);
      if (r.error) process.stderr.write(`warning: discovery ${r.id} (${r.source}): ${r.error}\n`);
      for (const d of r.refused) process.stderr.write(`warning: discovery ${r.id}: refused: ${d}\n`);
      for (const d of r.dropped) process.stderr.write(`warning: discovery ${r.id}: left out: ${d}\n`);
    }
  }
  const plugins = cfg.plugins.filter((p) => p.enabled).length;
  process.stdout.write(`${file}: valid (${Object.keys(cfg.backends).length} backend(s), ${plugins} plugin(s))\n`);
  return EXIT.OK;
}

async function validateOpenApi(file: string): Promise<number> {
  let doc: ReturnType<typeof parseSpecText>;
  try {
    doc = parseSpecText(readFileSync(file, 'utf8'), file);
  } catch (err) {
    if (err instanceof SpecLoadError || (err as NodeJS.ErrnoException).code) {
      process.stderr.write(`mcpeg: ${(err as Error).message}\n`);
      return EXIT.CONFIG;
    }
    throw err;
  }
  const problems = await validateSpec(doc);
  const errors = problems.filter((p) => p.severity === 'error');
  if (problems.length) process.stderr.write(`${formatProblems(problems, file)}\n`);
  if (errors.length) {
    process.stderr.write(`${file}: invalid OpenAPI document (${errors.length} error(s), ${problems.length - errors.length} warning(s))\n`);
    return EXIT.CONFIG;
  }
  const { tools, notes } = convertSpec(doc);
  for (const n of notes) process.stderr.write(`note: ${n}\n`);
  const info = (doc.info ?? {}) as { title?: string; version?: string };
  process.stdout.write(
    `${file}: valid OpenAPI ${String(doc.openapi)} document "${info.title ?? ''}" ${info.version ?? ''}: ${Object.keys(tools).length} tool(s)${problems.length ? `, ${problems.length} warning(s)` : ''}\n`,
  );
  return EXIT.OK;
}
