/**
 * Attack (review 9, x-mcp-header): a backend lists items that are not objects.
 *
 * A `null` in a backend's `tools` list reached the registry, which read `t.name` of every
 * item while rebuilding the views: the TypeError was thrown from a replica's state change,
 * uncaught, and ended the gateway process for every client and backend. A number or a
 * string in the list of a 2026-07-28 backend failed its catalog instead (the x-mcp-header
 * scan caches per tool object in a WeakMap, which refuses a number as a key): the backend
 * never came up. The gateway now keeps the items that are objects, as the MCP schema has them.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connectClient, startGateway } from '../helpers/gateway.js';

const TOOLS = [null, 5, 'tool', true, [], { name: 'ok', inputSchema: { type: 'object', properties: { z: { type: 'string', 'x-mcp-header': 'Z' } } } }];

/** A raw Streamable HTTP backend: stateful (initialize) or 2026-07-28 (server/discover), listing TOOLS. */
function hostile(modern: boolean): Server {
  return createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (req.method !== 'POST') return void res.writeHead(405).end();
      const m = JSON.parse(body) as { id?: number; method: string };
      if (m.id === undefined) return void res.writeHead(202).end();
      const answer = (msg: Record<string, unknown>) => {
        res.writeHead(200, { 'content-type': 'application/json', ...(modern ? {} : { 'mcp-session-id': 's1' }) });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: m.id, ...msg }));
      };
      if (m.method === 'initialize' && !modern) return answer({ result: { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'h', version: '1' } } });
      if (m.method === 'server/discover' && modern)
        return answer({ result: { supportedVersions: ['2026-07-28'], capabilities: { tools: {} }, _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'h', version: '1' } } } });
      if (m.method === 'tools/list') return answer({ result: { tools: TOOLS, ...(modern ? { ttlMs: 60_000 } : {}) } });
      return answer({ error: { code: -32601, message: 'Method not found' } });
    });
  });
}

describe('review9: a backend listing items that are not objects', () => {
  const servers: Server[] = [];
  let gw: Awaited<ReturnType<typeof startGateway>>;
  before(async () => {
    const url = async (modern: boolean) => {
      const s = hostile(modern);
      servers.push(s);
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      return `http://127.0.0.1:${(s.address() as AddressInfo).port}/mcp`;
    };
    gw = await startGateway({ backends: { old: { type: 'mcp', url: await url(false) }, new: { type: 'mcp', url: await url(true) } } });
  });
  after(async () => {
    await gw?.close();
    for (const s of servers) s.close();
  });

  it('keeps the gateway up and lists the tools that are objects, from stateful and 2026-07-28 backends alike', async () => {
    const c = await connectClient(gw.url);
    try {
      assert.deepEqual((await c.listTools()).tools.map((t) => t.name).sort(), ['new__ok', 'old__ok']);
    } finally {
      await c.close();
    }
    assert.equal(gw.gw.registry.backend('new')?.state, 'up');
  });
});
