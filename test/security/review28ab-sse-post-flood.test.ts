/**
 * Review 28ab (hostile backends): a legacy HTTP+SSE MCP server (`transport: sse`) sends its
 * requests on the event stream, small events, as many as it likes; the gateway answers
 * each (a `ping` at once) with a POST, and review 27b gives each POST the backend's longest
 * call timeout. A backend that never answers those POSTs had one socket (a file
 * descriptor) held per request it sent: undici's fetch opens as many connections to an
 * origin as are asked for. 600 pings made 600 sockets at once, any number more made any
 * number more, until the gateway had no file descriptors left for its own clients. Now a
 * legacy SSE backend gets at most 128 connections, as a Streamable HTTP one does; the POSTs
 * past them wait (for their timeout at most) for one.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { spawnGateway, stopGateway, type GatewayProcess } from '../helpers/gateway.js';

const PINGS = 600;

/** A legacy SSE MCP server that, once initialized, sends PINGS pings and never answers the POSTs carrying their answers. */
async function floodingSseBackend() {
  const streams = new Map<string, (s: string) => void>();
  let sessions = 0;
  let sockets = 0;
  let peak = 0;
  let answers = 0;
  const held = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const u = new URL(req.url!, 'http://x');
    if (req.method === 'GET' && u.pathname === '/sse') {
      const id = String(++sessions);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const send = (s: string) => void res.write(s);
      streams.set(id, send);
      res.on('close', () => streams.delete(id));
      send(`event: endpoint\ndata: /messages?sessionId=${id}\n\n`);
      return;
    }
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const m = JSON.parse(body) as { id?: number; method?: string; params?: { protocolVersion?: string } };
      const send = streams.get(u.searchParams.get('sessionId') ?? '');
      if (m.method === undefined) {
        // An answer to one of its pings: never answered.
        answers++;
        held.add(res);
        res.on('close', () => held.delete(res));
        return;
      }
      res.writeHead(202).end('Accepted');
      if (!send) return;
      const reply = (result: unknown) => send(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: m.id, result })}\n\n`);
      if (m.method === 'initialize') reply({ protocolVersion: m.params?.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'flood', version: '1' } });
      else if (m.method === 'tools/list') reply({ tools: [{ name: 'echo', inputSchema: { type: 'object' } }] });
      else if (m.method === 'notifications/initialized') {
        let all = '';
        for (let i = 0; i < PINGS; i++) all += `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: `p${i}`, method: 'ping' })}\n\n`;
        send(all);
      } else if (m.id !== undefined) reply({});
    });
  });
  server.on('connection', (s) => {
    peak = Math.max(peak, ++sockets);
    s.on('close', () => sockets--);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/sse`,
    peak: () => peak,
    answers: () => answers,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

describe('review 28ab: a legacy SSE backend flooding requests gets a bounded number of sockets', { timeout: 120_000 }, () => {
  let backend: Awaited<ReturnType<typeof floodingSseBackend>> | undefined;
  let gw: GatewayProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'mcpeg-28ab-flood-'));

  before(async () => {
    backend = await floodingSseBackend();
    const config = join(dir, 'mcpeg.json');
    writeFileSync(config, JSON.stringify({ server: { host: '127.0.0.1', port: 0 }, backends: { h: { type: 'mcp', url: backend.url, transport: 'sse', timeout: '20s' } } }));
    gw = await spawnGateway(config);
  });
  after(async () => {
    await stopGateway(gw);
    await backend?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('600 pings never answered hold at most 128 connections of the gateway, not 600', async () => {
    for (let i = 0; i < 100 && backend!.answers() < 120; i++) await sleep(100);
    await sleep(2000);
    assert.ok(backend!.answers() >= 120, `${backend!.answers()} ping answers reached the backend`);
    // The event stream, the initialize POSTs' keep-alive connection(s), and at most 128 for the POSTs.
    assert.ok(backend!.peak() <= 130, `the gateway held ${backend!.peak()} connections to the backend at once`);
  });
});
