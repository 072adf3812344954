/**
 * Rate limits inside a session: backend- and tool-scope buckets answer a JSON-RPC error
 * carrying the retry delay, per session, without touching other tools or sessions.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, ROOT, startGateway, textOf } from '../helpers/gateway.js';
import { join } from 'node:path';

const HELLO = join(ROOT, 'examples/plugins/hello-plugin.mjs');

describe('session-level rate limits', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let a: Client;
  let b: Client;

  before(async () => {
    gw = await startGateway({
      plugins: [{ name: 'hello', module: HELLO, config: {} }],
      rate_limits: { rules: [{ scope: 'tool', match: 'hello__greet', key: 'session', rate: 0.5, burst: 2 }] },
    });
    a = await connectClient(gw.url);
    b = await connectClient(gw.url);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await gw?.close();
  });

  it('a tool-scope rule answers a JSON-RPC error with the retry delay once the burst is spent', async () => {
    for (let i = 0; i < 2; i++) assert.match(textOf(await a.callTool({ name: 'hello__greet', arguments: { name: 'x' } })), /x/);
    const err = await a.callTool({ name: 'hello__greet', arguments: { name: 'x' } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof McpError, String(err));
    assert.equal(err.code, -32029);
    const data = err.data as { mcpegCode: string; retryAfterMs: number; scope: string };
    assert.equal(data.mcpegCode, 'MCPEG_ERR_RATE_LIMITED');
    assert.equal(data.scope, 'tool');
    assert.ok(data.retryAfterMs > 0 && data.retryAfterMs <= 2000, `retryAfterMs ${data.retryAfterMs}`);
    assert.match(err.message, /rate limit exceeded for tool "hello__greet"/);
  });

  it('other tools and other sessions keep their own budgets', async () => {
    const other = await a.callTool({ name: 'hello__fail', arguments: {} });
    assert.equal(other.isError, true, 'hello__fail runs (and fails as designed), it is not rate limited');
    assert.match(textOf(await b.callTool({ name: 'hello__greet', arguments: { name: 'y' } })), /y/);
  });
});

describe('backend-scope rate limit', () => {
  it('counts every call to the backend, whatever the tool', async () => {
    const gw = await startGateway({
      plugins: [{ name: 'hello', module: HELLO, config: {} }],
      rate_limits: { rules: [{ scope: 'backend', match: '*', key: 'global', rate: 0.1, burst: 1 }] },
    });
    try {
      const c = await connectClient(gw.url);
      await c.callTool({ name: 'hello__greet', arguments: { name: 'z' } });
      await assert.rejects(c.callTool({ name: 'hello__fail', arguments: {} }), (e: McpError) => e.code === -32029 && /backend "hello"/.test(e.message));
      await c.close();
    } finally {
      await gw.close();
    }
  });
});

describe('session-keyed rules and stateless (2026-07-28) clients', () => {
  // Attack: a stateless request's session lives for that request only (a new id each time), so a
  // `key: session` rule gave every request a fresh bucket and never refused. A stateless client has
  // no session: as the docs say of a caller without what the rule keys on, it shares its address's bucket.
  it('counts a stateless client by its address: its requests share one bucket', async () => {
    const gw = await startGateway({
      plugins: [{ name: 'hello', module: HELLO, config: {} }],
      rate_limits: { rules: [{ scope: 'tool', match: 'hello__greet', key: 'session', rate: 0.1, burst: 2 }] },
    });
    try {
      const call = async () => {
        const res = await fetch(gw.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'mcp-protocol-version': '2026-07-28',
            'mcp-method': 'tools/call',
            'mcp-name': 'hello__greet',
          },
          body: JSON.stringify({
            jsonrpc: '2.0',
            id: 1,
            method: 'tools/call',
            params: {
              name: 'hello__greet',
              arguments: { name: 'z' },
              _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} },
            },
          }),
        });
        return (await res.json()) as { result?: unknown; error?: { code: number; data?: { mcpegCode?: string } } };
      };
      for (let i = 0; i < 2; i++) assert.ok((await call()).result, `call ${i + 1} within the burst`);
      const third = await call();
      assert.equal(third.error?.code, -32029, `the third call is refused: ${JSON.stringify(third)}`);
      assert.equal(third.error?.data?.mcpegCode, 'MCPEG_ERR_RATE_LIMITED');
    } finally {
      await gw.close();
    }
  });
});
