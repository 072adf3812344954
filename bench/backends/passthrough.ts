/**
 * The floor of an HTTP gateway in Node: the least a proxy written on node:http and
 * undici can do per call. It forwards each request's body bytes to one backend through an
 * undici Pool (the client MCpeg uses) and writes the answer's bytes back, with the
 * status, content type and Mcp-Session-Id: no parsing, no sessions, no logging. What it
 * reaches against the direct backend is how far Node itself lets a relay go on this
 * machine (bench/floor.ts).
 *
 * usage: node dist/bench/backends/passthrough.js --target http://127.0.0.1:PORT/mcp [--port 0] [--client request|dispatch]
 *   request:  pool.request(), body read with 'data' events (as src/transport/outbound does)
 *   dispatch: pool.dispatch() with a handler: no promise, no body stream
 * Prints `listening <port>` on stdout once bound to 127.0.0.1.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool, type Dispatcher } from 'undici';

const argv = process.argv.slice(2);
const arg = (name: string, def: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : def;
};
const target = new URL(arg('--target', ''));
const port = Number(arg('--port', '0'));
const client = arg('--client', 'request');
const pool = new Pool(target.origin, { connections: 128, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });
const path = `${target.pathname}${target.search}`;

function forwardHeaders(req: IncomingMessage): Record<string, string> {
  const h: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const v = req.headers['mcp-protocol-version'];
  if (typeof v === 'string') h['mcp-protocol-version'] = v;
  const s = req.headers['mcp-session-id'];
  if (typeof s === 'string') h['mcp-session-id'] = s;
  return h;
}

function answer(res: ServerResponse, status: number, type: string | undefined, sid: string | undefined, body: Buffer): void {
  const h: Record<string, string> = {};
  if (type) h['content-type'] = type;
  if (sid) h['mcp-session-id'] = sid;
  res.writeHead(status, h).end(body);
}

async function viaRequest(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
  const r = await pool.request({ path, method: req.method as Dispatcher.HttpMethod, headers: forwardHeaders(req), body });
  const chunks: Buffer[] = [];
  r.body.on('data', (c: Buffer) => chunks.push(c));
  r.body.on('end', () => {
    const type = r.headers['content-type'];
    const sid = r.headers['mcp-session-id'];
    answer(res, r.statusCode, typeof type === 'string' ? type : undefined, typeof sid === 'string' ? sid : undefined, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
  });
}

function viaDispatch(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  let status = 0;
  let type: string | undefined;
  let sid: string | undefined;
  const chunks: Buffer[] = [];
  pool.dispatch(
    { origin: target.origin, path, method: req.method as Dispatcher.HttpMethod, headers: forwardHeaders(req), body },
    {
      onConnect() {},
      onError(err) {
        res.writeHead(502).end(String(err));
      },
      onHeaders(statusCode, raw) {
        status = statusCode;
        for (let i = 0; i < raw.length; i += 2) {
          const k = raw[i].toString('latin1').toLowerCase();
          if (k === 'content-type') type = raw[i + 1].toString('latin1');
          else if (k === 'mcp-session-id') sid = raw[i + 1].toString('latin1');
        }
        return true;
      },
      onData(chunk) {
        chunks.push(chunk);
        return true;
      },
      onComplete() {
        answer(res, status, type, sid, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
      },
    },
  );
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    if (client === 'dispatch') viaDispatch(req, res, body);
    else viaRequest(req, res, body).catch((err) => res.writeHead(502).end(String(err)));
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
