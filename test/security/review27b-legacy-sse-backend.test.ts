/**
 * Review 27b (hostile backends): a legacy HTTP+SSE MCP server (`transport: sse`) is read
 * through the SDK's SSE client, whose fetch (undici's) inflates whatever Content-Encoding
 * the backend names. The client read a POST's error answer whole for its message, and its
 * EventSource kept an event's text until the blank line ending it, with no bound:
 * - a call answered HTTP 500 with 1 GiB of zeros in 1 MB of gzip grew the gateway by ~950 MB
 *   (and ~7 s of CPU) per call;
 * - an event that never ends (`data: xxxx…`, gzip on the wire) grew the gateway by as much
 *   as the backend sent, for as long as it sent (~900 MB for 2 MB of gzip);
 * - a POST never answered held its socket for undici's 300 s after its call had timed out:
 *   one more socket per call, as many as clients called.
 * Now the error answer is read up to 4 KiB and an event up to 64 MiB (a backend message's
 * bound); past that the connection ends, the call fails at once and the backend reconnects.
 * A POST is given the backend's longest call timeout, its answer included.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createGzip, type Gzip } from 'node:zlib';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, spawnGateway, stopGateway, textOf, type GatewayProcess } from '../helpers/gateway.js';

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** `total` bytes of zeros, gzipped (about 1,000 to 1). */
async function gzipBomb(total: number): Promise<Buffer> {
  const gz = createGzip({ level: 9 });
  const parts: Buffer[] = [];
  gz.on('data', (c: Buffer) => parts.push(c));
  const chunk = Buffer.alloc(16 << 20);
  for (let sent = 0; sent < total; sent += chunk.length) if (!gz.write(chunk)) await new Promise((r) => gz.once('drain', r));
  await new Promise((r) => gz.end(r));
  return Buffer.concat(parts);
}

/**
 * A legacy SSE MCP server whose streams are gzip. Tool `bomb_post`: its POST answered 500 with
 * `bomb`; `endless`: an event opened on the stream and never ended; `echo`: an ordinary answer.
 */
async function hostileSseBackend(bomb: Buffer) {
  const streams = new Map<string, { send(s: string): void; gz: Gzip; res: ServerResponse }>();
  let sessions = 0;
  let endlessSent = 0;
  let endlessClosed = false;
  const stalled = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const u = new URL(req.url!, 'http://x');
    if (req.method === 'GET' && u.pathname === '/sse') {
      const id = String(++sessions);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' });
      const gz = createGzip({ level: 1 });
      gz.pipe(res);
      const send = (s: string) => {
        gz.write(s);
        gz.flush();
      };
      streams.set(id, { send, gz, res });
      res.on('close', () => {
        streams.delete(id);
        gz.destroy();
      });
      send(`event: endpoint\ndata: /messages?sessionId=${id}\n\n`);
      return;
    }
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const m = JSON.parse(body) as { id?: number; method?: string; params?: { name?: string; protocolVersion?: string } };
      if (m.method === 'tools/call' && m.params?.name === 'bomb_post') {
        res.writeHead(500, { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'content-length': bomb.length }).end(bomb);
        return;
      }
      if (m.method === 'tools/call' && m.params?.name === 'stall') {
        // Never answered: the socket stays until the gateway lets it go.
        stalled.add(res);
        res.on('close', () => stalled.delete(res));
        return;
      }
      res.writeHead(202).end('Accepted');
      const s = streams.get(u.searchParams.get('sessionId') ?? '');
      if (!s) return;
      const reply = (result: unknown) => s.send(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: m.id, result })}\n\n`);
      if (m.method === 'initialize') reply({ protocolVersion: m.params?.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'hostile', version: '1' } });
      else if (m.method === 'tools/list') reply({ tools: ['bomb_post', 'endless', 'stall', 'echo'].map((name) => ({ name, inputSchema: { type: 'object' } })) });
      else if (m.method === 'tools/call' && m.params?.name === 'echo') reply({ content: [{ type: 'text', text: 'still served' }] });
      else if (m.method === 'tools/call' && m.params?.name === 'endless') {
        s.send('event: message\ndata: ');
        const chunk = Buffer.alloc(4 << 20, 0x78);
        // Up to 1.5 GiB, as fast as the gateway takes it: a few MB on the wire.
        const pump = () => {
          while (endlessSent < 1.5 * 2 ** 30 && !s.res.destroyed) {
            endlessSent += chunk.length;
            if (!s.gz.write(chunk)) return void s.gz.once('drain', pump);
          }
        };
        pump();
        s.res.on('close', () => (endlessClosed = true));
      } else if (m.id !== undefined && m.method) reply({});
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/sse`,
    endlessSent: () => endlessSent,
    endlessClosed: () => endlessClosed,
    stalled: () => stalled.size,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

describe('review 27b: a hostile legacy SSE backend', { timeout: 180_000 }, () => {
  let backend: Awaited<ReturnType<typeof hostileSseBackend>> | undefined;
  let gw: GatewayProcess | undefined;
  let client: Client | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'mcpeg-27b-'));

  before(async () => {
    backend = await hostileSseBackend(await gzipBomb(2 ** 30));
    const config = join(dir, 'mcpeg.json');
    writeFileSync(config, JSON.stringify({ server: { host: '127.0.0.1', port: 0 }, backends: { h: { type: 'mcp', url: backend.url, transport: 'sse', timeout: '6s' } } }));
    gw = await spawnGateway(config);
    client = await connectClient(gw.url);
  });
  after(async () => {
    await client?.close();
    await stopGateway(gw);
    await backend?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const echo = async () => textOf(await client!.callTool({ name: 'h__echo', arguments: {} }));

  it('reads 4 KiB of an error answer, not the 1 GiB its 1 MB of gzip inflates to', async () => {
    assert.equal(await echo(), 'still served');
    const before = rssMb(gw!.proc.pid!);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(gw!.proc.pid!))), 50);
    const start = Date.now();
    try {
      const err = await client!.callTool({ name: 'h__bomb_post', arguments: {} }).then(
        () => undefined,
        (e: Error) => e,
      );
      assert.match(String(err?.message), /HTTP 500/);
      assert.ok(Date.now() - start < 5000, `the call failed after ${Date.now() - start} ms`);
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, rssMb(gw!.proc.pid!));
    assert.ok(peak - before < 200, `the gateway grew by ${Math.round(peak - before)} MB`);
    assert.equal(await echo(), 'still served');
  });

  it('ends the connection at an event past 64 MiB, not after all the backend sends', async () => {
    const before = rssMb(gw!.proc.pid!);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(gw!.proc.pid!))), 50);
    const start = Date.now();
    try {
      const err = await client!.callTool({ name: 'h__endless', arguments: {} }).then(
        () => undefined,
        (e: Error) => e,
      );
      assert.match(String(err?.message), /larger than 67108864 bytes/);
      assert.ok(Date.now() - start < 20_000, `the call failed after ${Date.now() - start} ms`);
    } finally {
      clearInterval(sampler);
    }
    // The gateway closes that stream (the backend may have put more in the sockets' buffers than the gateway read).
    const closing = Date.now() + 10_000;
    while (!backend!.endlessClosed()) {
      assert.ok(Date.now() < closing, `the stream is still open after ${backend!.endlessSent() >> 20} MiB`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(peak - before < 300, `the gateway grew by ${Math.round(peak - before)} MB`);
    // The backend connects again and serves.
    const end = Date.now() + 15_000;
    for (;;) {
      const r = await echo().catch((e: Error) => e.message);
      if (r === 'still served') break;
      assert.ok(Date.now() < end, `not served again: ${r}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  it('lets go of a POST the backend never answers, after the call timeout of its backend', async () => {
    const calls = Array.from({ length: 10 }, () =>
      client!.callTool({ name: 'h__stall', arguments: {} }).then(
        () => 'answered',
        (e: Error) => e.message,
      ),
    );
    for (const r of await Promise.all(calls)) assert.match(r, /did not answer tools\/call within 6000 ms/);
    // The POSTs' sockets go within a few seconds of the timeouts (undici alone kept them 300 s).
    const end = Date.now() + 8000;
    while (backend!.stalled() > 0) {
      assert.ok(Date.now() < end, `${backend!.stalled()} POSTs still held`);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(await echo(), 'still served');
  });
});
