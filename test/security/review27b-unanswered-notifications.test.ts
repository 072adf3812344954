/**
 * Review 27b (hostile backends): a Streamable HTTP backend must answer a POSTed notification
 * or response with 202 at once. The gateway waits for that answer, on one of the 128
 * connections the backend's origin has for POSTs, and nothing ended the wait: a call that
 * timed out was stopped (its POST aborted), but the `notifications/cancelled` sent for it
 * was not. A backend that never answered those held a connection per timed-out call for
 * good; past 128 every POST to it queued in the pool for good, its memory with it (one
 * more per call that then timed out), and the backend never served a call again, even once
 * it answered. Now such a POST is given 10 s, its answer included.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, spawnGateway, stopGateway, textOf, type GatewayProcess } from '../helpers/gateway.js';

/** A Streamable HTTP MCP server (JSON answers) that never answers `notifications/cancelled`, nor calls of `slow`. */
async function silentBackend() {
  const held = new Set<ServerResponse>();
  let cancels = 0;
  const json = (res: ServerResponse, id: unknown, result: unknown) =>
    res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 's1' }).end(JSON.stringify({ jsonrpc: '2.0', id, result }));
  const server = createServer((req, res) => {
    if (req.method === 'GET') return void res.writeHead(405).end();
    if (req.method === 'DELETE') return void res.writeHead(200).end();
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const m = JSON.parse(body) as { id?: number; method?: string; params?: { name?: string; protocolVersion?: string } };
      if (m.method === 'notifications/cancelled' || (m.method === 'tools/call' && m.params?.name === 'slow')) {
        if (m.method === 'notifications/cancelled') cancels++;
        held.add(res);
        res.on('close', () => held.delete(res));
        return;
      }
      if (m.id === undefined) return void res.writeHead(202).end();
      if (m.method === 'initialize')
        return json(res, m.id, { protocolVersion: m.params?.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'silent', version: '1' } });
      if (m.method === 'tools/list') return json(res, m.id, { tools: ['slow', 'echo'].map((name) => ({ name, inputSchema: { type: 'object' } })) });
      if (m.method === 'tools/call') return json(res, m.id, { content: [{ type: 'text', text: 'served' }] });
      if (m.method === 'ping') return json(res, m.id, {});
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'Method not found' } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    held: () => held.size,
    cancels: () => cancels,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

describe('review 27b: a backend that never answers notifications/cancelled', { timeout: 90_000 }, () => {
  let backend: Awaited<ReturnType<typeof silentBackend>> | undefined;
  let gw: GatewayProcess | undefined;
  const clients: Client[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'mcpeg-27b-notice-'));

  before(async () => {
    backend = await silentBackend();
    const config = join(dir, 'mcpeg.json');
    writeFileSync(
      config,
      JSON.stringify({ server: { host: '127.0.0.1', port: 0 }, backends: { h: { type: 'mcp', url: backend.url, transport: 'streamable_http', timeout: '1s' } } }),
    );
    gw = await spawnGateway(config);
    for (let i = 0; i < 3; i++) clients.push(await connectClient(gw.url, { name: `c${i}` }));
  });
  after(async () => {
    for (const c of clients) await c.close().catch(() => {});
    await stopGateway(gw);
    await backend?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const echo = () => clients[2].callTool({ name: 'h__echo', arguments: {} }).then(textOf, (e: Error) => e.message);

  it('serves the backend again once its unanswered notifications time out', async () => {
    assert.equal(await echo(), 'served');
    // 130 calls that time out: each is stopped, and each sends notifications/cancelled, never answered.
    const calls = Array.from({ length: 130 }, (_, i) => clients[i % 2].callTool({ name: 'h__slow', arguments: {} }).then(textOf, (e: Error) => e.message));
    for (const r of await Promise.all(calls)) assert.match(r, /did not answer|timed out|within/);
    const held = Date.now() + 10_000;
    while (backend!.cancels() < 128) {
      assert.ok(Date.now() < held, `${backend!.cancels()} cancellations reached the backend`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // Every connection of the origin is held by an unanswered notification: a call cannot get one meanwhile.
    assert.notEqual(await echo(), 'served');
    // Within 10 s (and a margin) the notifications are given up, and calls are served again.
    const end = Date.now() + 20_000;
    for (;;) {
      const r = await echo();
      if (r === 'served') break;
      assert.ok(Date.now() < end, `still not served 20 s later: ${r} (${backend!.held()} POSTs held)`);
      await new Promise((r) => setTimeout(r, 500));
    }
    // The cancellations of the calls that failed meanwhile got connections last: they go within their 10 s too.
    const freed = Date.now() + 15_000;
    while (backend!.held() > 0) {
      assert.ok(Date.now() < freed, `${backend!.held()} POSTs still held`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});
