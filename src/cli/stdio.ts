import { resolve } from 'node:path';
import { createGateway } from '../gateway.js';
import { EXIT, loadOrReport, tryParse } from './common.js';

const USAGE = `Usage: mcpeg stdio [--config FILE]
Serves one MCP client over stdin/stdout (for desktop clients that launch a command).
Logs go to stderr only. Exits 1 when the client stops reading (server.send_timeout,
server.max_unsent_bytes).`;

export async function runStdio(argv: string[]): Promise<number> {
  const parsed = tryParse(argv, { config: { type: 'string', short: 'c' } }, USAGE);
  if (typeof parsed === 'number') return parsed;
  const file = parsed.values.config as string | undefined;
  const config = loadOrReport(file);
  if (typeof config === 'number') return config;
  // The config file is protected from file plugins here too (it holds secrets and is trusted).
  const gw = createGateway(config, file ? { configFile: resolve(file) } : {});
  const end = await gw.serveStdio(process.stdin, process.stdout);
  await gw.close();
  // A client that stopped reading: what waits on stdout is dropped with the process (stdout cannot be closed otherwise).
  if (end === 'stalled') process.exit(EXIT.FAILURE);
  return EXIT.OK;
}
