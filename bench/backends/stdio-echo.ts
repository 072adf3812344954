/**
 * A minimal stdio MCP backend: newline-delimited JSON-RPC on stdin/stdout (stdio
 * transport spec), the same tools as the HTTP backend. Nothing is written to stderr.
 *
 * usage: node dist/bench/backends/stdio-echo.js [--tools N] [--name NAME]
 */
import { McpCore, parseBackendArgs } from './mcp-core.js';

const core = new McpCore(parseBackendArgs(process.argv.slice(2)));
let buf = '';

process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  buf += chunk;
  let out = '';
  let nl: number;
  while ((nl = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    if (line.trim() === '') continue;
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      out += '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}\n';
      continue;
    }
    const r = core.handle(msg);
    if (r !== undefined) out += r + '\n';
  }
  // One write per chunk read: the answers to a burst of requests leave together.
  if (out) process.stdout.write(out);
});
process.stdin.on('end', () => process.exit(0));
