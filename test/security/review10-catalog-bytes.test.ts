/**
 * Attack: a backend lists its tools over many large pages.
 *
 * Each page was bounded (a backend message is at most 64 MiB) and a list at most 100 pages,
 * but nothing bounded their sum: a hostile backend could make the gateway read and hold
 * 100 pages of 64 MiB (6.4 GB) for one list. A list is now refused past 64 MiB over all its
 * pages, at the page that crosses; that backend does not come up, and the others are served.
 * Here a real Streamable HTTP backend (node:http) answers tools/list with pages of 24 MiB,
 * each with a cursor to the next, for ever; the test notes the deepest page it was asked for.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connectClient, everythingStdio, startGateway, waitFor } from '../helpers/gateway.js';

const PAGE_BYTES = 24 * 1024 * 1024;

/** `parsed`: each answer carries a member the gateway's raw scan does not know, so the result is parsed (JSON.parse) instead of kept as bytes. */
function hostile(parsed: boolean): { server: Server; deepest: () => number } {
  // The deepest page asked for in one read of the list (a cursor leads to the next; none starts a read again).
  let deepest = 0;
  // One page's filler, made once: each answer writes it between the same head and tail.
  const filler = Buffer.alloc(PAGE_BYTES, 'x');
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (req.method !== 'POST') return void res.writeHead(405).end();
      const m = JSON.parse(body) as { id?: number; method: string; params?: { cursor?: string } };
      if (m.id === undefined) return void res.writeHead(202).end();
      const headers = { 'content-type': 'application/json', 'mcp-session-id': 's1' };
      if (m.method === 'initialize') {
        res.writeHead(200, headers);
        return void res.end(
          JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'h', version: '1' } } }),
        );
      }
      if (m.method === 'tools/list') {
        const n = m.params?.cursor ? Number(m.params.cursor) + 1 : 1;
        deepest = Math.max(deepest, n);
        res.writeHead(200, headers);
        res.write(
          `{"jsonrpc":"2.0","id":${m.id},${parsed ? '"x-extra":1,' : ''}"result":{"nextCursor":"${n}","tools":[{"name":"t${n}","inputSchema":{"type":"object"},"description":"`,
        );
        res.write(filler);
        return void res.end('"}]}}');
      }
      res.writeHead(200, headers);
      res.end(JSON.stringify({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'Method not found' } }));
    });
  });
  return { server, deepest: () => deepest };
}

describe('review10: a backend listing its tools over many large pages', () => {
  const hosts = { big: hostile(false), parsed: hostile(true) };
  let gw: Awaited<ReturnType<typeof startGateway>>;
  before(async () => {
    const url = async (h: ReturnType<typeof hostile>) => {
      await new Promise<void>((r) => h.server.listen(0, '127.0.0.1', r));
      return `http://127.0.0.1:${(h.server.address() as AddressInfo).port}/mcp`;
    };
    gw = await startGateway({
      backends: {
        big: { type: 'mcp', url: await url(hosts.big), protocol: 'stateful' },
        parsed: { type: 'mcp', url: await url(hosts.parsed), protocol: 'stateful' },
        everything: everythingStdio(),
      },
    });
  });
  after(async () => {
    await gw?.close();
    for (const h of Object.values(hosts)) h.server.close();
  });

  it('refuses the list past 64 MiB over its pages, reads no page past the one that crossed, and serves the other backends', async () => {
    const health = async (name: string) =>
      ((await (await fetch(`${gw.base}/health`)).json()) as { backends: Array<{ name: string; state: string }> }).backends.find((b) => b.name === name);
    // Whether the gateway keeps a result as bytes or parses it, the bound holds.
    for (const name of ['big', 'parsed'] as const) {
      const b = await waitFor(async () => {
        const x = await health(name);
        return x && JSON.stringify(x).includes('bytes of tools') ? x : undefined;
      }, `backend ${name} refused, saying why`);
      assert.notEqual(b.state, 'up');
      assert.match(JSON.stringify(b), new RegExp(`backend \\\\"${name}\\\\" lists more than 67108864 bytes of tools over 3 pages`));
      // 24 MiB a page: the third crosses 64 MiB, and no read of the list (the gateway tries again later) goes past it.
      assert.equal(hosts[name].deepest(), 3, name);
    }
    const c = await connectClient(gw.url);
    try {
      const names = (await c.listTools()).tools.map((t) => t.name);
      assert.ok(names.includes('everything__echo'));
      assert.ok(!names.some((n) => n.startsWith('big__') || n.startsWith('parsed__')));
    } finally {
      await c.close();
    }
  });
});

describe('review10: a backend refusing initialize with a 1 MiB error message', () => {
  // Its whole text became the replica's last error: in /health, in the log, and in every refusal a client got while it was down.
  const loud = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const m = JSON.parse(body) as { id?: number };
      if (m.id === undefined) return void res.writeHead(202).end();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: m.id, error: { code: -32603, message: `refused ${'y'.repeat(1024 * 1024)}` } }));
    });
  });
  let gw: Awaited<ReturnType<typeof startGateway>>;
  before(async () => {
    await new Promise<void>((r) => loud.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(loud.address() as AddressInfo).port}/mcp`;
    gw = await startGateway({ backends: { loud: { type: 'mcp', url, protocol: 'stateful' } } });
  });
  after(async () => {
    await gw?.close();
    loud.close();
  });

  it('keeps 1,000 characters of it as the last error (in /health, the log, and the refusals of calls while the backend is down)', async () => {
    const b = await waitFor(async () => {
      const all = ((await (await fetch(`${gw.base}/health`)).json()) as { backends: Array<{ name: string; error?: string; replicas?: Array<{ error?: string }> }> }).backends;
      const x = all.find((y) => y.name === 'loud');
      return x && JSON.stringify(x).includes('refused y') ? x : undefined;
    }, 'the refusal in /health');
    const errors = JSON.stringify(b).match(/refused y+/g) ?? [];
    assert.ok(errors.length > 0);
    for (const e of errors) assert.ok(e.length <= 1000, `an error of ${e.length} characters in /health`);
  });
});
