/**
 * Attack on the `_meta` envelope (2026-07-28 review), as one MCP client: a stateless
 * client's call to a stateful backend runs on a backend session pooled per declared
 * capability set (upstream/session-pool.ts), and the capability set is whatever JSON the
 * client puts in `io.modelcontextprotocol/clientCapabilities`. Each new set opened a
 * backend session, and each backend session kept a GET stream open on the origin's one
 * undici pool of 128 connections (http-transport.ts). About 127 tiny requests, each
 * declaring `{"x-<n>": {}}`, took every connection: from then on every call to that
 * backend, from every client, waited for a connection until the sessions idled out (the
 * backend's idle_timeout, 10 minutes). 127 ordinary stateful clients did the same. GET
 * streams now have a pool of their own, so they cannot starve the calls.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MCP_HEADERS, startEverythingHttp, startGateway } from '../helpers/gateway.js';

const SETS = 140;

describe('stateless _meta: capability sets cannot take every connection to an HTTP backend', { timeout: 60_000 }, () => {
  let backend: Awaited<ReturnType<typeof startEverythingHttp>>;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  before(async () => {
    backend = await startEverythingHttp();
    gw = await startGateway({ backends: { ev: { type: 'mcp', url: backend.url } } });
  });
  after(async () => {
    // The backend first: with the pool taken (the bug), the gateway's DELETEs on close would wait for a connection too.
    await backend?.stop();
    await gw?.close();
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
});
