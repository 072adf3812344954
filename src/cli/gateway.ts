import { createGateway } from '../gateway.js';
import { EXIT, loadOrReport, tryParse } from './common.js';

const USAGE = `Usage: mcpeg gateway [--config FILE] [--host HOST] [--port PORT]
Runs the gateway: Streamable HTTP at /mcp, legacy SSE at /sse, per-backend endpoints at /servers/<name>/mcp.`;

export async function runGateway(argv: string[]): Promise<number> {
  const parsed = tryParse(argv, { config: { type: 'string', short: 'c' }, host: { type: 'string' }, port: { type: 'string', short: 'p' } }, USAGE);
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const overrides: Array<{ path: string[]; value: unknown }> = [];
  if (values.host !== undefined) overrides.push({ path: ['server', 'host'], value: values.host });
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      process.stderr.write(`mcpeg: --port must be an integer from 0 to 65535, got "${String(values.port)}"\n`);
      return EXIT.USAGE;
    }
    overrides.push({ path: ['server', 'port'], value: port });
  }
  const config = loadOrReport(values.config as string | undefined, overrides);
  if (typeof config === 'number') return config;
  const gw = createGateway(config);
  try {
    const { url } = await gw.listen();
    process.stderr.write(`mcpeg listening on ${url}\n`);
  } catch (err) {
    gw.log.fatal({ err: (err as Error).message }, 'cannot start');
    process.stderr.write(`mcpeg: cannot start: ${(err as Error).message}\n`);
    await gw.close();
    return EXIT.FAILURE;
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    gw.log.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => process.exit(EXIT.FAILURE), config.server.shutdown_timeout);
    deadline.unref();
    void gw.close().then(() => process.exit(EXIT.OK));
  };
  // SIGHUP reloads the config file: load → validate → build → swap; a bad file changes nothing.
  process.on('SIGHUP', () => {
    const file = (values.config as string | undefined) ?? process.env.MCPEG_CONFIG;
    const next = loadOrReport(file, overrides);
    if (typeof next === 'number') {
      gw.log.error({ file }, 'SIGHUP: the configuration is invalid; the running one keeps serving');
      return;
    }
    gw.reload(next).then(
      (r) => gw.log.info({ signal: 'SIGHUP', ...r }, 'reloaded'),
      () => {},
    );
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return EXIT.RUNNING;
}
