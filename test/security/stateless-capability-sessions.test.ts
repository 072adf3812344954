/**
 * Attack on the `_meta` envelope (2026-07-28 review), as one MCP client: a stateless
 * client's call to a stateful backend runs on a backend session pooled per declared
 * capability set (upstream/session-pool.ts), and the capability set is whatever JSON the
 * client puts in `io.modelcontextprotocol/clientCapabilities`.
 *
 * - Each new set opened a backend session, and each backend session kept a GET stream
 *   open on the origin's one undici pool of 128 connections (http-transport.ts). About
 *   127 tiny requests, each declaring `{"x-<n>": {}}`, took every connection: from then
 *   on every call to that backend, from every client, waited for a connection until the
 *   sessions idled out (the backend's idle_timeout, 10 minutes). GET streams now have a
 *   pool of their own.
 * - Nothing bounded the sets: one backend session per request, each holding its set (up
 *   to the 4 MiB body: 60 requests of 3 MB kept 250 MB) for the idle_timeout, until the
 *   gateway ran out of memory. Now at most MAX_SETS sets hold sessions per replica (the
 *   least recently used idle one is closed for a new one), and a set larger than
 *   MAX_CLIENT_DECLARATION_CHARS is refused before any session is opened.
 */
import assert from 'node:assert/strict';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MCP_HEADERS, startEverythingHttp, startGateway } from '../helpers/gateway.js';
import { MAX_SETS } from '../../src/upstream/session-pool.js';
import { MAX_CLIENT_DECLARATION_CHARS } from '../../src/wire/declarations.js';

// Past the 128 connections of an origin's pool (the GET streams' test) and past MAX_SETS (the eviction's).
const SETS = Math.max(140, MAX_SETS + 20);

describe('stateless _meta: declared capability sets cannot exhaust the gateway or its connections to a backend', { timeout: 60_000 }, () => {
  let backend: Awaited<ReturnType<typeof startEverythingHttp>>;
  let proxy: Server;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  /** Backend sessions opened (initialize answered with a session id) and ended (DELETE), as the backend saw them. */
  const opened = new Set<string>();
  const ended = new Set<string>();
  const live = () => [...opened].filter((id) => !ended.has(id)).length;

  before(async () => {
    backend = await startEverythingHttp();
    const target = new URL(backend.url);
    proxy = createServer((req, res) => {
      if (req.method === 'DELETE') ended.add(String(req.headers['mcp-session-id']));
      const up = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers as IncomingHttpHeaders }, (r) => {
        const id = r.headers['mcp-session-id'];
        if (req.method === 'POST' && typeof id === 'string') opened.add(id);
        // Headers on at once, as a proxy passes them (node holds them until the first body byte): the gateway waits
        // for its GET stream's answer when it opens a backend session (connection.ts), and an SSE stream's first byte
        // may never come.
        res.writeHead(r.statusCode ?? 502, r.headers).flushHeaders();
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    gw = await startGateway({ backends: { ev: { type: 'mcp', url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/mcp` } } });
  });
  after(async () => {
    // The backend and the hop first: with the pool taken (the bug), the gateway's DELETEs on close would wait for a connection too.
    await backend?.stop();
    const closed = new Promise((r) => proxy?.close(r));
    proxy?.closeAllConnections();
    await gw?.close();
    await closed;
  });

  const echo = async (capabilities: Record<string, unknown>, message: string): Promise<string> => {
    const res = await fetch(gw.url, {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'ev__echo' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: {
          name: 'ev__echo',
          arguments: { message },
          _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': capabilities },
        },
      }),
      signal: AbortSignal.timeout(5000),
    });
    const body = (await res.json()) as { result?: { content?: { text?: string }[] } };
    return body.result?.content?.[0]?.text ?? JSON.stringify(body);
  };

  it(`${SETS} capability sets from one client, then another client's call is answered at once`, async () => {
    for (let i = 0; i < SETS; i++) {
      const got = await echo({ [`x-${i}`]: {} }, `set ${i}`).catch((err: Error) => `${err.name} (the ${i}th capability set waited for a connection)`);
      assert.equal(got, `Echo: set ${i}`);
    }
    const started = Date.now();
    assert.equal(await echo({ sampling: {} }, 'victim'), 'Echo: victim');
    assert.ok(Date.now() - started < 2000, `the other client waited ${Date.now() - started} ms`);
  });

  it(`holds backend sessions for at most ${MAX_SETS} capability sets`, async () => {
    for (let i = 0; i < SETS; i++) assert.equal(await echo({ [`y-${i}`]: {} }, `set ${i}`), `Echo: set ${i}`);
    // Evicted sets' sessions end with a DELETE, sent as they close.
    for (let i = 0; i < 40 && live() > MAX_SETS + 1; i++) await sleep(50);
    assert.ok(opened.size >= 2 * SETS, `sessions opened: ${opened.size}`);
    // +1: the replica's catalog session.
    assert.ok(live() <= MAX_SETS + 1, `${live()} backend sessions still open for one client's capability sets`);
  });

  it('refuses a capability set too large to hold, before opening a session for it', async () => {
    const before = opened.size;
    const got = await echo({ 'x-big': 'a'.repeat(MAX_CLIENT_DECLARATION_CHARS) }, 'big');
    assert.match(got, /"code":-32602/);
    // Refused where the envelope is read (wire/declarations.ts), before any session is looked for.
    assert.match(got, /clientCapabilities is too large/);
    assert.equal(opened.size, before, 'a backend session was opened for it');
  });
});
