/**
 * Sessions beyond one process and one backend transport: a session served by a second
 * gateway instance through a shared session store, idle backend sessions closed,
 * cursor pagination, a legacy SSE backend found by `transport: auto`, and configured
 * backend headers sent while the client's own credentials are not.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { after, describe, it } from 'node:test';
import { MemorySessionStore } from '../../src/protocol/session-store.js';
import { validateConfig } from '../../src/config/load.js';
import { createGateway } from '../../src/gateway.js';
import { silentLogger } from '../../src/observability/logger.js';
import { answerOf, connectClient, everythingStdio, rawSession, startEverythingHttp, startGateway, textOf, waitFor } from '../helpers/gateway.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

describe('sessions', () => {
  it('serves a session created on one instance from another instance sharing the store', async () => {
    const store = new MemorySessionStore();
    const cfg = validateConfig({ server: { port: 0 }, backends: { everything: everythingStdio() } }, 'test');
    const a = createGateway(cfg, { logger: silentLogger(), sessionStore: store });
    const b = createGateway(cfg, { logger: silentLogger(), sessionStore: store });
    cleanups.push(
      () => a.close(),
      () => b.close(),
    );
    const [ua, ub] = [await a.listen(), await b.listen()];
    const s = await rawSession(ua.url);
    const onB = await fetch(ub.url, {
      method: 'POST',
      headers: s.headers,
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'everything__echo', arguments: { message: 'from b' } } }),
    });
    assert.equal(onB.status, 200);
    const body = await answerOf(onB, 1);
    assert.equal(textOf(body.result), 'Echo: from b');
    // Ending it on one instance removes it from the store.
    await fetch(ub.url, { method: 'DELETE', headers: s.headers });
    assert.equal(await store.get(s.sessionId), undefined);
  });

  it('does not expire a session whose connection is still open (legacy SSE, stdio)', async () => {
    const gw = await startGateway({ server: { session_idle_timeout: '1s' }, backends: { everything: everythingStdio() } });
    cleanups.push(() => gw.close());
    const client = await connectClient(`${gw.base}/sse`, { transport: 'sse' });
    cleanups.push(() => client.close());
    await client.callTool({ name: 'everything__echo', arguments: { message: 'a' } });
    await new Promise((r) => setTimeout(r, 2600));
    assert.equal(gw.gw.sessions.size, 1);
    assert.equal(textOf(await client.callTool({ name: 'everything__echo', arguments: { message: 'b' } })), 'Echo: b');
  });

  it('expires a Streamable HTTP session left idle with no stream open', async () => {
    const gw = await startGateway({ server: { session_idle_timeout: '1s' }, backends: { everything: everythingStdio() } });
    cleanups.push(() => gw.close());
    const s = await rawSession(gw.url);
    await waitFor(() => gw.gw.sessions.size === 0, 'the idle session to expire', 5000);
    assert.equal((await s.post({ jsonrpc: '2.0', id: 1, method: 'ping' })).status, 404);
  });

  it('closes idle backend sessions and reopens them on the next call', async () => {
    const gw = await startGateway({ server: { session_idle_timeout: '5m' }, backends: { everything: everythingStdio({ idle_timeout: '300ms' }) } });
    cleanups.push(() => gw.close());
    const b = gw.gw.registry.backend('everything')!;
    const s = await rawSession(gw.url);
    const call = () => s.post({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'everything__echo', arguments: { message: 'x' } } });
    await call();
    assert.equal(b.pids().length, 2);
    await waitFor(() => b.pids().length === 1, 'the idle backend session to close', 5000);
    assert.equal((await call()).status, 200);
    assert.equal(b.pids().length, 2);
  });

  it('paginates lists with opaque cursors when list_page_size is set', async () => {
    const gw = await startGateway({ server: { list_page_size: 5 }, backends: { everything: everythingStdio() } });
    cleanups.push(() => gw.close());
    const client = await connectClient(gw.url);
    cleanups.push(() => client.close());
    const names: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await client.listTools(cursor ? { cursor } : {});
      assert.ok(page.tools.length <= 5);
      names.push(...page.tools.map((t) => t.name));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    assert.equal(names.length, gw.gw.registry.view('aggregate')!.tools.length);
    assert.equal(new Set(names).size, names.length);
    assert.ok(pages >= 3);
    await assert.rejects(client.listTools({ cursor: 'bogus!' }), /invalid cursor/);
  });
});

describe('backend transports', () => {
  it('falls back to legacy SSE with transport: auto', async () => {
    const sse = await startEverythingHttp('sse');
    cleanups.push(() => sse.stop());
    const gw = await startGateway({ backends: { old: { type: 'mcp', url: sse.url, transport: 'auto' } } });
    cleanups.push(() => gw.close());
    assert.equal(gw.gw.registry.backend('old')!.transportKind, 'sse');
    const client = await connectClient(gw.url);
    cleanups.push(() => client.close());
    assert.equal(textOf(await client.callTool({ name: 'old__echo', arguments: { message: 'over sse' } })), 'Echo: over sse');
  });

  it("sends configured backend headers and never the client's Authorization", async () => {
    const seen: IncomingHttpHeaders[] = [];
    const backend = createServer((req, res) => {
      seen.push(req.headers);
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        if (req.method !== 'POST') return void res.writeHead(405).end();
        const msg = JSON.parse(body);
        if (msg.id === undefined) return void res.writeHead(202).end();
        const result =
          msg.method === 'initialize'
            ? { protocolVersion: msg.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'hdr', version: '1' } }
            : msg.method === 'tools/list'
              ? { tools: [{ name: 'who', inputSchema: { type: 'object' } }] }
              : { content: [{ type: 'text', text: 'ok' }] };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
      });
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => backend.close(r)));
    const port = (backend.address() as { port: number }).port;
    const gw = await startGateway({ backends: { hdr: { type: 'mcp', url: `http://127.0.0.1:${port}/mcp`, headers: { 'x-api-key': 'k-123' } } } });
    cleanups.push(() => gw.close());
    const s = await rawSession(gw.url);
    const res = await s.post(
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'hdr__who', arguments: {} } },
      { headers: { ...s.headers, authorization: 'Bearer client-secret' } },
    );
    assert.equal(res.status, 200);
    assert.ok(seen.length >= 3);
    assert.ok(seen.every((h) => h['x-api-key'] === 'k-123'));
    assert.ok(
      seen.every((h) => h.authorization === undefined),
      'the client token never reaches the backend',
    );
  });
});
