/**
 * A backend whose catalog re-list fails after it announced a change (list_changed): the
 * gateway goes on serving the catalog it listed before, and says so where an operator looks
 * (/health and the admin API's service: `catalogError`, `catalogErrorAt`) until a re-list
 * succeeds. Before, nothing but one warn line told a stale catalog from a current one.
 *
 * The backend is the official MCP SDK's server over Streamable HTTP (stateful, one Server
 * per session), in this process: the test decides whether tools/list fails, and makes every
 * session announce the change.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { ErrorCode, ListToolsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { startAdminGateway, type AdminGateway } from '../helpers/admin.js';
import { connectClient, waitFor } from '../helpers/gateway.js';

/** The backend: lists one tool named after the current version, or refuses tools/list while `failing`. */
function backend() {
  const state = { version: 1, failing: false };
  const servers = new Set<Server>();
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const http: HttpServer = createServer(async (req, res) => {
    const sid = req.headers['mcp-session-id'];
    let transport = typeof sid === 'string' ? transports.get(sid) : undefined;
    if (!transport) {
      if (req.method !== 'POST' || sid !== undefined) return void res.writeHead(404).end();
      const server = new Server({ name: 'flaky-lists', version: '1.0.0' }, { capabilities: { tools: { listChanged: true } } });
      server.setRequestHandler(ListToolsRequestSchema, () => {
        if (state.failing) throw new McpError(ErrorCode.InternalError, 'tools/list broken on purpose');
        return { tools: [{ name: `tool_v${state.version}`, inputSchema: { type: 'object' as const } }] };
      });
      const t: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => void transports.set(id, t),
      });
      t.onclose = () => {
        if (t.sessionId) transports.delete(t.sessionId);
        servers.delete(server);
      };
      servers.add(server);
      await server.connect(t);
      transport = t;
    }
    await transport.handleRequest(req, res);
  });
  return {
    http,
    state,
    /** Every open session says its tools changed. */
    announce: async () => {
      for (const s of servers) await s.sendToolListChanged().catch(() => undefined);
    },
  };
}

interface HealthBackend {
  name: string;
  state: string;
  catalogError?: string;
  catalogErrorAt?: string;
}

describe('a backend whose catalog re-list fails', () => {
  const b = backend();
  let gw: AdminGateway;
  const health = async () => {
    const res = await fetch(`${gw.mcpUrl.replace(/\/mcp$/, '')}/health`);
    const body = (await res.json()) as { status: string; backends: HealthBackend[] };
    return { status: res.status, overall: body.status, flaky: body.backends.find((x) => x.name === 'flaky')! };
  };
  const listed = async () => {
    const c = await connectClient(gw.mcpUrl);
    try {
      return (await c.listTools()).tools.map((t) => t.name);
    } finally {
      await c.close();
    }
  };

  before(async () => {
    await new Promise<void>((r) => b.http.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(b.http.address() as AddressInfo).port}/mcp`;
    gw = await startAdminGateway({ backends: { flaky: { type: 'mcp', url, protocol: 'stateful' } } });
    await waitFor(async () => (await health()).flaky.state === 'up' || undefined, 'backend up');
  });
  after(async () => {
    await gw?.close();
    b.http.closeAllConnections();
    b.http.close();
  });

  it('serves the catalog listed before, shows why in /health and the admin API, and clears it once a re-list succeeds', async () => {
    assert.deepEqual(await listed(), ['flaky__tool_v1']);
    const first = await health();
    assert.equal(first.flaky.catalogError, undefined, 'nothing failed yet');

    b.state.failing = true;
    b.state.version = 2;
    const sent = Date.now();
    await b.announce();
    const failed = await waitFor(async () => {
      const h = await health();
      return h.flaky.catalogError ? h : undefined;
    }, 'the failed re-list in /health');
    assert.match(failed.flaky.catalogError!, /tools\/list broken on purpose/);
    assert.ok(Date.parse(failed.flaky.catalogErrorAt!) >= sent - 1000, 'when it failed');
    // The backend still serves: a stale catalog is shown, not a reason to take the gateway out of a load balancer.
    assert.equal(failed.flaky.state, 'up');
    assert.equal(failed.status, 200);
    assert.equal(failed.overall, 'ok');
    assert.deepEqual(await listed(), ['flaky__tool_v1'], 'the catalog listed before');
    const svc = await gw.admin('GET', '/admin/services/flaky');
    assert.equal(svc.status, 200);
    assert.match(String(svc.body.catalogError), /tools\/list broken on purpose/);
    assert.equal(svc.body.catalogErrorAt, failed.flaky.catalogErrorAt);

    b.state.failing = false;
    b.state.version = 3;
    await b.announce();
    await waitFor(async () => ((await listed()).includes('flaky__tool_v3') ? true : undefined), 'the new catalog');
    const mended = await health();
    assert.equal(mended.flaky.catalogError, undefined, 'cleared by the re-list that succeeded');
    assert.equal((await gw.admin('GET', '/admin/services/flaky')).body.catalogError, null);
  });
});
