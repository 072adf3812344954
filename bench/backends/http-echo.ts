/**
 * The "limit": a minimal stateless Streamable HTTP MCP backend on raw node:http.
 * POST /mcp answers with JSON (never SSE) and issues no Mcp-Session-Id; notifications and
 * responses get 202 (transport spec, "Sending Messages to the Server"). GET and DELETE
 * get 405: a stateless server offers no standalone stream and no session to end.
 * GET /stats returns the request counters, so the bench can check what reached it.
 *
 * usage: node dist/bench/backends/http-echo.js [--port 0] [--tools N] [--name NAME]
 * Prints `listening <port>` on stdout once bound to 127.0.0.1.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpCore, parseBackendArgs } from './mcp-core.js';

const argv = process.argv.slice(2);
const portArg = argv.indexOf('--port');
const port = portArg >= 0 ? Number(argv[portArg + 1]) : 0;
const core = new McpCore(parseBackendArgs(argv));
const JSON_TYPE = { 'content-type': 'application/json' };

const server = createServer((req, res) => {
  const path = req.url ?? '/';
  if (path === '/stats') {
    res.writeHead(200, JSON_TYPE).end(JSON.stringify(core.counters));
    return;
  }
  if (path !== '/mcp') {
    req.resume();
    res.writeHead(404).end();
    return;
  }
  if (req.method !== 'POST') {
    req.resume();
    res.writeHead(405, { allow: 'POST' }).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let msg: unknown;
    try {
      msg = JSON.parse((chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString('utf8'));
    } catch {
      res.writeHead(400, JSON_TYPE).end('{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}');
      return;
    }
    let body: string | undefined;
    if (Array.isArray(msg)) {
      const out = msg.map((m) => core.handle(m)).filter((s): s is string => s !== undefined);
      body = out.length ? `[${out.join(',')}]` : undefined;
    } else {
      body = core.handle(msg);
    }
    if (body === undefined) res.writeHead(202).end();
    else res.writeHead(200, JSON_TYPE).end(body);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections(); // idle keep-alive connections would hold close() open
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
