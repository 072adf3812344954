/**
 * Review 27d: two 2026-07-28 (stateless) clients that declare `roots`, through the gateway, in
 * front of a stateful Streamable HTTP backend that keeps the roots it is given per session
 * (as server-everything and filesystem servers do: asked once, then remembered). The gateway
 * held backend sessions for stateless clients by capability set, so the second client's call
 * ran on the session the first client had given its roots to, and the backend answered it
 * with the first client's roots. Now a client that declares roots gets a backend session of
 * its own for each call.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Client as V2Client, StreamableHTTPClientTransport as V2Http } from '@modelcontextprotocol/client';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { startGateway, textOf, waitFor } from '../helpers/gateway.js';

/** A stateful backend with one tool, `my-roots`: the roots of this session, asked of the client on the first call (tied to it) and kept. */
function rootsBackend(): { http: HttpServer; sessions: Map<string, StreamableHTTPServerTransport> } {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const http = createServer(async (req, res) => {
    const sid = req.headers['mcp-session-id'];
    let transport = typeof sid === 'string' ? transports.get(sid) : undefined;
    if (!transport) {
      if (req.method !== 'POST' || sid !== undefined) return void res.writeHead(404).end();
      const server = new Server({ name: 'roots-keeper', version: '1.0.0' }, { capabilities: { tools: {} } });
      let roots: Array<{ uri: string }> | undefined;
      server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [{ name: 'my-roots', inputSchema: { type: 'object' as const } }] }));
      server.setRequestHandler(CallToolRequestSchema, async (_req, extra) => {
        roots ??= (await server.listRoots(undefined, { relatedRequestId: extra.requestId })).roots;
        return { content: [{ type: 'text' as const, text: roots.map((r) => r.uri).join(',') }] };
      });
      const t: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => void transports.set(id, t),
      });
      t.onclose = () => {
        if (t.sessionId) transports.delete(t.sessionId);
      };
      await server.connect(t);
      transport = t;
    }
    await transport.handleRequest(req, res);
  });
  return { http, sessions: transports };
}

describe('review 27d: a stateless client never gets the roots another stateless client gave a backend session', () => {
  const { http, sessions } = rootsBackend();
  let gw: Awaited<ReturnType<typeof startGateway>>;
  const clients: V2Client[] = [];

  /** An SDK v2 client on 2026-07-28 whose roots are `file:///home/<who>`. */
  async function client(who: string): Promise<V2Client> {
    const c = new V2Client({ name: who, version: '1.0.0' }, { capabilities: { roots: {} }, versionNegotiation: { mode: { pin: '2026-07-28' } } });
    c.setRequestHandler('roots/list', async () => ({ roots: [{ uri: `file:///home/${who}`, name: who }] }));
    await c.connect(new V2Http(new URL(`${gw.base}/servers/keeper/mcp`)));
    clients.push(c);
    return c;
  }

  before(async () => {
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
    // idle_timeout 2s: the pool's sweep runs every second (it closes a call's own session once the call is done).
    gw = await startGateway({ backends: { keeper: { type: 'mcp', url, idle_timeout: '2s' } } });
  });

  after(async () => {
    for (const c of clients) await c.close().catch(() => {});
    await gw?.close();
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
  });

  it('each client is answered with its own roots, call after call', async () => {
    const alice = await client('alice');
    const bob = await client('bob');
    for (let i = 0; i < 3; i++) {
      assert.equal(textOf(await alice.callTool({ name: 'my-roots', arguments: {} })), 'file:///home/alice');
      assert.equal(textOf(await bob.callTool({ name: 'my-roots', arguments: {} })), 'file:///home/bob');
    }
    // Each call's session is closed once the call is done: the gateway's catalog session is left.
    await waitFor(() => sessions.size === 1, `the calls' backend sessions to close (${sessions.size} open)`, 5_000);
  });
});
