/**
 * The keep-alive race with backends that close idle connections without saying when.
 * uvicorn (which the Python MCP SDK's HTTP servers run on) closes a connection idle for
 * 5 s and sends no `Keep-Alive: timeout=` hint. A gateway that keeps the connection longer
 * (MCpeg kept 30 s) sends the next call on it just as the server closes it: the server
 * answers the bytes with a reset, and a POST (every MCP call, a REST tool's POST) is never
 * sent again, so the client's call fails. The gateway now closes an idle connection after
 * `keep_alive_timeout` (4 s by default, undici's own default), before such servers do.
 *
 * The backend here is a real node:http server (the official MCP SDK's Streamable HTTP
 * transport on /mcp, a JSON echo on /echo) given uvicorn's idle policy, which node cannot
 * be asked for (its own idle timeout sends the hint): no hint, and a connection idle for
 * 5 s is closed. So that the race is met every time, not once in many thousand calls, the
 * close takes 400 ms to reach the gateway (its FIN "in flight"): a request arriving on the
 * connection meanwhile is answered with a reset, as the real server's kernel answers
 * bytes sent to a socket it has closed. Python and uvicorn are not on the test machines.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { connectClient, spawnGateway, stopGateway, textOf, type GatewayProcess } from '../helpers/gateway.js';
import { validateConfig } from '../../src/config/load.js';

const IDLE_MS = 5000;
const FIN_IN_FLIGHT_MS = 400;

/** What the backend saw of its connections. */
interface Seen {
  /** Connections the gateway closed while they were idle (before the server's idle timeout), by the path of their last request. */
  closedByGateway: { '/mcp': number; '/echo': number };
  /** Connections the server closed for idleness. */
  closedByServer: number;
  /** Requests that arrived on a connection the server was closing (answered with a reset). */
  resets: number;
}

function uvicornLikeBackend(): { http: HttpServer; seen: Seen; url: () => string } {
  const seen: Seen = { closedByGateway: { '/mcp': 0, '/echo': 0 }, closedByServer: 0, resets: 0 };
  const lastPath = new Map<Socket, '/mcp' | '/echo'>();
  const idle = new Map<Socket, NodeJS.Timeout>();
  const closing = new Set<Socket>();
  const http = createServer(async (req, res) => {
    const socket = req.socket;
    clearTimeout(idle.get(socket));
    idle.delete(socket);
    if (closing.has(socket)) {
      seen.resets++;
      socket.resetAndDestroy();
      return;
    }
    lastPath.set(socket, req.url === '/echo' ? '/echo' : '/mcp');
    res.once('finish', () => {
      if (socket.destroyed) return;
      idle.set(
        socket,
        setTimeout(() => {
          idle.delete(socket);
          closing.add(socket);
          seen.closedByServer++;
          setTimeout(() => socket.destroy(), FIN_IN_FLIGHT_MS).unref();
        }, IDLE_MS).unref(),
      );
    });
    if (req.url === '/echo') {
      let body = '';
      for await (const chunk of req) body += chunk;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ echoed: JSON.parse(body || '{}') }));
      return;
    }
    // The SDK's stateless Streamable HTTP server: a server and a transport per request.
    const server = new McpServer({ name: 'uvicorn-like', version: '1.0.0' });
    server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: 'text', text }] }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.once('close', () => void transport.close());
    await server.connect(transport);
    await transport.handleRequest(req, res);
  });
  // No idle timeout of node's own: it would send `Keep-Alive: timeout=` (uvicorn sends none).
  http.keepAliveTimeout = 0;
  http.on('connection', (socket: Socket) => {
    socket.once('end', () => {
      const path = lastPath.get(socket);
      if (!closing.has(socket) && path) seen.closedByGateway[path]++;
      clearTimeout(idle.get(socket));
      idle.delete(socket);
    });
    socket.once('close', () => {
      closing.delete(socket);
      lastPath.delete(socket);
    });
  });
  return { http, seen, url: () => `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
}

async function gatewayBefore(backends: Record<string, unknown>): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'mcpeg-keepalive-'));
  const config = join(dir, 'mcpeg.yaml');
  writeFileSync(config, JSON.stringify({ server: { host: '127.0.0.1', port: 0 }, backends }));
  return spawnGateway(config);
}

describe('a backend that closes idle connections without a Keep-Alive hint (uvicorn)', () => {
  let backend: ReturnType<typeof uvicornLikeBackend>;
  let gw: GatewayProcess | undefined;

  before(async () => {
    backend = uvicornLikeBackend();
    await new Promise<void>((r) => backend.http.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    await stopGateway(gw);
    backend.http.closeAllConnections();
    await new Promise<void>((r) => backend.http.close(() => r()));
  });

  it('a call that comes as the server closes the idle connection (MCP and REST backends, default config) is served', async () => {
    gw = await gatewayBefore({
      up: { type: 'mcp', url: `${backend.url()}/mcp`, health_check: { enabled: false } },
      rest: {
        type: 'rest',
        base_url: backend.url(),
        health_check: { enabled: false },
        tools: { post_echo: { method: 'POST', path: '/echo', input_schema: { type: 'object', properties: { text: { type: 'string' } } } } },
      },
    });
    const client = await connectClient(gw.url);
    try {
      const before = { ...backend.seen, closedByGateway: { ...backend.seen.closedByGateway } };
      for (let round = 0; round < 3; round++) {
        const mcp = await client.callTool({ name: 'up__echo', arguments: { text: `round ${round}` } });
        assert.equal(mcp.isError, undefined, `MCP call ${round}: ${textOf(mcp)}`);
        assert.equal(textOf(mcp), `round ${round}`);
        const rest = await client.callTool({ name: 'rest__post_echo', arguments: { text: `rest ${round}` } });
        assert.notEqual(rest.isError, true, `REST call ${round}: ${textOf(rest)}`);
        assert.match(textOf(rest), new RegExp(`rest ${round}`));
        // The next calls reach the backend 5.15 s after these answers: as it closes their connections.
        await sleep(IDLE_MS + 150);
      }
      const mcp = await client.callTool({ name: 'up__echo', arguments: { text: 'last' } });
      assert.equal(textOf(mcp), 'last', `the last MCP call: ${textOf(mcp)}`);
      const rest = await client.callTool({ name: 'rest__post_echo', arguments: { text: 'last' } });
      assert.notEqual(rest.isError, true, `the last REST call: ${textOf(rest)}`);
      // The gateway closed its idle connections first: no request met a closing one.
      assert.equal(backend.seen.resets - before.resets, 0, 'requests sent on connections the server was closing');
      for (const path of ['/mcp', '/echo'] as const) {
        const n = backend.seen.closedByGateway[path] - before.closedByGateway[path];
        assert.ok(n >= 1, `connections to ${path} the gateway closed: ${n}`);
      }
    } finally {
      await client.close();
      await stopGateway(gw);
      gw = undefined;
    }
  });

  it('keep_alive_timeout sets how long an idle connection is kept; the default keeps it across a 3 s pause', async () => {
    gw = await gatewayBefore({
      fast: { type: 'mcp', url: `${backend.url()}/mcp`, health_check: { enabled: false }, keep_alive_timeout: '1s' },
      kept: { type: 'rest', base_url: backend.url(), health_check: { enabled: false }, tools: { post_echo: { method: 'POST', path: '/echo' } } },
    });
    const client = await connectClient(gw.url);
    try {
      // REST, default (4 s): a connection is reused after 3 s idle, so none is closed by then.
      await client.callTool({ name: 'kept__post_echo', arguments: {} });
      let closed = backend.seen.closedByGateway['/echo'];
      await sleep(3000);
      assert.equal(backend.seen.closedByGateway['/echo'] - closed, 0, 'closed before 4 s');
      await sleep(1600);
      assert.ok(backend.seen.closedByGateway['/echo'] - closed >= 1, 'not closed 4.6 s after the call');
      // MCP, 1 s: closed within 1.6 s of the last request.
      await client.callTool({ name: 'fast__echo', arguments: { text: 'x' } });
      closed = backend.seen.closedByGateway['/mcp'];
      await sleep(1600);
      assert.ok(backend.seen.closedByGateway['/mcp'] - closed >= 1, 'not closed 1.6 s after the call with keep_alive_timeout: 1s');
    } finally {
      await client.close();
    }
  });

  it('a keep_alive_timeout of 0 or over 10 minutes is refused, naming the key', () => {
    for (const bad of ['0s', '11m']) {
      assert.throws(
        () => validateConfig({ backends: { b: { type: 'mcp', url: 'http://127.0.0.1:1/mcp', keep_alive_timeout: bad } } }, 'mcpeg.yaml'),
        (err: Error) => /keep_alive_timeout/.test(err.message) && /1ms to 10m/.test(err.message),
      );
    }
  });
});
